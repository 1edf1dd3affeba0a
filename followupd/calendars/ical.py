"""iCalendar data (RFC 5545) to Events, shared by the ICS and CalDAV sources."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import icalendar
import recurring_ical_events

from followupd.calendars import TimeRange
from followupd.errors import Problem
from followupd.model import Attendee, Cutype, Event, Partstat

log = logging.getLogger(__name__)

_ESSENTIAL = {"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"}


def parse_calendar(data: bytes | str, where: str) -> icalendar.Calendar:
    """Parse one iCalendar document; raise ValueError naming `where` if it is not one."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception as exc:  # noqa: BLE001 - icalendar raises ValueError and friends on garbage
        raise ValueError(f"{where} is not an iCalendar file: {exc}") from None
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise ValueError(f"{where} is not an iCalendar file (no BEGIN:VCALENDAR)")
    return calendar


def events_in(
    calendars: Iterable[icalendar.Calendar], span: TimeRange, zone: tzinfo, where: str
) -> tuple[list[Event], list[Problem]]:
    """Expand recurrences and normalise every timed VEVENT overlapping `span`.

    Floating times are read in `zone`; all-day events are skipped. Broken entries
    become problems naming the event and never hide the rest of the calendar.
    """
    problems: list[Problem] = []
    clean = icalendar.Calendar()
    recurring: set[str] = set()
    cancelled_calendar = False
    for calendar in calendars:
        if str(calendar.get("METHOD", "")).upper() == "CANCEL":
            cancelled_calendar = True
        for component in calendar.subcomponents:
            if component.name == "VTIMEZONE":
                clean.add_component(component)
            elif component.name == "VEVENT":
                problem = _check(component, where)
                if problem:
                    problems.append(problem)
                    continue
                if not component.get("UID"):
                    component["UID"] = _synthetic_uid(component)
                if any(component.get(p) for p in ("RRULE", "RDATE", "RECURRENCE-ID")):
                    recurring.add(str(component["UID"]))
                clean.add_component(component)

    events: list[Event] = []
    for occurrence in _expand(clean, span, problems, where):
        try:
            event = _event(occurrence, zone, recurring, cancelled_calendar)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problems.append(Problem(_describe(occurrence, where), f"skipped: {exc}"))
            continue
        if event is not None:
            events.append(event)
    return events, problems


def _expand(
    calendar: icalendar.Calendar, span: TimeRange, problems: list[Problem], where: str
) -> Iterable[icalendar.Event]:
    try:
        return list(recurring_ical_events.of(calendar).between(span.start, span.end))
    except Exception:  # noqa: BLE001 - one bad series must not hide the others
        log.debug("expanding %s as a whole failed; expanding series one by one", where)
    by_uid: dict[str, list[Any]] = defaultdict(list)
    zones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    for component in calendar.subcomponents:
        if component.name == "VEVENT":
            by_uid[str(component["UID"])].append(component)
    result: list[icalendar.Event] = []
    for components in by_uid.values():
        single = icalendar.Calendar()
        for component in [*zones, *components]:
            single.add_component(component)
        try:
            result.extend(recurring_ical_events.of(single).between(span.start, span.end))
        except Exception as exc:  # noqa: BLE001
            problems.append(Problem(_describe(components[0], where), f"skipped, cannot expand its recurrence: {exc}"))
    return result


def _check(component: Any, where: str) -> Problem | None:
    errors = [(name, msg) for name, msg in getattr(component, "errors", []) if name in _ESSENTIAL]
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


def _event(component: Any, zone: tzinfo, recurring: set[str], cancelled: bool) -> Event | None:
    start = _instant(component.decoded("DTSTART"), zone)
    if start is None:
        return None
    if component.get("DTEND") is not None:
        end = _instant(component.decoded("DTEND"), zone)
    elif component.get("DURATION") is not None:
        end = start + component.decoded("DURATION")
    else:
        end = start
    if end is None:
        return None
    end = max(end, start)
    uid = str(component["UID"])
    recurrence_id = None
    if uid in recurring and component.get("RECURRENCE-ID") is not None:
        recurrence_id = _instant(component.decoded("RECURRENCE-ID"), zone)
    status = str(component.get("STATUS", "CONFIRMED")).lower()
    if cancelled:
        status = "cancelled"
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

