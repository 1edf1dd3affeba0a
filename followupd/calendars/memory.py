"""A calendar in memory: the reference implementation of CalendarSource, and the test fake."""

from __future__ import annotations

from dataclasses import dataclass, field

from followupd.calendars import CalendarChanges, CalendarSource, TimeRange
from followupd.model import Event


@dataclass
class MemoryCalendar(CalendarSource):
    events: dict[str, Event] = field(default_factory=dict)
    label: str = "memory"

    def put(self, event: Event) -> None:
        self.events[event.key] = event

    def fetch(self, cursor: str | None, span: TimeRange) -> CalendarChanges:
        found = [e for e in self.events.values() if e.end >= span.start and e.start <= span.end]
        return CalendarChanges(events=found, complete=True)
