"""One pass: gather the facts from the calendar and the mailbox, let the core
(`followupd.policy`) decide, apply what it returns. Every transition is stored.

The order inside a pass matters and is deliberate:
1. calendar → interviews (so replies can be matched to interviews found just now);
2. the mailbox's facts: where the Message-IDs of steps a crashed pass left in
   `drafting` are; the state of our drafts, looked at *before* reading Sent, so a
   draft the user sends in between is seen as sent (its copy is in Sent by the time
   we read it), not as dismissed; new INBOX and Sent messages; `was_sent` for the
   drafts that left Drafts and that no Sent copy explains;
3. plan, then draft whatever is due, the intent (a deterministic Message-ID)
   recorded before the draft is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from followupd import policy
from followupd.calendars import CalendarSource, TimeRange
from followupd.clock import Clock
from followupd.compose import Composer
from followupd.config import Config, ResolvedStep
from followupd.detect import Detector
from followupd.errors import AuthError, FollowupdError, TransientError
from followupd.mailboxes import Mailbox
from followupd.model import FollowUp, Interview, InterviewRecord, State
from followupd.policy import CreateDraft, DeleteDraft, MailAction, MailFacts, Replied, Seen, Transition
from followupd.report import Notice, PassReport, Teller, kind
from followupd.store import Store

__all__ = ["LOOKAHEAD", "Engine", "Notice", "PassReport"]

log = logging.getLogger(__name__)

LOOKAHEAD = timedelta(days=60)
_READ_AT = "calendar read at"


class Engine:
    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        *,
        calendar: Callable[[], CalendarSource],
        mailbox: Callable[[], Mailbox],
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self._calendar_factory = calendar
        self._mailbox_factory = mailbox
        self._calendar: CalendarSource | None = None
        self._mailbox: Mailbox | None = None
        self.steps = {s.name: s for s in config.steps}
        self.detector = Detector(config.me, config.detect)
        self.composer = Composer(config.me, config.me.timezone, config.templates_dir)
        self.schedule = policy.Schedule(config.me.timezone, config.window.business_hours, config.window.weekdays)
        self._warned: set[str] = set()

    @property
    def mailbox(self) -> Mailbox | None:
        """The mailbox a pass opened, if it is open; the daemon asks it to push new mail."""
        return self._mailbox

    def close(self) -> None:
        self._drop("calendar")
        self._drop("mailbox")

    @property
    def settings(self) -> policy.Settings:
        c = self.config
        return policy.Settings(
            steps=c.steps,
            schedule=self.schedule,
            me=c.me.addresses,
            started=self.store.created_at,
            free_mail=c.reply.free_mail_domains,
            on_reply=c.reply.on_reply,
            dismiss_after=c.reply.dismiss_after,
            on_stale=c.reply.on_stale,
        )

    # ------------------------------------------------------------ the pass

    def run_pass(self) -> PassReport:
        now = self.clock.now()
        report = PassReport(now)
        self._guard("calendar", self.config.calendar.label, report, lambda: self._sync_calendar(now, report))
        mailbox_ok = self._guard("mailbox", self.config.mailbox.label, report, lambda: self._sync_mailbox(now, report))
        self._apply_plan(now, report, draft=mailbox_ok)
        return report

    def replan(self) -> PassReport:
        """Re-derive every step from the store alone, without touching any backend."""
        report = PassReport(self.clock.now())
        self._apply_plan(report.now, report, draft=False)
        return report

    def _guard(self, component: str, label: str, report: PassReport, work: Callable[[], None]) -> bool:
        try:
            work()
        except FollowupdError as exc:
            self._problem(component, kind(exc), f"{label}: {exc}", report)
            if component == "mailbox" and not isinstance(exc, (TransientError, AuthError)):
                self._drop("mailbox")
            return False
        except Exception as exc:  # noqa: BLE001 - a bug in one part must not stop the rest
            log.debug("unexpected error in the %s step", component, exc_info=True)
            self._problem(component, "error", f"{label}: unexpected {type(exc).__name__}: {exc}", report)
            self._drop(component)
            return False
        if self.store.clear_health(component):
            log.info("%s is working again", label)
        return True

    def _problem(self, component: str, kind_: str, message: str, report: PassReport) -> None:
        report.problems.append((kind_, message))
        if self.store.set_health(component, kind_, message, report.now):
            log.log(logging.WARNING if kind_ == "transient" else logging.ERROR, "%s", message)
            if kind_ == "auth":
                report.notices.append(Notice("reauthorise", message))
        else:
            log.debug("still failing: %s", message)
            report.repeated.append(message)

    def _drop(self, component: str) -> None:
        """Close and forget a backend (after a failure, the next pass opens it afresh)."""
        attribute = f"_{component}"
        backend = getattr(self, attribute)
        setattr(self, attribute, None)
        if backend is not None:
            try:
                backend.close()
            except Exception:  # noqa: BLE001 - closing must not mask the real outcome
                log.debug("closing %s failed", backend.label, exc_info=True)

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)

    # ------------------------------------------------------------ gather, decide, apply

    def _sync_calendar(self, now: datetime, report: PassReport) -> None:
        if self._calendar is None:
            self._calendar = self._calendar_factory()
        source = self._calendar
        # Back to the previous read, so an interview that ended while followupd was
        # not running is seen (and listed as missed), however long it was off.
        last = self.store.cursor(_READ_AT)
        since = min(now, datetime.fromisoformat(last)) if last else now
        span = TimeRange(since - self.config.steps[0].before - timedelta(days=1), now + LOOKAHEAD)
        cursor_name = f"calendar {source.label}"
        changes = source.fetch(self.store.cursor(cursor_name), span)
        records = {r.uid: r for r in self.store.interviews()}
        seen = [Seen(e.key, d.interview, d.reason) for e in changes.events for d in (self.detector.detect(e),)]
        complete = (span.start, span.end) if changes.complete else None
        actions = policy.calendar(
            records, _by_uid(self.store.followups()), seen, changes.removed, complete, self.settings
        )
        self.store.record([a for a in actions if not isinstance(a, policy.IgnoreEvent)], now)
        teller = Teller(self.config.me.timezone, report)
        for action in actions:
            record = records.get(getattr(action, "uid", ""))
            teller.calendar(action, record.interview if record else None)
        for problem in changes.problems:
            self._warn_once(str(problem))
        self.store.set_cursor(cursor_name, changes.cursor)
        self.store.set_cursor(_READ_AT, now.isoformat())

    def _sync_mailbox(self, now: datetime, report: PassReport) -> None:
        if self._mailbox is None:
            self._mailbox = self._mailbox_factory()
        mailbox = self._mailbox
        followups = self.store.followups()
        located = {f.key: mailbox.locate(f.ref.message_id) for f in followups if f.state == State.DRAFTING}
        drafts = {f.key: mailbox.draft_state(f.ref) for f in followups if f.state == State.DRAFTED}
        records = self.store.interviews()
        by_uid = _by_uid(followups)
        waiting = [r for r in records if policy.active(r, by_uid.get(r.uid, []), len(self.steps))]
        cursor_name = f"mailbox {mailbox.label}"
        changes = mailbox.changes(
            self.store.cursor(cursor_name), min((r.interview.start for r in waiting), default=now)
        )
        for line in changes.skipped:
            self._warn_once(f"{mailbox.label}: {line}")
        keyed = {f.key: f for f in followups}
        verdicts = {
            key: mailbox.was_sent(keyed[key].ref, keyed[key].drafted_at or now)
            for key in policy.questions(followups, drafts, changes.messages)
        }
        facts = MailFacts(located, drafts, changes.messages, verdicts)
        self._apply(mailbox, policy.reconcile(records, followups, facts, self.settings, now), records, now, report)
        self.store.set_cursor(cursor_name, changes.cursor)

    def _apply(
        self,
        mailbox: Mailbox,
        actions: Sequence[MailAction],
        records: Sequence[InterviewRecord],
        now: datetime,
        report: PassReport,
    ) -> None:
        done: list[Transition | Replied] = []
        try:
            for action in actions:
                if isinstance(action, DeleteDraft):
                    done.append(action.done if mailbox.delete_draft(action.ref) else action.kept)
                else:
                    done.append(action)
        finally:
            # What was done in the mailbox is recorded even if a later delete failed.
            self.store.record(done, now)
        teller = Teller(self.config.me.timezone, report)
        interviews = {r.uid: r.interview for r in records}
        for item in done:
            if isinstance(item, Replied):
                teller.replied(item, interviews[item.uid])
            else:
                teller.transition(item, interviews[item.uid])

    def _apply_plan(self, now: datetime, report: PassReport, draft: bool) -> None:
        records = {r.uid: r for r in self.store.interviews()}
        current = {f.key: f for f in self.store.followups()}
        actions = policy.settle(policy.plan(records.values(), current, self.config.steps, self.schedule, now), current)
        transitions = [a for a in actions if isinstance(a, Transition)]
        self.store.record(transitions, now)
        teller = Teller(self.config.me.timezone, report)
        for t in transitions:
            teller.transition(t, records[t.uid].interview)
        if not draft or self._mailbox is None:
            return
        for create in (a for a in actions if isinstance(a, CreateDraft)):
            try:
                self._draft(self._mailbox, records[create.uid].interview, self.steps[create.step], now, teller)
            except (TransientError, AuthError) as exc:
                self._problem("mailbox", kind(exc), f"{self._mailbox.label}: {exc}", report)
                return  # the mailbox is down: the rest waits for the next pass
            except FollowupdError as exc:
                self._note_failure(create, kind(exc), str(exc), now, report)
            except Exception as exc:  # noqa: BLE001 - one interview must not stop the others
                log.debug("drafting failed", exc_info=True)
                self._note_failure(create, "error", f"unexpected {type(exc).__name__}: {exc}", now, report)

    def _note_failure(self, create: CreateDraft, kind_: str, message: str, now: datetime, report: PassReport) -> None:
        f = self.store.followup(create.uid, create.step)
        if f is not None:
            self.store.save_followup(f.replace(note=message), now)
        self._problem(f"draft {create.uid} {create.step}", kind_, message, report)

    def _draft(self, mailbox: Mailbox, interview: Interview, step: ResolvedStep, now: datetime, teller: Teller) -> None:
        f = self.store.followup(interview.uid, step.name)
        assert f is not None and f.state == State.PLANNED
        thread = mailbox.conversation([c.email for c in interview.contacts], interview.start)
        message = self.composer.compose(step, interview, now, thread)  # may raise ConfigError: nothing recorded
        intent = policy.intent(f, str(message["Message-ID"]))
        self.store.record([intent], now)
        located = mailbox.locate(intent.after.ref.message_id)
        if located is not None:
            result = policy.found(intent.after, located, now, "draft created")
        else:
            result = policy.drafted(intent.after, mailbox.create_draft(message, thread), now, "draft created")
        self.store.record([result], now)
        if result.new_state == State.DRAFTED:
            self.store.clear_health(f"draft {interview.uid} {step.name}")
            teller.created(result.after, interview, str(message["Subject"]))


def _by_uid(followups: Sequence[FollowUp]) -> dict[str, list[FollowUp]]:
    grouped: dict[str, list[FollowUp]] = {}
    for f in followups:
        grouped.setdefault(f.uid, []).append(f)
    return grouped
