"""The planner: what each step of each interview should be, derived from the
interview, the steps already settled by the mailbox, and `now`.

No I/O and no clock reads: everything, `now` included, comes in as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol

from followupd.model import DERIVED, FollowUp, InterviewRecord, State


class StepWindow(Protocol):
    """A step as the core needs it (config's ResolvedStep is one): its name, its
    window, counted from the interview's end (first step) or the previous step's
    sending, and whether it is one draft per person."""

    @property
    def name(self) -> str: ...

    @property
    def after(self) -> timedelta: ...

    @property
    def before(self) -> timedelta: ...

    @property
    def per_person(self) -> bool: ...


@dataclass(frozen=True)
class Schedule:
    """When a person would reasonably send mail: the user's zone, hours and weekdays."""

    zone: tzinfo
    hours: tuple[time, time]
    weekdays: tuple[int, ...]

    def due_time(self, start: datetime, end: datetime) -> datetime:
        """The first instant ≥ start inside business hours on a listed weekday, if it is
        ≤ end; otherwise start. Computed on local dates, so DST changes are honoured."""
        day: date = start.astimezone(self.zone).date()
        last: date = end.astimezone(self.zone).date()
        while day <= last:
            if day.weekday() in self.weekdays:
                opens = _instant(day, self.hours[0], self.zone)
                closes = _instant(day, self.hours[1], self.zone)
                candidate = max(start, opens)
                if candidate < closes and candidate <= end:
                    return candidate
            day += timedelta(days=1)
        return start


def _instant(day: date, at: time, zone: tzinfo) -> datetime:
    # A wall time that does not exist (skipped by a DST change) resolves to the
    # instant the zone's pre-change offset gives, which is a real, later wall time.
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


_WHY_NOT = {
    State.DISMISSED: "was deleted",
    State.MISSED: "was missed",
    State.NEEDS_CONTACT: "has nobody to write to",
    State.CANCELLED: "was cancelled",
    State.REPLIED: "was answered",
}


@dataclass(frozen=True)
class Decision:
    """What one step should look like now; `draft` says: create its draft in this pass."""

    uid: str
    step: str
    seq: int
    state: State
    due_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    note: str | None = None
    draft: bool = False


def plan(
    interviews: Iterable[InterviewRecord],
    followups: Mapping[tuple[str, str], FollowUp],
    steps: Sequence[StepWindow],
    schedule: Schedule,
    now: datetime,
) -> list[Decision]:
    """Decide every step of every interview.

    Steps in a state the mailbox established (drafting, drafted, sent, dismissed,
    replied) are reported as they are; the engine alone moves them. The others are
    derived afresh, so a rescheduled, re-accepted or re-contacted interview is
    re-planned without special cases.
    """
    decisions: list[Decision] = []
    for record in interviews:
        # The previous step as each person's next step counts from it (None: everyone).
        previous: dict[str | None, FollowUp | Decision] = {}
        for seq, step in enumerate(steps):
            people: list[str | None] = [None]
            if step.per_person and record.interview.contacts:
                people = [c.email for c in record.interview.contacts]
            done: dict[str | None, FollowUp | Decision] = {}
            for person in people:
                name = person_step(step.name, person)
                before = _before(previous, person)
                current = followups.get((record.uid, name))
                decision: Decision
                if current is not None and current.state not in DERIVED:
                    decision = Decision(
                        record.uid,
                        name,
                        seq,
                        current.state,
                        current.due_at,
                        current.window_start,
                        current.window_end,
                        current.note,
                    )
                    done[person] = current
                else:
                    decision = _derive(record, seq, step, before, schedule, now, name)
                    done[person] = decision
                decisions.append(decision)
            previous = done
    return decisions


def person_step(step: str, person: str | None) -> str:
    """The key of one person's follow-up of a per-person step: "thank-you/jane@acme.io"."""
    return f"{step}/{person}" if person else step


def split_step(key: str) -> tuple[str, str | None]:
    """ "thank-you/jane@acme.io" → ("thank-you", "jane@acme.io"); a plain step has no person."""
    name, _, person = key.partition("/")
    return (name, person) if "@" in person else (key, None)


def step_words(key: str) -> str:
    """A follow-up's key as a person reads it: "thank-you to jane@acme.io"."""
    name, person = split_step(key)
    return f"{name} to {person}" if person else name


def _before(previous: Mapping[str | None, FollowUp | Decision], person: str | None) -> FollowUp | Decision | None:
    """What a step counts from: the same person's previous follow-up; for a step to
    everyone after a per-person one, the first of those that was sent (else the first)."""
    if person in previous:
        return previous[person]
    if None in previous:
        return previous[None]
    sent = [f for f in previous.values() if isinstance(f, FollowUp) and f.state == State.SENT and f.sent_at]
    if sent:
        return min(sent, key=lambda f: f.sent_at or datetime.max.replace(tzinfo=UTC))
    # None sent yet: one still to come, while there is one (one deleted draft of three
    # does not cancel the step to everyone).
    waiting = [f for f in previous.values() if f.state in (State.PLANNED, State.DRAFTING, State.DRAFTED)]
    return next(iter(waiting or previous.values()), None)


def _derive(
    record: InterviewRecord,
    seq: int,
    step: StepWindow,
    previous: FollowUp | Decision | None,
    schedule: Schedule,
    now: datetime,
    name: str | None = None,
) -> Decision:
    interview = record.interview
    key = name or step.name

    def decide(
        state: State, start: datetime | None = None, end: datetime | None = None, note: str | None = None
    ) -> Decision:
        due = schedule.due_time(start, end) if start is not None and end is not None else None
        draft = state == State.PLANNED and due is not None and end is not None and due <= now <= end
        return Decision(record.uid, key, seq, state, due, start, end, note, draft)

    if record.skipped:
        return decide(State.CANCELLED, note="skipped by you")
    if interview.cancelled:
        return decide(State.CANCELLED, note=record.cancel_reason or "the event was cancelled")
    if record.replied_at is not None:
        return decide(State.REPLIED, note=f"reply from {record.reply_from}" if record.reply_from else None)

    waits, label, each = None, "", False
    if previous is not None:
        label, person = split_step(previous.step)
        each = person is not None and split_step(key)[1] is None  # one of several drafts
        waits = f"after {'a' if each else 'the'} {label} is sent"
    if seq == 0:
        anchor: datetime | None = interview.end
    else:
        assert previous is not None
        if previous.state == State.SENT:
            anchor = previous.sent_at if isinstance(previous, FollowUp) else None
        elif previous.state in (State.PLANNED, State.DRAFTING, State.DRAFTED):
            return decide(State.PLANNED, note=waits)
        else:
            why = f"no {label} was sent" if each else f"the {label} {_WHY_NOT[previous.state]}"
            return decide(State.CANCELLED, note=why)
    if anchor is None:
        return decide(State.PLANNED, note=waits)

    start, end = anchor + step.after, anchor + step.before
    away = _away(record, start, schedule)
    if away is not None:
        # They are away: the window opens when they are back, as long as it was.
        start, end = away[0], away[0] + (end - start)
    if not interview.contacts:
        state = State.MISSED if now > end else State.NEEDS_CONTACT
        return decide(state, start, end, "no address to write to: add the interviewer to the event")
    if now > end:
        if seq == 0 and record.first_seen is not None and record.first_seen > end:
            return decide(State.MISSED, start, end, "first seen after its window closed")
        return decide(State.MISSED, start, end, "its window closed before a draft could be made")
    return decide(State.PLANNED, start, end, away[1] if away is not None else None)


def _away(record: InterviewRecord, start: datetime, schedule: Schedule) -> tuple[datetime, str] | None:
    """When the window opens if one of the people is away past `start` (the first business
    day after the day they are back, at opening time), and the note that says why."""
    if record.away_until is None:
        return None
    until = record.away_until.date()
    day = until + timedelta(days=1)
    while day.weekday() not in schedule.weekdays and day < until + timedelta(days=8):
        day += timedelta(days=1)
    opens = _instant(day, schedule.hours[0], schedule.zone)
    if opens <= start:
        return None
    return (
        opens,
        f"{record.away_from or 'they'} is away until {until.strftime('%a')} {until.day} {until.strftime('%b')}",
    )
