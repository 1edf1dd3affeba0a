"""An iCalendar file on disk or behind an http(s) URL (a "secret address" feed)."""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from followupd import __version__
from followupd.calendars import CalendarChanges, CalendarSource, TimeRange
from followupd.calendars.ical import Attendance, events_in, overlaps, parse_calendar, prune
from followupd.errors import BackendError, ConfigError, Problem, TransientError
from followupd.model import Event
from followupd.urls import redact

if TYPE_CHECKING:
    from followupd.config import Config, IcsSettings
    from followupd.secrets import SecretStore

DAY = timedelta(days=1)


@dataclass(frozen=True)
class _Memo:
    raw_key: tuple[bytes, TimeRange]  # the file as read
    key: tuple[bytes, TimeRange]  # the events' text that was parsed
    events: list[Event]
    problems: list[Problem]


class IcsSource(CalendarSource):
    def __init__(
        self, config: Config, secrets: SecretStore | None = None, *, relevant: Callable[[str], bool] | None = None
    ) -> None:
        self.settings: IcsSettings = config.calendar  # type: ignore[assignment]
        self.zone = config.me.timezone
        self.label = self.settings.label
        self._memo: _Memo | None = None
        # Only events that could be interviews are worth icalendar's (slow) parse: the
        # wiring passes the detector's keyword pre-check; without one every event is.
        self.relevant = relevant or _anything
        # UIDs the user tracks (`followupd track`) are parsed whatever the pre-check says.
        self.tracked: frozenset[str] = frozenset()
        self.attendance = Attendance(config.me.addresses, config.detect.require_accepted)

    def keep(self, uids: frozenset[str]) -> None:
        """Also parse events with these UIDs (the user's `followupd track`), keyword or not."""
        if uids != self.tracked:
            self.tracked = uids
            self._memo = None

    def _worth_parsing(self, ical_text: str) -> bool:
        if self.tracked:
            unfolded = ical_text.replace("\r\n ", "").replace("\r\n\t", "").replace("\n ", "").replace("\n\t", "")
            if any(uid in unfolded for uid in self.tracked):
                return True
        return self.relevant(ical_text)

    def fetch(self, cursor: str | None, span: TimeRange) -> CalendarChanges:
        # The events of whole days around the span are remembered with the text they
        # came from: while the file (or, for a feed that re-stamps every download, its
        # events) and the days stay the same, as through a daemon's day, nothing is
        # parsed again. A new file costs one pass over its text to prune it.
        data = self._read()
        wide = TimeRange(_midnight(span.start - DAY), _midnight(span.end + 2 * DAY))
        raw_key = (hashlib.sha256(data).digest(), wide)
        memo = self._memo
        if memo is None or memo.raw_key != raw_key:
            pruned = prune(data, wide, self._worth_parsing)
            key = (hashlib.sha256(pruned).digest(), wide)
            if memo is None or memo.key != key:
                try:
                    calendar = parse_calendar(pruned, self.label)
                except ValueError as exc:
                    raise BackendError(f"{exc}; check [calendar] {'url' if self.settings.url else 'path'}") from None
                memo = _Memo(raw_key, key, *events_in([calendar], wide, self.zone, self.label, self.attendance))
            self._memo = memo = replace(memo, raw_key=raw_key)
        inside = [e for e in memo.events if overlaps(e.start, e.end, span)]
        return CalendarChanges(events=inside, complete=True, problems=list(memo.problems))

    def _read(self) -> bytes:
        if self.settings.path is not None:
            try:
                return self.settings.path.read_bytes()
            except FileNotFoundError:
                raise BackendError(
                    f"calendar file {self.settings.path} does not exist; check [calendar] path"
                ) from None
            except OSError as exc:
                raise BackendError(f"cannot read calendar file {self.settings.path}: {exc.strerror}") from None
        assert self.settings.url is not None
        # The URL of a private feed is itself a secret: show only the host.
        try:
            parts = urllib.parse.urlsplit(self.settings.url)
            host = parts.hostname or "?"
            credentials = parts.username is not None or parts.password is not None
        except ValueError:
            raise _bad_url(self.settings.url, "it cannot be read as a URL") from None
        if credentials:
            raise _bad_url(
                self.settings.url, "it holds a user name or password, which followupd neither sends nor keeps"
            )
        try:
            request = urllib.request.Request(self.settings.url, headers={"User-Agent": f"followupd/{__version__}"})
            with urllib.request.urlopen(request, timeout=self.settings.timeout.total_seconds()) as response:
                return response.read()
        except (http.client.InvalidURL, ValueError) as exc:
            # the message quotes the URL's pieces (a password as a "port"): never shown
            raise _bad_url(self.settings.url, f"it is not a usable URL ({type(exc).__name__})") from None
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise TransientError(f"calendar server {host} answered HTTP {exc.code}; will retry") from None
            raise BackendError(
                f"calendar server {host} answered HTTP {exc.code} {exc.reason}; check [calendar] url"
            ) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransientError(f"cannot reach calendar server {host}: {reason}; will retry") from None


def _bad_url(url: str, why: str) -> ConfigError:
    # a feed's path can be its secret too (Google's "secret address"): the host only
    shown = redact(url).split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    return ConfigError("[calendar]", [Problem("calendar.url", f"the feed at {shown}: {why}")])


def _anything(_ical_text: str) -> bool:
    return True


def _midnight(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
