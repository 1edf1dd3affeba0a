"""The planner and the business-hours rule, with property tests for their invariants."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from followupd.config import ResolvedStep
from followupd.model import Contact, FollowUp, Interview, InterviewRecord, State
from followupd.policy import Schedule, plan

ZONES = ["Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Apia", "UTC"]
STEPS = (
    ResolvedStep("thank-you", "thank-you.txt.j2", timedelta(hours=24), timedelta(hours=48)),
    ResolvedStep("check-in", "check-in.txt.j2", timedelta(days=7), timedelta(days=9)),
)
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))


def schedule(zone: str = "Europe/London", weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)) -> Schedule:
    return Schedule(ZoneInfo(zone), (time(9), time(18)), weekdays)


def in_hours(s: Schedule, at: datetime) -> bool:
    local = at.astimezone(s.zone)
    return local.weekday() in s.weekdays and s.hours[0] <= local.time() < s.hours[1]


@settings(max_examples=400, deadline=None)
@given(
    start=instants,
    length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
    zone=st.sampled_from(ZONES),
    weekdays=st.sets(st.integers(0, 6), min_size=1).map(lambda s: tuple(sorted(s))),
)
def test_due_time_is_the_first_business_instant_in_the_window(start, length, zone, weekdays) -> None:  # type: ignore[no-untyped-def]
    s = schedule(zone, weekdays)
    end = start + length
    due = s.due_time(start, end)
    assert start <= due <= max(start, end)
    if due != start or in_hours(s, start):
        assert in_hours(s, due)
    # Nothing earlier in the window is inside business hours (checked at 15-minute steps
    # and at every local hour boundary, which is where business hours begin).
    probe = start
    while probe < due:
        assert not in_hours(s, probe)
        probe += timedelta(minutes=15)


def test_due_time_across_dst_changes() -> None:
    london = schedule("Europe/London")
    # Window opens Sunday 25 Oct 2026 (BST → GMT that morning): Monday 09:00 GMT.
    assert london.due_time(datetime(2026, 10, 25, 20, tzinfo=UTC), datetime(2026, 10, 26, 20, tzinfo=UTC)) == datetime(
        2026, 10, 26, 9, tzinfo=UTC
    )
    # Monday 30 March 2026 after the spring change: 09:00 BST is 08:00 UTC.
    assert london.due_time(datetime(2026, 3, 29, 20, tzinfo=UTC), datetime(2026, 3, 30, 20, tzinfo=UTC)) == datetime(
        2026, 3, 30, 8, tzinfo=UTC
    )
    ny = schedule("America/New_York")
    assert ny.due_time(datetime(2026, 3, 7, 15, tzinfo=UTC), datetime(2026, 3, 9, 20, tzinfo=UTC)) == datetime(
        2026,
        3,
        9,
        13,
        tzinfo=UTC,  # 09:00 EDT, the day after clocks went forward
    )


def test_window_without_business_hours_is_due_when_it_opens() -> None:
    s = schedule()
    start = datetime(2026, 11, 7, 17, tzinfo=UTC)  # Saturday
    assert s.due_time(start, start + timedelta(hours=24)) == start


# ---------------------------------------------------------------- planner invariants

states = st.sampled_from(list(State))


@st.composite
def worlds(draw):  # type: ignore[no-untyped-def]
    now = draw(instants)
    records, followups = [], {}
    for n in range(draw(st.integers(1, 6))):
        end = now - draw(st.timedeltas(min_value=timedelta(days=-5), max_value=timedelta(days=20)))
        interview = Interview(
            uid=f"i{n}",
            title="Interview",
            start=end - timedelta(hours=1),
            end=end,
            contacts=(Contact("jane@acme.io"),) if draw(st.booleans()) or n == 0 else (),
            cancelled=draw(st.booleans()) and draw(st.booleans()),
        )
        replied = draw(st.one_of(st.none(), st.just(end + timedelta(hours=2))))
        records.append(
            InterviewRecord(interview, skipped=draw(st.booleans()) and draw(st.booleans()), replied_at=replied)
        )
        for seq, step in enumerate(STEPS):
            if draw(st.booleans()):
                state = draw(states)
                sent_at = end + draw(st.timedeltas(min_value=timedelta(hours=20), max_value=timedelta(days=3)))
                followups[(interview.uid, step.name)] = FollowUp(
                    interview.uid, step.name, seq, state, sent_at=sent_at if state == State.SENT else None
                )
    return now, records, followups


@settings(max_examples=500, deadline=None)
@given(world=worlds(), zone=st.sampled_from(ZONES))
def test_planner_invariants(world, zone) -> None:  # type: ignore[no-untyped-def]
    now, records, followups = world
    decisions = plan(records, followups, STEPS, schedule(zone), now)
    keys = [(d.uid, d.step) for d in decisions]
    assert len(keys) == len(set(keys)) == len(records) * len(STEPS)  # one decision per step
    by_uid = {r.uid: r for r in records}
    for d in decisions:
        record = by_uid[d.uid]
        current = followups.get((d.uid, d.step))
        if current is not None and current.state in (
            State.DRAFTING,
            State.DRAFTED,
            State.SENT,
            State.DISMISSED,
            State.REPLIED,
        ):
            assert d.state == current.state and not d.draft  # the planner never moves mailbox facts
        if d.draft:
            # Nothing drafted outside its window, or before it is due.
            assert d.state == State.PLANNED
            assert d.window_start is not None and d.window_end is not None and d.due_at is not None
            assert d.window_start <= d.due_at <= now <= d.window_end
            # A replied, skipped or cancelled sequence never drafts again.
            assert record.replied_at is None and not record.skipped and not record.interview.cancelled
            assert record.interview.contacts
            assert current is None or current.state in (
                State.PLANNED,
                State.MISSED,
                State.CANCELLED,
                State.NEEDS_CONTACT,
            )
        if d.step == "check-in" and d.state == State.PLANNED and d.due_at is not None:
            previous = followups.get((d.uid, "thank-you"))
            assert previous is not None and previous.state == State.SENT


def test_a_step_to_everyone_after_per_person_drafts() -> None:
    """The check-in after three per-person thank-yous waits for any of them to be sent,
    says so in words, and is not cancelled because one of the three drafts was deleted."""
    steps = (
        ResolvedStep("thank-you", "thank-you.txt.j2", timedelta(hours=24), timedelta(hours=48), per_person=True),
        STEPS[1],
    )
    end = datetime(2026, 11, 4, 15, tzinfo=UTC)
    people = (Contact("jane@acme.io", "Jane"), Contact("tom@acme.io", "Tom"), Contact("priya@acme.io", "Priya"))
    record = InterviewRecord(Interview("u", "Interview", end - timedelta(hours=1), end, people, "Acme", None, None))
    now = end + timedelta(hours=30)

    def check_in(states: dict[str, State], sent_at: datetime | None = None) -> tuple[State, str | None]:
        followups = {
            ("u", f"thank-you/{email}"): FollowUp(
                "u", f"thank-you/{email}", 0, state, message_id=f"<{email}>", sent_at=sent_at
            )
            for email, state in states.items()
        }
        decided = {d.step: d for d in plan([record], followups, steps, schedule(), now)}
        return decided["check-in"].state, decided["check-in"].note

    drafted = {c.email: State.DRAFTED for c in people}
    assert check_in(drafted) == (State.PLANNED, "after a thank-you is sent")
    assert check_in({**drafted, "jane@acme.io": State.DISMISSED}) == (State.PLANNED, "after a thank-you is sent")
    assert check_in({c.email: State.DISMISSED for c in people}) == (State.CANCELLED, "no thank-you was sent")
    state, note = check_in({**drafted, "tom@acme.io": State.SENT}, sent_at=now - timedelta(hours=1))
    assert state == State.PLANNED and note is None  # its window counts from that send
