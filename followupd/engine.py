"""One pass: read the calendar, read the mailbox, plan, draft. Every transition is stored.

The order inside a pass matters and is deliberate:
1. calendar → interviews (so replies can be matched to interviews found just now);
2. finish drafts a crashed pass left in `drafting`, by looking their Message-ID up;
3. look at our drafts *before* reading Sent, so a draft the user sends in between
   is seen as sent (its copy is in Sent by the time we read it), not as dismissed;
4. new INBOX and Sent messages → replies and sent copies;
5. plan, then draft whatever is due.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from followupd.calendars import CalendarSource, TimeRange
from followupd.clock import Clock
from followupd.compose import Composer
from followupd.config import Config, ResolvedStep
from followupd.detect import Detector
from followupd.errors import (
    EXIT_CONFIG,
    EXIT_ERROR,
    EXIT_NOPERM,
    EXIT_OK,
    EXIT_TEMPFAIL,
    AuthError,
    ConfigError,
    FollowupdError,
    TransientError,
)
from followupd.mailboxes import Mailbox
from followupd.model import DERIVED, DraftRef, DraftState, Interview, MessageInfo, State
from followupd.plan import Schedule, plan
from followupd.replies import recipients, reply_to_interview, senders
from followupd.store import FollowUp, InterviewRecord, Store

log = logging.getLogger(__name__)

LOOKAHEAD = timedelta(days=60)
_OPEN = frozenset({State.PLANNED, State.DRAFTING, State.DRAFTED, State.NEEDS_CONTACT})
_SEVERITY = {"error": EXIT_ERROR, "transient": EXIT_TEMPFAIL, "config": EXIT_CONFIG, "auth": EXIT_NOPERM}


@dataclass(frozen=True)
class Notice:
    """Something the user should hear about (see [notify] in the README)."""

    event: str  # draft-created | replied | needs-contact | reauthorise | problem
    message: str
    uid: str = ""
    subject: str = ""


@dataclass
class PassReport:
    now: datetime
    notices: list[Notice] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (kind, message)
    repeated: list[str] = field(default_factory=list)  # problems already logged by an earlier pass
    drafted: int = 0

    @property
    def exit_code(self) -> int:
        codes = [_SEVERITY[kind] for kind, _ in self.problems]
        # Re-authorisation and config problems need the user; say those first.
        for code in (EXIT_NOPERM, EXIT_CONFIG, EXIT_ERROR, EXIT_TEMPFAIL):
            if code in codes:
                return code
        return EXIT_OK


def _kind(exc: BaseException) -> str:
    if isinstance(exc, AuthError):
        return "auth"
    if isinstance(exc, TransientError):
        return "transient"
    if isinstance(exc, ConfigError):
        return "config"
    return "error"


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
        self.schedule = Schedule(config.me.timezone, config.window.business_hours, config.window.weekdays)
        self._warned: set[str] = set()

    @property
    def mailbox(self) -> Mailbox | None:
        """The mailbox a pass opened, if it is open; the daemon asks it to push new mail."""
        return self._mailbox

    def close(self) -> None:
        self._drop("calendar")
        self._drop("mailbox")

    # ------------------------------------------------------------ the pass

    def run_pass(self) -> PassReport:
        now = self.clock.now()
        report = PassReport(now)
        self._guard("calendar", self.config.calendar.label, report, lambda: self._sync_calendar(now, report))
        mailbox_ok = self._guard("mailbox", self.config.mailbox.label, report, lambda: self._sync_mailbox(now, report))
        self._apply_plan(now, report, draft=mailbox_ok)
        return report

    def _guard(self, component: str, label: str, report: PassReport, work: Callable[[], None]) -> bool:
        try:
            work()
        except FollowupdError as exc:
            self._problem(component, _kind(exc), f"{label}: {exc}", report)
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

    def _problem(self, component: str, kind: str, message: str, report: PassReport) -> None:
        report.problems.append((kind, message))
        if self.store.set_health(component, kind, message, report.now):
            log.log(logging.WARNING if kind == "transient" else logging.ERROR, "%s", message)
            if kind == "auth":
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

    @property
    def first_step(self) -> ResolvedStep:
        return self.config.steps[0]

    # ------------------------------------------------------------ calendar

    def _sync_calendar(self, now: datetime, report: PassReport) -> None:
        if self._calendar is None:
            self._calendar = self._calendar_factory()
        source = self._calendar
        span = TimeRange(now - self.first_step.before - timedelta(days=1), now + LOOKAHEAD)
        cursor_name = f"calendar {source.label}"
        changes = source.fetch(self.store.cursor(cursor_name), span)
        known = {r.uid: r for r in self.store.interviews()}
        created = self.store.created_at
        seen: set[str] = set()
        for event in changes.events:
            seen.add(event.key)
            detection = self.detector.detect(event)
            record = known.get(event.key)
            interview = detection.interview
            if interview is None:
                if record is not None and not record.interview.cancelled:
                    self.store.mark_cancelled(
                        event.key, f"it no longer looks like an interview ({detection.reason})", now
                    )
                    log.info("stopped following %s: %s", _label(record.interview, self.config), detection.reason)
                continue
            if record is None:
                if interview.cancelled:
                    log.debug("not following %r: %s", interview.title, detection.reason)
                    continue
                if interview.end + self.first_step.before < created:
                    continue  # history: its window closed before followupd started
                log.info("found interview %s with %s", _label(interview, self.config), _who(interview))
            elif record.interview == interview and (record.cancel_reason or "") == (
                detection.reason if interview.cancelled else ""
            ):
                continue
            elif interview.cancelled and not record.interview.cancelled:
                log.info(
                    "%s: %s; its planned follow-ups are cancelled", _label(interview, self.config), detection.reason
                )
            self.store.save_interview(interview, now, detection.reason)
        for key in changes.removed:
            self._cancel(known.get(key), "the event was cancelled or deleted", now)
        if changes.complete:
            for uid, record in known.items():
                iv = record.interview
                if uid not in seen and iv.end >= span.start and iv.start <= span.end:
                    self._cancel(record, "the event is no longer in the calendar", now)
        for problem in changes.problems:
            self._warn_once(str(problem))
        self.store.set_cursor(cursor_name, changes.cursor)

    def _cancel(self, record: InterviewRecord | None, reason: str, now: datetime) -> None:
        if record is not None and not record.interview.cancelled:
            self.store.mark_cancelled(record.uid, reason, now)
            log.info("%s: %s; its planned follow-ups are cancelled", _label(record.interview, self.config), reason)

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)

    # ------------------------------------------------------------ mailbox

    def _sync_mailbox(self, now: datetime, report: PassReport) -> None:
        if self._mailbox is None:
            self._mailbox = self._mailbox_factory()
        mailbox = self._mailbox
        for f in self.store.followups():
            if f.state == State.DRAFTING:
                self._recover(mailbox, f, now)

        drafted = [f for f in self.store.followups() if f.state == State.DRAFTED]
        states = {(f.uid, f.step): mailbox.draft_state(_ref(f)) for f in drafted}

        records = self.store.interviews()
        by_uid: dict[str, list[FollowUp]] = {}
        for f in self.store.followups():  # one query, not one per interview
            by_uid.setdefault(f.uid, []).append(f)
        active = [r for r in records if self._active(r, by_uid.get(r.uid, []))]
        since = min((r.interview.start for r in active), default=now)
        cursor_name = f"mailbox {mailbox.label}"
        changes = mailbox.changes(self.store.cursor(cursor_name), since)
        for line in changes.skipped:
            self._warn_once(f"{mailbox.label}: {line}")
        contacts = {r.uid: {c.email for c in r.interview.contacts} for r in records}
        for message in changes.messages:
            if message.folder == "sent":
                self._sent_copy(message, contacts, now)
            else:
                self._maybe_reply(message, active, now, report)
        self.store.set_cursor(cursor_name, changes.cursor)

        for f in drafted:
            if states[(f.uid, f.step)] == DraftState.GONE:
                current = self.store.followup(f.uid, f.step)
                if current is not None and current.state == State.DRAFTED:
                    self._gone(mailbox, current, now)
        replied = {r.uid for r in self.store.interviews() if r.replied_at is not None}
        for f in self.store.followups():
            if f.state == State.DRAFTED and f.uid in replied:
                self._stop_draft(mailbox, f, states.get((f.uid, f.step)), now)

    def _active(self, record: InterviewRecord, followups: list[FollowUp]) -> bool:
        if record.replied_at is not None or record.skipped or record.interview.cancelled:
            return False
        return not followups or any(f.state in _OPEN for f in followups) or len(followups) < len(self.steps)

    def _recover(self, mailbox: Mailbox, f: FollowUp, now: datetime) -> None:
        """A pass stopped between recording the intent and recording the draft."""
        assert f.message_id is not None
        located = mailbox.locate(f.message_id)
        if located is None:
            # Nothing was written: plan it again (it is re-drafted if still due).
            self.store.save_followup(f.replace(state=State.PLANNED), now, "the last attempt did not finish")
        elif located.folder == "sent":
            self.store.save_followup(
                f.replace(state=State.SENT, sent_at=_plausible(located.arrived, f.drafted_at or now, now)),
                now,
                "found already sent",
            )
        else:
            assert located.ref is not None
            self._drafted(f, located.ref, now, "found in Drafts after an interrupted pass")

    def _sent_copy(self, message: MessageInfo, contacts: dict[str, set[str]], now: datetime) -> None:
        to = set(recipients(message))
        followups = self.store.followups()
        # The sent copy of one of our drafts is evidence for that draft only, not for
        # another draft to the same people.
        ours = message.message_id is not None and any(f.message_id == message.message_id for f in followups)
        for f in followups:
            if f.state not in (State.DRAFTED, State.DISMISSED) or f.drafted_at is None:
                continue
            same = message.message_id is not None and message.message_id == f.message_id
            when = message.when
            related = not ours and to & contacts.get(f.uid, set()) and when is not None and when >= f.drafted_at
            if not (same or related):
                continue
            sent_at = _plausible(when, f.drafted_at, now)
            if same or f.state == State.DISMISSED:
                self._mark_sent(f, sent_at, now)
            elif f.sent_evidence_at is None:
                # A message to them after the draft was made: if our draft leaves Drafts,
                # this is what became of it.
                self.store.save_followup(f.replace(sent_evidence_at=sent_at), now)

    def _mark_sent(self, f: FollowUp, sent_at: datetime, now: datetime) -> None:
        self.store.save_followup(f.replace(state=State.SENT, sent_at=sent_at, note=None), now, "sent by you")
        record = self.store.interview(f.uid)
        if record is not None:
            log.info("you sent the %s for %s", f.step, _label(record.interview, self.config))

    def _gone(self, mailbox: Mailbox, f: FollowUp, now: datetime) -> None:
        verdict = mailbox.was_sent(_ref(f), f.drafted_at or now)
        if verdict is True or isinstance(verdict, datetime):
            when = verdict if isinstance(verdict, datetime) else None
            self._mark_sent(f, _plausible(when, f.drafted_at or now, now), now)
            return
        if verdict is None and f.sent_evidence_at is not None:
            self._mark_sent(f, f.sent_evidence_at, now)
            return
        self.store.save_followup(
            f.replace(state=State.DISMISSED, note="you deleted the draft; it will not be re-created"),
            now,
            "draft deleted by you",
        )
        record = self.store.interview(f.uid)
        if record is not None:
            log.info(
                "the %s draft for %s was deleted; not re-creating it", f.step, _label(record.interview, self.config)
            )

    def _maybe_reply(
        self, message: MessageInfo, active: list[InterviewRecord], now: datetime, report: PassReport
    ) -> None:
        for record in active:
            if record.replied_at is None and reply_to_interview(
                message, record.interview, self.config.me.addresses, self.config.reply.free_mail_domains
            ):
                sender = (senders(message) or ["?"])[0]
                when = message.when or now
                self.store.record_reply(record.uid, when, sender, now)
                label = _label(record.interview, self.config)
                log.info("reply from %s about %s: its follow-ups stop", sender, label)
                report.notices.append(
                    Notice(
                        "replied",
                        f"{sender} replied about {label}; follow-ups stopped",
                        record.uid,
                        message.header("subject"),
                    )
                )

    def _stop_draft(self, mailbox: Mailbox, f: FollowUp, state: DraftState | None, now: datetime) -> None:
        state = state or mailbox.draft_state(_ref(f))
        if state == DraftState.GONE:
            self._gone(mailbox, f, now)
            return
        if self.config.reply.on_reply == "delete-untouched" and state == DraftState.UNTOUCHED:
            mailbox.delete_draft(_ref(f))
            note = "they replied first; your untouched draft was removed"
        elif state == DraftState.EDITED:
            note = "they replied first; your edited draft was kept"
        else:
            note = 'they replied first; the draft was kept (on_reply = "keep")'
        self.store.save_followup(f.replace(state=State.REPLIED, note=note), now, note)

    # ------------------------------------------------------------ plan and draft

    def replan(self) -> PassReport:
        """Re-derive every step from the store alone, without touching any backend."""
        report = PassReport(self.clock.now())
        self._apply_plan(report.now, report, draft=False)
        return report

    def _apply_plan(self, now: datetime, report: PassReport, draft: bool) -> None:
        records = {r.uid: r for r in self.store.interviews()}
        current = {(f.uid, f.step): f for f in self.store.followups()}
        decisions = plan(records.values(), current, self.config.steps, self.schedule, now)
        for d in decisions:
            old = current.get((d.uid, d.step))
            if old is not None and old.state not in DERIVED:
                continue  # only the engine moves a step the mailbox has seen
            new = (old or FollowUp(d.uid, d.step, d.seq, d.state)).replace(
                seq=d.seq,
                state=d.state,
                due_at=d.due_at,
                window_start=d.window_start,
                window_end=d.window_end,
                note=d.note,
            )
            if new != old:
                self.store.save_followup(new, now, d.note)
                if old is None or old.state != new.state:
                    self._announce(records[d.uid].interview, new, report)
        if not draft or self._mailbox is None:
            return
        for d in decisions:
            if d.draft:
                try:
                    self._draft(self._mailbox, records[d.uid].interview, self.steps[d.step], now, report)
                except (TransientError, AuthError) as exc:
                    self._problem("mailbox", _kind(exc), f"{self._mailbox.label}: {exc}", report)
                    return  # the mailbox is down: the rest waits for the next pass
                except FollowupdError as exc:
                    self._note_failure(d.uid, d.step, _kind(exc), str(exc), now, report)
                except Exception as exc:  # noqa: BLE001 - one interview must not stop the others
                    log.debug("drafting failed", exc_info=True)
                    self._note_failure(d.uid, d.step, "error", f"unexpected {type(exc).__name__}: {exc}", now, report)

    def _announce(self, interview: Interview, f: FollowUp, report: PassReport) -> None:
        label = _label(interview, self.config)
        if f.state == State.NEEDS_CONTACT:
            message = f"{label} has no address to write to: add the interviewer to the event"
            log.warning("%s", message)
            report.notices.append(Notice("needs-contact", message, interview.uid))
        elif f.state == State.MISSED:
            log.warning("the %s for %s was missed: its window closed", f.step, label)
        elif f.state == State.PLANNED and f.due_at is not None:
            log.info("%s for %s planned for %s", f.step, label, _local(f.due_at, self.config))

    def _note_failure(self, uid: str, step: str, kind: str, message: str, now: datetime, report: PassReport) -> None:
        f = self.store.followup(uid, step)
        if f is not None:
            self.store.save_followup(f.replace(note=message), now)
        self._problem(f"draft {uid} {step}", kind, message, report)

    def _draft(
        self, mailbox: Mailbox, interview: Interview, step: ResolvedStep, now: datetime, report: PassReport
    ) -> None:
        f = self.store.followup(interview.uid, step.name)
        assert f is not None and f.state == State.PLANNED
        thread = mailbox.conversation([c.email for c in interview.contacts], interview.start)
        message = self.composer.compose(step, interview, now, thread)  # may raise ConfigError: nothing recorded
        message_id = str(message["Message-ID"])
        self.store.save_followup(
            f.replace(state=State.DRAFTING, message_id=message_id, note=None), now, "creating the draft"
        )
        f = f.replace(state=State.DRAFTING, message_id=message_id, note=None)
        located = mailbox.locate(message_id)
        if located is not None and located.folder == "sent":
            self.store.save_followup(f.replace(state=State.SENT, sent_at=now), now, "found already sent")
            return
        ref = located.ref if located is not None and located.ref is not None else mailbox.create_draft(message, thread)
        self._drafted(f, ref, now, "draft created")
        self.store.clear_health(f"draft {interview.uid} {step.name}")
        report.drafted += 1
        to = ", ".join(c.email for c in interview.contacts)
        line = f"{step.name} draft created for {_label(interview, self.config)}, to {to}"
        log.info("%s", line)
        report.notices.append(Notice("draft-created", line, interview.uid, str(message["Subject"])))

    def _drafted(self, f: FollowUp, ref: DraftRef, now: datetime, detail: str) -> None:
        self.store.save_followup(
            f.replace(
                state=State.DRAFTED,
                message_id=ref.message_id,
                draft_key=ref.key,
                draft_fingerprint=ref.fingerprint,
                drafted_at=f.drafted_at or now,
                note=None,
            ),
            now,
            detail,
        )


def _ref(f: FollowUp) -> DraftRef:
    assert f.message_id is not None
    return DraftRef(f.message_id, f.draft_key or "", f.draft_fingerprint or "")


def _plausible(when: datetime | None, drafted_at: datetime, now: datetime) -> datetime:
    """A sent copy's time, unless it is before the draft existed or in the future."""
    if when is None or when < drafted_at or when > now:
        return now
    return when


def _local(at: datetime, config: Config) -> str:
    return at.astimezone(config.me.timezone).strftime("%a %d %b %H:%M")


def _label(interview: Interview, config: Config) -> str:
    name = interview.company or interview.title
    return (
        f"{name} interview, {_local(interview.start, config)}"
        if interview.company
        else f"{name!r}, {_local(interview.start, config)}"
    )


def _who(interview: Interview) -> str:
    return ", ".join(c.email for c in interview.contacts) or "nobody to write to yet"
