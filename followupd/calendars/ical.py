"""iCalendar data (RFC 5545) to Events, shared by the ICS and CalDAV sources."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import icalendar
import recurring_ical_events

from followupd.calendars import TimeRange
from followupd.errors import Problem
from followupd.model import Attendee, Cutype, Event, Partstat

log = logging.getLogger(__name__)

_ESSENTIAL = {"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"}
_SERIES = ("RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")


def parse_calendar(data: bytes | str, where: str) -> icalendar.Calendar:
    """Parse one iCalendar document; raise ValueError naming `where` if it is not one."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception as exc:  # noqa: BLE001 - icalendar raises ValueError and friends on garbage
        raise ValueError(f"{where} is not an iCalendar file: {exc}") from None
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise ValueError(f"{where} is not an iCalendar file (no BEGIN:VCALENDAR)")
    return calendar


# A VEVENT that is not part of a recurring series is kept by `prune` unless its dates
# put it this far outside the range: an instant's date differs by at most a day between
# time zones, so two days spare cover TZIDs and floating times without reading them.
PRUNE_MARGIN = timedelta(days=2)
_RECURRING = (b"RRULE", b"RDATE", b"EXDATE", b"RECURRENCE-ID")
# The lines `prune` reads, matched in upper-cased text (a value folded over lines is
# not read: the event is kept), and DTSTAMP lines, which nothing here reads and which
# a feed like Google's sets to the time of every download.
_LINES = re.compile(rb"^(DTSTART|DTEND|DURATION|RRULE|RDATE|EXDATE|RECURRENCE-ID|UID|BEGIN)([;:][^\r\n]*)", re.M)
_DATE = re.compile(rb"(\d{8})(?:T\d{6}Z?)?\s*")
_DTSTAMP = re.compile(rb"^DTSTAMP[;:][^\r\n]*\r?\n(?![ \t])", re.M | re.I)


def prune(data: bytes, span: TimeRange, wanted: Callable[[str], bool] | None = None) -> bytes:
    """The iCalendar text without the one-off VEVENTs that cannot overlap `span` (or,
    given `wanted`, whose text it rejects), and without DTSTAMP lines.

    Parsing dominates reading a big calendar (icalendar spends tens of microseconds
    per line), and a calendar kept for years is mostly events far from today. This
    looks only at the DTSTART/DTEND dates in each VEVENT's text; anything it cannot
    read with certainty, and every event of a recurring series, is kept for
    icalendar to judge, so `events_in` gives the same result on the pruned text.
    """
    first = (span.start - PRUNE_MARGIN).strftime("%Y%m%d").encode()
    last = (span.end + PRUNE_MARGIN).strftime("%Y%m%d").encode()
    out: list[bytes] = []
    dropped: list[tuple[bytes | None, bytes]] = []
    recurring: set[bytes] = set()
    for block, upper in _blocks(data):
        if upper is None:
            out.append(block)
            continue
        verdict, uid = _judge(upper, first, last)
        if verdict == "series" and uid is not None:
            recurring.add(uid)
        if verdict == "keep" and wanted is not None and not wanted(block.decode("utf-8", "replace")):
            verdict = "outside"  # cannot be an interview: not worth parsing
        if verdict == "outside":
            dropped.append((uid, block))
        else:
            out.append(block)
    for uid, block in dropped:
        if uid is not None and uid in recurring:  # a stray part of a series: keep it
            out.append(block)
    return _DTSTAMP.sub(b"", b"".join(out))


def _blocks(data: bytes) -> Iterator[tuple[bytes, bytes | None]]:
    """The text cut into (VEVENT, its upper-case copy) and (whatever lies between,
    None), in order. BEGIN and END count only at the start of a line."""
    upper = data.upper()
    position = start = 0
    while True:
        begin = upper.find(b"BEGIN:VEVENT", start)
        if begin < 0:
            break
        if begin and data[begin - 1] not in b"\r\n":
            start = begin + 1
            continue
        end = upper.find(b"END:VEVENT", begin)
        while end >= 0 and data[end - 1] not in b"\r\n":
            end = upper.find(b"END:VEVENT", end + 1)
        if end < 0:
            break  # never closed: icalendar decides what it is
        line_end = data.find(b"\n", end)
        stop = len(data) if line_end < 0 else line_end + 1
        yield data[position:begin], None
        yield data[begin:stop], upper[begin:stop]
        position = start = stop
    yield data[position:], None


def _judge(upper: bytes, first: bytes, last: bytes) -> tuple[str, bytes | None]:
    """("series" | "outside" | "keep", the UID line) for one VEVENT's upper-cased text:
    "outside" only when its dates certainly put it wholly before `first` or after
    `last` (dates as YYYYMMDD)."""
    seen: dict[bytes, list[bytes]] = {}
    for name, rest in _LINES.findall(upper):
        seen.setdefault(name, []).append(rest)
    uid = b"UID" + seen[b"UID"][0].strip() if b"UID" in seen else None
    if any(n in seen for n in _RECURRING) or seen.get(b"BEGIN", []).count(b":VEVENT") != 1:
        return "series", uid
    start = _only_date(seen.get(b"DTSTART"))
    if start is None:
        return "keep", uid
    if start > last:
        return "outside", uid
    if b"DTEND" in seen:
        end = _only_date(seen[b"DTEND"])
        # an end before the start counts as the start
        return ("outside" if end is not None and max(start, end) < first else "keep"), uid
    if b"DURATION" in seen:
        return "keep", uid  # could be long; not worth reading here
    return ("outside" if start < first else "keep"), uid


def _only_date(values: list[bytes] | None) -> bytes | None:
    """The date of a property that is there exactly once with a readable value."""
    if values is None or len(values) != 1:
        return None
    match = _DATE.fullmatch(values[0].rsplit(b":", 1)[-1])
    return match.group(1) if match else None


def overlaps(start: datetime, end: datetime, span: TimeRange) -> bool:
    """The overlap rule of recurring_ical_events' `between`: a zero-length event counts
    at the start of the range, not at its end."""
    return start < span.end and (end > span.start or start == end >= span.start)


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
    vevents: list[Any] = []
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
                if any(component.get(p) for p in _SERIES):
                    recurring.add(str(component["UID"]))
                vevents.append(component)

    # A one-off event needs no expansion: recurring_ical_events would only hand back a
    # copy of it, and that is most of its time on a big calendar. Series, and a UID that
    # appears twice, go through it.
    counts = Counter(str(c["UID"]) for c in vevents)
    recurring |= {uid for uid, n in counts.items() if n > 1}
    events: list[Event] = []
    for component in vevents:
        if str(component["UID"]) in recurring or _backwards(component):
            clean.add_component(component)
            continue
        try:
            event = _event(component, zone, recurring, cancelled_calendar)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problems.append(Problem(_describe(component, where), f"skipped: {exc}"))
            continue
        if event is not None and overlaps(event.start, event.end, span):
            events.append(event)
    for occurrence in _expand(clean, span, problems, where):
        try:
            event = _event(occurrence, zone, recurring, cancelled_calendar)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problems.append(Problem(_describe(occurrence, where), f"skipped: {exc}"))
            continue
        if event is not None:
            events.append(event)
    return events, problems


def _backwards(component: Any) -> bool:
    """An end before the start (recurring_ical_events reads it as the other way round)."""
    if component.get("DTEND") is None:
        return False
    try:
        return bool(component.decoded("DTEND") < component.decoded("DTSTART"))
    except TypeError:  # a date against a date-time, or floating against zoned
        return True


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
