"""One contract every CalendarSource passes: subclass CalendarSourceContract and give it
a `harness` fixture. A behaviour difference between sources is a bug in one of them.

The harness plays the calendar server and the user's calendar app: it stores events
given as neutral `Spec`s, in the backend's own form (an ICS file, a CalDAV object, a
Google event resource), takes the server down and up, and counts the requests the
source made. The tests call only the CalendarSource interface on `harness.source`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pytest

from followupd.calendars import CalendarChanges, CalendarSource, TimeRange
from followupd.errors import TransientError
from followupd.model import event_key

NOW = datetime(2026, 11, 9, 12, 0, tzinfo=UTC)
SPAN = TimeRange(NOW - timedelta(days=3), NOW + timedelta(days=60))
START = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
ME = "ada@example.org"


@dataclass(frozen=True)
class Spec:
    """An invitation the user accepted; `weekly` > 1 makes a weekly series, whose
    instances listed in `moved` start at another time."""

    uid: str
    start: datetime = START
    hours: float = 1.0
    summary: str = "Interview with Acme"
    weekly: int = 1
    moved: dict[int, datetime] = field(default_factory=dict)
    cancelled: bool = False

    def instances(self) -> list[tuple[datetime, datetime]]:
        """(original start, actual start) of each occurrence."""
        firsts = [self.start + timedelta(weeks=n) for n in range(self.weekly)]
        return [(first, self.moved.get(n, first)) for n, first in enumerate(firsts)]

    def key(self, n: int = 0) -> str:
        if self.weekly == 1:
            return self.uid
        return event_key(self.uid, self.instances()[n][0])


class CalendarHarness(Protocol):
    source: CalendarSource
    idle_requests: int  # what a pass that finds nothing new may cost, in requests

    def put(self, spec: Spec) -> None:
        """Store the event (a new one, or a new version of one with the same uid)."""

    def down(self) -> None:
        """The server stops answering."""

    def up(self) -> None:
        """The server answers again."""

    def requests(self) -> int:
        """Requests the source made so far."""


def gone_or_cancelled(changes: CalendarChanges, key: str) -> bool:
    """The source said the event is off: cancelled, removed, or missing from a complete read."""
    events = {e.key: e for e in changes.events}
    if key in events:
        return events[key].status == "cancelled"
    return key in changes.removed or changes.complete


class CalendarSourceContract:
    def test_a_single_event(self, harness: CalendarHarness) -> None:
        harness.put(Spec("one"))
        changes = harness.source.fetch(None, SPAN)
        (event,) = changes.events
        assert event.key == "one" and event.start == START and event.end == START + timedelta(hours=1)
        assert event.summary == "Interview with Acme" and event.status == "confirmed"
        assert ME in {a.email for a in event.attendees}
        assert changes.problems == []

    def test_recurrence_with_a_moved_instance(self, harness: CalendarHarness) -> None:
        later = START + timedelta(weeks=1, hours=3)
        spec = Spec("weekly", weekly=3, moved={1: later})
        harness.put(spec)
        events = {e.key: e for e in harness.source.fetch(None, SPAN).events}
        assert sorted(events) == sorted(spec.key(n) for n in range(3))
        assert [events[spec.key(n)].start for n in range(3)] == [START, later, START + timedelta(weeks=2)]
        assert {e.uid for e in events.values()} == {"weekly"}

    def test_a_moved_event_keeps_its_key(self, harness: CalendarHarness) -> None:
        harness.put(Spec("move"))
        first = harness.source.fetch(None, SPAN)
        harness.put(Spec("move", start=START + timedelta(days=2)))
        changes = harness.source.fetch(first.cursor, SPAN)
        (event,) = [e for e in changes.events if e.key == "move"]
        assert event.start == START + timedelta(days=2)

    def test_cancellation(self, harness: CalendarHarness) -> None:
        harness.put(Spec("off"))
        harness.put(Spec("on", start=START + timedelta(days=1)))
        first = harness.source.fetch(None, SPAN)
        harness.put(Spec("off", cancelled=True))
        changes = harness.source.fetch(first.cursor, SPAN)
        assert gone_or_cancelled(changes, "off")
        assert not changes.complete or "on" in {e.key for e in changes.events}

    def test_an_outage_is_transient_and_heals(self, harness: CalendarHarness) -> None:
        harness.put(Spec("kept"))
        first = harness.source.fetch(None, SPAN)
        harness.down()
        try:
            with pytest.raises(TransientError):
                harness.source.fetch(first.cursor, SPAN)
        finally:
            harness.up()
        harness.put(Spec("new", start=START + timedelta(days=1)))
        after = harness.source.fetch(first.cursor, SPAN)
        assert "new" in {e.key for e in after.events}

    def test_an_idle_pass_is_cheap(self, harness: CalendarHarness) -> None:
        series = Spec("b", weekly=2, start=START + timedelta(days=1))
        harness.put(Spec("a"))
        harness.put(series)
        cursor = harness.source.fetch(None, SPAN).cursor
        for _ in range(2):
            before = harness.requests()
            idle = harness.source.fetch(cursor, SPAN)
            assert harness.requests() - before <= harness.idle_requests
            assert idle.problems == []
            if idle.complete:  # a source that reads in full must still give the same events
                assert sorted(e.key for e in idle.events) == ["a", series.key(0), series.key(1)]
            cursor = idle.cursor or cursor
