"""Calendar sources: where events come from. One interface, chosen by `[calendar] kind`."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from typing import TYPE_CHECKING

from followupd.errors import Problem
from followupd.model import Event

if TYPE_CHECKING:
    from followupd.config import Config
    from followupd.secrets import SecretStore


# An interview does not recur more often than this in a day: every source reads at
# most this many occurrences of one recurring event a day (and says what it cut).
MAX_PER_DAY = 3


def midnight(day: date, zone: tzinfo) -> datetime:
    """Midnight at the start of `day` in `zone`, in UTC: where an all-day event begins
    and ends (in the user's zone), or the key of an all-day occurrence (in UTC)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime


@dataclass
class CalendarChanges:
    events: list[Event]
    # Keys (see model.event_key) of events the source says were deleted or cancelled
    # without sending the full event, e.g. Google's stub for a cancelled instance.
    removed: list[str] = field(default_factory=list)
    # True when `events` is every event overlapping the requested range: a known
    # interview in that range that is missing from it was deleted.
    complete: bool = True
    cursor: str | None = None
    problems: list[Problem] = field(default_factory=list)


class CalendarSource(ABC):
    label: str

    @abstractmethod
    def fetch(self, cursor: str | None, span: TimeRange) -> CalendarChanges:
        """Return the events overlapping `span`, or only what changed since `cursor`.

        `cursor` is what the previous call returned (None on the first call or after
        the store was reset). A broken entry is skipped and reported in `problems`;
        it never hides the other events. Raises TransientError when the server or
        network failed in a way worth retrying, AuthError when credentials are
        refused, BackendError when the calendar cannot be read at all.
        """

    def close(self) -> None:
        """Release connections; the default has none."""


_KINDS = {
    "ics": "followupd.calendars.ics:IcsSource",
    "google": "followupd.calendars.google:GoogleCalendarSource",
    "caldav": "followupd.calendars.caldav:CaldavSource",
}


# Sources that read raw iCalendar text themselves and can skip parsing the events a
# cheap `relevant(vevent_text)` test rejects.
_PREFILTERED = {"ics"}


def open_calendar(
    config: Config, secrets: SecretStore, relevant: Callable[[str], bool] | None = None
) -> CalendarSource:
    """Build the configured source; its module (and heavy client library) loads only now.

    `relevant` is the detector's keyword pre-check, passed in by the wiring so that no
    source depends on detection; a source that cannot use it ignores it."""
    module, _, name = _KINDS[config.calendar.kind].partition(":")
    cls = getattr(importlib.import_module(module), name)
    if relevant is not None and config.calendar.kind in _PREFILTERED:
        return cls(config, secrets, relevant=relevant)
    return cls(config, secrets)
