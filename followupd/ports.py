"""The calendar and the mailbox a pass works with, and the guard around each part.

A backend is opened on first use and dropped after a failure, so the next pass opens
it afresh. Each part of a pass runs under `guard`: a failure becomes a problem in
the store's health table and the pass report, logged once however many passes it
lasts, and the rest of the pass goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from followupd.calendars import CalendarSource
from followupd.errors import AuthError, FollowupdError, TransientError
from followupd.mailboxes import Mailbox
from followupd.report import Notice, PassReport, kind
from followupd.store import Store

log = logging.getLogger(__name__)


class Ports:
    def __init__(self, store: Store, calendar: Callable[[], CalendarSource], mailbox: Callable[[], Mailbox]) -> None:
        self.store = store
        self._calendar_factory = calendar
        self._mailbox_factory = mailbox
        self._calendar: CalendarSource | None = None
        self._mailbox: Mailbox | None = None
        self._warned: set[str] = set()

    def calendar(self) -> CalendarSource:
        if self._calendar is None:
            self._calendar = self._calendar_factory()
        return self._calendar

    def mailbox(self) -> Mailbox:
        if self._mailbox is None:
            self._mailbox = self._mailbox_factory()
        return self._mailbox

    @property
    def open_mailbox(self) -> Mailbox | None:
        return self._mailbox

    def guard(self, component: str, label: str, report: PassReport, work: Callable[[], None]) -> bool:
        try:
            work()
        except FollowupdError as exc:
            self.problem(component, kind(exc), f"{label}: {exc}", report)
            if component == "mailbox" and not isinstance(exc, (TransientError, AuthError)):
                self.drop("mailbox")
            return False
        except Exception as exc:  # noqa: BLE001 - a bug in one part must not stop the rest
            log.debug("unexpected error in the %s step", component, exc_info=True)
            self.problem(component, "error", f"{label}: unexpected {type(exc).__name__}: {exc}", report)
            self.drop(component)
            return False
        if self.store.clear_health(component):
            log.info("%s is working again", label)
        return True

    def problem(self, component: str, kind_: str, message: str, report: PassReport) -> None:
        report.problems.append((kind_, message))
        if self.store.set_health(component, kind_, message, report.now):
            log.log(logging.WARNING if kind_ == "transient" else logging.ERROR, "%s", message)
            if kind_ == "auth":
                report.notices.append(Notice("reauthorise", message))
            elif kind_ != "transient":  # an outage passes by itself; this needs the user
                report.notices.append(Notice("problem", message))
        else:
            log.debug("still failing: %s", message)
            report.repeated.append(message)

    def drop(self, component: str) -> None:
        """Close and forget a backend (after a failure, the next pass opens it afresh)."""
        attribute = f"_{component}"
        backend = getattr(self, attribute)
        setattr(self, attribute, None)
        if backend is not None:
            try:
                backend.close()
            except Exception:  # noqa: BLE001 - closing must not mask the real outcome
                log.debug("closing %s failed", backend.label, exc_info=True)

    def close(self) -> None:
        self.drop("calendar")
        self.drop("mailbox")

    def warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)
