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
from followupd.errors import AuthError, BackendError, FollowupdError, TransientError
from followupd.mailboxes import Mailbox
from followupd.model import FollowUp, Interview, InterviewRecord, State, ThreadHint, by_uid
from followupd.policy import (
    CreateDraft,
    DeleteDraft,
    MailAction,
    MailFacts,
    Replied,
    Seen,
    Transition,
    away,
    say,
    threads,
)
from followupd.policy.actions import Away
from followupd.policy.plan import person_step, split_step
from followupd.ports import Ports
from followupd.report import Notice, PassReport, Teller, kind
from followupd.status import short_ids, split_key
from followupd.store import Ignored, Store

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
        self.ports = Ports(store, calendar, mailbox)
        self.steps = {s.name: s for s in config.steps}
        self.detector = Detector(config.me, config.detect, config.window.business_hours)
        self.composer = Composer(config.me, config.me.timezone, config.templates_dir)
        self.schedule = policy.Schedule(config.me.timezone, config.window.business_hours, config.window.weekdays)

    @property
    def mailbox(self) -> Mailbox | None:
        """The mailbox a pass opened, if it is open; the daemon asks it to push new mail."""
        return self.ports.open_mailbox

    def close(self) -> None:
        self.ports.close()

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
        self.ports.guard("calendar", self.config.calendar.label, report, lambda: self._sync_calendar(now, report))
        mailbox_ok = self.ports.guard(
            "mailbox", self.config.mailbox.label, report, lambda: self._sync_mailbox(now, report)
        )
        self._apply_plan(now, report, draft=mailbox_ok)
        report.followups = self.store.followups()
        self._nudge({r.uid: r for r in self.store.interviews()}, now, report)
        return report

    def replan(self) -> PassReport:
        """Re-derive every step from the store alone, without touching any backend."""
        report = PassReport(self.clock.now())
        self._apply_plan(report.now, report, draft=False)
        return report

    # ------------------------------------------------------------ gather, decide, apply

    def _sync_calendar(self, now: datetime, report: PassReport) -> None:
        source = self.ports.calendar()
        corrections = self.store.corrections()
        keep = getattr(source, "keep", None)
        if keep is not None:  # a source that pre-filters by keyword must keep tracked events
            keep(frozenset(split_key(k)[0] for k, d in corrections.items() if d == "track"))
        last = self.store.cursor(_READ_AT)
        span = TimeRange(*policy.span(datetime.fromisoformat(last) if last else None, now, self.settings, LOOKAHEAD))
        cursor_name = f"calendar {source.label}"
        changes = source.fetch(self.store.cursor(cursor_name), span)
        records = {r.uid: r for r in self.store.interviews()}
        seen = [
            Seen(e.key, d.interview, d.reason)
            for e in changes.events
            for d in (self.detector.detect(e, say.tracked(e.key, e.uid, corrections)),)
        ]
        complete = (span.start, span.end) if changes.complete else None
        actions = policy.calendar(
            records, by_uid(self.store.followups()), seen, changes.removed, complete, self.settings
        )
        self.store.record([a for a in actions if not isinstance(a, policy.IgnoreEvent)], now)
        events = {e.key: e for e in changes.events}
        ignored = [
            Ignored(a.key, e.uid, e.summary or "(untitled)", e.start, e.end, a.reason)
            for a in actions
            if isinstance(a, policy.IgnoreEvent)
            for e in (events[a.key],)
        ]
        not_followed = {i.key for i in ignored}
        followed = [s.key for s in seen if s.interview is not None and s.key not in not_followed]
        self.store.save_ignored(ignored, [*followed, *changes.removed], complete, now)
        for uid in say.skips(self.store.interviews(), corrections):
            self.store.set_skipped(uid, True, now)
        teller = Teller(self.config.me.timezone, report)
        for action in actions:
            record = records.get(getattr(action, "uid", ""))
            teller.calendar(action, record.interview if record else None)
        for problem in changes.problems:
            self.ports.warn_once(str(problem))
        self.store.set_cursor(cursor_name, changes.cursor)
        self.store.set_cursor(_READ_AT, now.isoformat())

    def _sync_mailbox(self, now: datetime, report: PassReport) -> None:
        mailbox = self.ports.mailbox()
        followups = self.store.followups()
        located = {f.key: mailbox.locate(f.ref.message_id) for f in followups if f.state == State.DRAFTING}
        drafts = {f.key: mailbox.draft_state(f.ref) for f in followups if f.state == State.DRAFTED}
        records = self.store.interviews()
        grouped = by_uid(followups)
        waiting = [r for r in records if policy.active(r, grouped.get(r.uid, []), len(self.steps))]
        cursor_name = f"mailbox {mailbox.label}"
        changes = mailbox.changes(
            self.store.cursor(cursor_name), min((r.interview.start for r in waiting), default=now)
        )
        for line in changes.skipped:
            self.ports.warn_once(f"{mailbox.label}: {line}")
        keyed = {f.key: f for f in followups}
        verdicts = {
            key: mailbox.was_sent(keyed[key].ref, keyed[key].drafted_at or now)
            for key in policy.questions(followups, drafts, changes.messages)
        }
        # Conversations seen, for a mailbox that cannot be searched for them (Maildir).
        seen = [*changes.earlier, *changes.messages]
        self.store.index_conversations(threads.index_entries(seen, self.config.me.addresses))
        # Only auto-replies from the people of an interview still waiting: a bounded read each.
        texts = {m.key: t for m in away.wanted(waiting, changes.messages) if (t := mailbox.auto_reply_text(m))}
        facts = MailFacts(located, drafts, changes.messages, verdicts, texts)
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
        done: list[Transition | Replied | Away] = []
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
            if isinstance(item, Away):
                log.info("%s: %s is away until %s", item.uid, item.sender, item.until.date())
            elif isinstance(item, Replied):
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
        mailbox = self.ports.open_mailbox
        if not draft or mailbox is None:
            return
        for create in (a for a in actions if isinstance(a, CreateDraft)):
            try:
                name, person = split_step(create.step)
                self._draft(mailbox, records[create.uid].interview, self.steps[name], now, teller, person)
            except (TransientError, AuthError) as exc:
                self.ports.problem("mailbox", kind(exc), f"{mailbox.label}: {exc}", report)
                return  # the mailbox is down: the rest waits for the next pass
            except FollowupdError as exc:
                self._note_failure(create, kind(exc), str(exc), now, report)
            except Exception as exc:  # noqa: BLE001 - one interview must not stop the others
                log.debug("drafting failed", exc_info=True)
                self._note_failure(create, "error", f"unexpected {type(exc).__name__}: {exc}", now, report)

    def told(self, interview: Interview) -> Interview:
        """The interview with the user's `followupd note` over the calendar's text."""
        mine = self.store.user_notes(interview.uid).get(interview.uid)
        return interview if mine is None else say.overlay(interview, mine.role, mine.company, mine.notes)

    def _nudge(self, records: dict[str, InterviewRecord], now: datetime, report: PassReport) -> None:
        """The interview-ended nudge, once per interview: recorded before it is told, so
        a crash loses a nudge rather than repeating it. The report learns which
        interviews still to come will want one, and when (the daemon wakes then)."""
        followups, nudged = by_uid(report.followups), self.store.nudged(say.ENDED)
        report.ending = say.ending(records.values(), followups, nudged, now)
        due = say.ended(records.values(), followups, nudged, now)
        if not due:
            return
        self.store.record_nudges(due, say.ENDED, now)
        short = short_ids([*records, *(i.key for i in self.store.ignored())], self.config.me.timezone)
        teller = Teller(self.config.me.timezone, report)
        for uid in due:
            teller.ended(records[uid].interview, short.get(uid, uid))

    def _note_failure(self, create: CreateDraft, kind_: str, message: str, now: datetime, report: PassReport) -> None:
        f = self.store.followup(create.uid, create.step)
        if f is not None:
            self.store.save_followup(f.replace(note=message), now)
        self.ports.problem(f"draft {create.uid} {create.step}", kind_, message, report)

    def _draft(
        self,
        mailbox: Mailbox,
        interview: Interview,
        step: ResolvedStep,
        now: datetime,
        teller: Teller,
        person: str | None = None,
    ) -> None:
        key = person_step(step.name, person)
        f = self.store.followup(interview.uid, key)
        assert f is not None and f.state == State.PLANNED
        interview = self.told(interview)
        thread = self._thread(mailbox, interview, f, person)
        # may raise ConfigError: nothing recorded
        message = self.composer.compose(step, interview, now, thread, person)
        intent = policy.intent(f, str(message["Message-ID"]))
        self.store.record([intent], now)
        located = mailbox.locate(intent.after.ref.message_id)
        if located is not None:
            result = policy.found(intent.after, located, now, "draft created")
        else:
            result = policy.drafted(intent.after, mailbox.create_draft(message, thread), now, "draft created")
        self.store.record([result], now)
        if result.new_state == State.DRAFTED:
            self.store.clear_health(f"draft {interview.uid} {key}")
            teller.created(result.after, interview, str(message["Subject"]))

    def _thread(self, mailbox: Mailbox, interview: Interview, f: FollowUp, person: str | None) -> ThreadHint | None:
        """A later step answers the step before it as sent (that person's own, for
        per-person steps); the first joins the latest conversation with the interview's
        people (the mailbox's search, else the index)."""
        if f.seq > 0:
            name = self.config.steps[f.seq - 1].name
            previous = self.store.followup(interview.uid, person_step(name, person)) if person else None
            if previous is None or previous.state != State.SENT:
                sent = [
                    p
                    for p in self.store.followups(interview.uid)
                    if split_step(p.step)[0] == name and p.state == State.SENT
                ]
                previous = min(sent, key=lambda p: p.sent_at or interview.end, default=previous)
            return threads.answer(previous)
        people = [person] if person else [c.email for c in interview.contacts]
        try:
            found = mailbox.conversation(people, interview.start)
        except BackendError as exc:
            # Threading is a nicety: a server that refuses the search still gets the draft.
            log.warning("%s: cannot look up the conversation with %s: %s", mailbox.label, interview.uid, exc)
            found = None
        return found or self.store.conversation(people, interview.start)
