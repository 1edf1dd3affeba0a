"""iCalendar data (RFC 5545) to Events, shared by the ICS and CalDAV sources."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from followupd.calendars import TimeRange, midnight
from followupd.calendars.expand import MAX_PER_PASS, Budget, bound, expand, fix_until
from followupd.calendars.prune import PRUNE_MARGIN, prune
from followupd.calendars.repair import ParsedCalendar, parse_calendar
from followupd.errors import Problem
from followupd.model import Attendee, Cutype, Event, Partstat

__all__ = ["PRUNE_MARGIN", "Attendance", "ParsedCalendar", "events_in", "overlaps", "parse_calendar", "prune"]

log = logging.getLogger(__name__)

_ESSENTIAL = {"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"}
_SERIES = ("RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")


def overlaps(start: datetime, end: datetime, span: TimeRange) -> bool:
    """The overlap rule of recurring_ical_events' `between`: a zero-length event counts
    at the start of the range, not at its end."""
    return start < span.end and (end > span.start or start == end >= span.start)


@dataclass(frozen=True)
class Attendance:
    """Who the user is, to skip expanding series the user does not take part in."""

    addresses: frozenset[str]
    require_accepted: bool = True

    def takes_part(self, component: Any) -> bool:
        """Whether an event could count for the user (the cautious reading of
        detect's rule: the user's own answer wins, and if the user appears twice,
        the most cautious one)."""
        mine = [a for a in (_address(v) for v in _list(component.get("ATTENDEE"))) if a and a.email in self.addresses]
        if mine:
            answers = {a.partstat for a in mine}
            if Partstat.DECLINED in answers:
                return False
            return not self.require_accepted or answers <= {Partstat.ACCEPTED, Partstat.TENTATIVE}
        organizer = _address(component.get("ORGANIZER"))
        return organizer is None or organizer.email in self.addresses or not self.require_accepted


def events_in(
    calendars: Iterable[ParsedCalendar],
    span: TimeRange,
    zone: tzinfo,
    where: str,
    attendance: Attendance | None = None,
) -> tuple[list[Event], list[Problem]]:
    """Expand recurrences and normalise every timed VEVENT overlapping `span`.

    Floating times are read in `zone`; a one-off all-day event is read as midnight to
    midnight there (flagged `all_day`), an all-day series is skipped. Broken entries
    become problems naming the event and never hide the rest of the calendar (an
    organiser's METHOD:CANCEL was applied by `parse_calendar`). Given
    `attendance`, a series the user does not take part in is not expanded (its moved
    instances are still read one by one). Expansion is bounded (see expand.py).
    """
    problems: list[Problem] = []
    zones: dict[str, Any] = {}
    by_uid: dict[str, list[Any]] = defaultdict(list)
    for calendar in calendars:
        problems.extend(calendar.problems)
        for component in calendar.subcomponents:
            if component.name == "VTIMEZONE":
                zones.setdefault(str(component.get("TZID", "")), component)
            elif component.name == "VEVENT":
                problem = _check(component, where)
                if problem:
                    problems.append(problem)
                    continue
                if not component.get("UID"):
                    component["UID"] = _synthetic_uid(component)
                note = _normalise(component, zone)
                if note:
                    problems.append(Problem(_describe(component, where), note))
                by_uid[str(component["UID"])].append(component)

    events: list[Event] = []
    budget = Budget()
    series_zones = list(zones.values())
    for uid, components in by_uid.items():
        masters = [c for c in components if c.get("RECURRENCE-ID") is None]
        moved = [c for c in components if c.get("RECURRENCE-ID") is not None]
        is_series = bool(moved) or len(components) > 1 or any(c.get(p) for c in masters for p in _SERIES)
        if not is_series:
            _one(components[0], zone, False, span, events, problems, where)
            continue
        master = max(masters, key=_sequence) if masters else None  # a newer copy wins; else the first
        if len({str(c.get("DTSTART").to_ical()) for c in masters}) > 1:
            problems.append(Problem(_describe(masters[0], where), f"{len(masters)} events share this UID; read one"))
        try:
            why = _why_not_expand(master, attendance, span, zone, budget)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a rule too broken to bound
            why = f"cannot read its recurrence ({type(exc).__name__}: {exc})"
        if master is None or why is not None:
            if why:
                problems.append(Problem(_describe(master, where), f"skipped, {why}"))
            for component in moved:  # a moved instance the user may have accepted alone
                _one(component, zone, True, span, events, problems, where)
            continue
        try:
            occurrences = expand([master, *moved], series_zones, span, zone, budget)
        except Exception as exc:  # noqa: BLE001 - one bad series must not hide the others
            problems.append(Problem(_describe(master, where), f"skipped, cannot expand its recurrence: {exc}"))
            continue
        for occurrence in occurrences:
            _one(occurrence, zone, True, span, events, problems, where, check_span=False)
        if uid in budget.notes:
            problems.append(Problem(_describe(master, where), budget.notes[uid]))
    if budget.skipped_series:
        problems.append(
            Problem(
                where,
                f"{budget.skipped_series} recurring series not read: a pass reads at most {MAX_PER_PASS} occurrences",
            )
        )
    return events, problems


def _sequence(component: Any) -> int:
    try:
        return int(component.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        return 0


def _why_not_expand(
    master: Any, attendance: Attendance | None, span: TimeRange, zone: tzinfo, budget: Budget
) -> str | None:
    """None when the series is worth expanding; "" to skip it silently; else why not."""
    if master is None:
        return ""
    if not isinstance(master.decoded("DTSTART"), datetime):
        return ""  # all-day: never an interview
    if attendance is not None and not attendance.takes_part(master):
        return ""  # detect would not follow it: expanding it is wasted (or hostile) work
    fix_until(master, zone)
    return bound(master, span, budget)


def _one(
    component: Any,
    zone: tzinfo,
    recurring: bool,
    span: TimeRange,
    events: list[Event],
    problems: list[Problem],
    where: str,
    check_span: bool = True,
) -> None:
    try:
        event = _event(component, zone, recurring)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        problems.append(Problem(_describe(component, where), f"skipped: {exc}"))
        return
    if event is not None and (not check_span or overlaps(event.start, event.end, span)):
        events.append(event)


def _normalise(component: Any, zone: tzinfo) -> str | None:
    """Put right what is unambiguous in one VEVENT's times; a note when a time zone is
    unknown (its times are then read in the user's zone, and said so)."""
    for name in ("DTSTART", "DTEND", "RECURRENCE-ID"):
        prop = component.get(name)
        if prop is None or isinstance(prop, list):
            continue
        value = component.decoded(name)
        if str(prop.params.get("VALUE", "")).upper() == "DATE" and isinstance(value, datetime):
            component.pop(name)  # DTSTART;TZID=Europe/Berlin;VALUE=DATE: a date, not midnight
            component.add(name, value.date())
    if isinstance(component.get("DTSTART"), list):  # twice: the first counts
        first = component["DTSTART"][0]
        component.pop("DTSTART")
        component["DTSTART"] = first
    start = component.decoded("DTSTART")
    note = None
    tzid = component["DTSTART"].params.get("TZID")
    if tzid and isinstance(start, datetime) and start.tzinfo is None:
        note = f"its time zone {str(tzid)[:60]!r} is unknown; its times are read in {zone}"
    if component.get("DTEND") is not None:
        end = component.decoded("DTEND")
        if isinstance(start, datetime) and isinstance(end, datetime):
            # ownCloud writes a floating start with a zoned end (and the reverse): the
            # floating one is read in the other's zone.
            if start.tzinfo is None and end.tzinfo is not None:
                start = start.replace(tzinfo=end.tzinfo)
                _set(component, "DTSTART", start)
            elif end.tzinfo is None and start.tzinfo is not None:
                end = end.replace(tzinfo=start.tzinfo)
                _set(component, "DTEND", end)
        if type(start) is not type(end) or end < start:
            component.pop("DTEND")  # an end that cannot be right: the event ends as it starts
    elif component.get("DURATION") is not None:
        duration = component.decoded("DURATION")
        if not isinstance(duration, timedelta) or duration < timedelta(0):
            component.pop("DURATION")
    return note


def _set(component: Any, name: str, value: datetime) -> None:
    params = dict(component[name].params)
    component.pop(name)
    component.add(name, value)
    if "TZID" in params and not hasattr(value.tzinfo, "key"):
        component[name].params["TZID"] = params["TZID"]


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _check(component: Any, where: str) -> Problem | None:
    errors = [(name, msg) for name, msg in getattr(component, "errors", []) if name in _ESSENTIAL]
    for name in ("DTEND", "DURATION"):  # an unreadable end ("DTEND:None"): the event ends as it starts
        if any(n == name for n, _ in errors):
            component.pop(name, None)
            errors = [e for e in errors if e[0] != name]
    if errors:
        name, message = errors[0]
        return Problem(_describe(component, where), f"skipped, its {name} is broken: {message}")
    if component.get("DTSTART") is None:
        return Problem(_describe(component, where), "skipped, it has no DTSTART")
    try:
        component.decoded("DTSTART")
        if component.get("DTEND") is not None:
            component.decoded("DTEND")
    except Exception as exc:  # noqa: BLE001
        return Problem(_describe(component, where), f"skipped, its times cannot be read: {exc}")
    return None


def _describe(component: Any, where: str) -> str:
    summary = _text(component.get("SUMMARY"))[:60]
    uid = _text(component.get("UID"))[:80]
    label = f"event {summary!r}" if summary else "an event"
    if uid:
        label += f" (UID {uid})"
    return f"{where}: {label}"


def _synthetic_uid(component: Any) -> str:
    # RFC 5545 requires a UID, but hand-written files lack one; derive a stable one.
    basis = f"{component.get('DTSTART').to_ical()!r}|{_text(component.get('SUMMARY'))}"
    return "followupd-" + hashlib.sha256(basis.encode()).hexdigest()[:24]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value)


def _instant(value: Any, zone: tzinfo) -> datetime | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)  # floating time: the user's wall clock
        return value.astimezone(UTC)
    if isinstance(value, date):
        return None  # all-day
    raise ValueError(f"unexpected time value {value!r}")


def _all_day(component: Any, begins: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """An all-day event's span: from midnight to midnight in the user's zone; one day
    when it gives neither a date DTEND nor a DURATION (RFC 5545 3.6.1)."""
    start = midnight(begins, zone)
    ends = component.decoded("DTEND") if component.get("DTEND") is not None else None
    if isinstance(ends, date) and not isinstance(ends, datetime):
        end = midnight(ends, zone)
    elif component.get("DURATION") is not None:
        end = midnight(begins + component.decoded("DURATION"), zone)
    else:
        end = midnight(begins + timedelta(days=1), zone)
    return start, max(end, start)


def _event(component: Any, zone: tzinfo, recurring: bool) -> Event | None:
    begins = component.decoded("DTSTART")
    all_day = isinstance(begins, date) and not isinstance(begins, datetime)
    if all_day:  # never an interview by itself; listed by `status --all`, and `track` can make it one
        return _build(component, zone, recurring, *_all_day(component, begins, zone), all_day=True)
    start = _instant(begins, zone)
    if start is None:
        return None
    end: datetime | None = start
    if component.get("DTEND") is not None:
        end = _instant(component.decoded("DTEND"), zone)
    elif component.get("DURATION") is not None:
        end = start + component.decoded("DURATION")
    if end is None:
        return None
    return _build(component, zone, recurring, start, max(end, start))


def _build(
    component: Any,
    zone: tzinfo,
    recurring: bool,
    start: datetime,
    end: datetime,
    all_day: bool = False,
) -> Event:
    uid = str(component["UID"])
    recurrence_id = None
    if recurring and component.get("RECURRENCE-ID") is not None:
        moved = component.decoded("RECURRENCE-ID")
        # An all-day occurrence's id: its date at midnight UTC, a key no zone changes.
        recurrence_id = _instant(moved, zone) or midnight(moved, UTC)
    status = str(component.get("STATUS", "CONFIRMED")).lower()
    organizer = _address(component.get("ORGANIZER"))
    attendees = component.get("ATTENDEE") or []
    if not isinstance(attendees, list):
        attendees = [attendees]
    return Event(
        uid=uid,
        recurrence_id=recurrence_id,
        summary=_text(component.get("SUMMARY")),
        description=_text(component.get("DESCRIPTION")),
        location=_text(component.get("LOCATION")),
        start=start,
        end=end,
        status=status if status in ("confirmed", "tentative", "cancelled") else "confirmed",
        organizer=organizer,
        attendees=tuple(a for a in (_address(v) for v in attendees) if a is not None),
        all_day=all_day,
    )


def _address(value: Any) -> Attendee | None:
    if value is None:
        return None
    text = str(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if "@" not in text:
        return None
    params = getattr(value, "params", {}) or {}
    try:
        partstat = Partstat(str(params.get("PARTSTAT", "unknown")).lower())
    except ValueError:
        partstat = Partstat.UNKNOWN
    try:
        cutype = Cutype(str(params.get("CUTYPE", "individual")).lower())
    except ValueError:
        cutype = Cutype.UNKNOWN
    name = params.get("CN")
    return Attendee(
        email=text.strip().lower(),
        name=str(name) if name else None,
        partstat=partstat,
        cutype=cutype,
    )
