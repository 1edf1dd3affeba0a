"""Reading iCalendar text as real calendar software writes it.

Before icalendar parses a document, the unambiguous slips of common producers are
put right in its text: components followupd never reads (to-dos, journals, free/busy)
are dropped unparsed, so a broken one cannot cost the calendar; TZID values are
trimmed, a blank one is given a name, and Outlook's display names and Windows ids are
mapped to IANA zones where no VTIMEZONE defines them; spaces inside an RRULE
(Exchange's "BYDAY=MO, TU") are removed; a SEQUENCE that is not a number (nothing here
needs it) is dropped. Several VCALENDARs in one file are read as one; a document
icalendar cannot read as a whole is read event by event, and only the broken events
are lost.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

import icalendar

from followupd.calendars.zones import resolve
from followupd.errors import Problem

log = logging.getLogger(__name__)

BLANK_TZID = "followupd-blank-tzid"
_UNFOLD = re.compile(rb"\r?\n[ \t]")
_UNUSED = re.compile(
    rb"^BEGIN:(VTODO|VJOURNAL|VFREEBUSY|VAVAILABILITY)[ \t]*\r?$.*?^END:\1[ \t]*(?:\r?\n|\Z)", re.M | re.S | re.I
)
_TZID_LINE = re.compile(rb"^TZID[ \t]*:([^\r\n]*)", re.M | re.I)
_VTIMEZONE = re.compile(rb"^BEGIN:VTIMEZONE[ \t]*\r?$.*?^END:VTIMEZONE[^\r\n]*", re.M | re.S | re.I)
# A TZID parameter: quoted, an Outlook display name written unquoted (its "(UTC-05:00)"
# holds a colon), or plain up to the next ; or :.
_TZID_PARAM = re.compile(rb';TZID=("[^"\r\n]*"|\((?:UTC|GMT)[^)\r\n]*\)[^;:\r\n]*|[^;:\r\n]*)', re.I)
_RRULE = re.compile(rb"^((?:RRULE|EXRULE)[^:\r\n]*:)([^\r\n]*)", re.M | re.I)
_SEQUENCE = re.compile(rb"^SEQUENCE[^:\r\n]*:(?![ \t]*\d+[ \t]*\r?$)[^\r\n]*\r?\n", re.M | re.I)
_BLOCK = re.compile(rb"^BEGIN:(VEVENT|VTIMEZONE)[ \t]*\r?$.*?^END:\1[ \t]*(?:\r?\n|\Z)", re.M | re.S | re.I)
_EMPTY_PARAM = re.compile(rb"^([A-Z][A-Z0-9-]*);(?:;)+", re.M | re.I)
_HAS_CALENDAR = re.compile(rb"^BEGIN:VCALENDAR", re.M | re.I)
_TIME_VALUE = re.compile(rb"^((?:DTSTART|DTEND|RECURRENCE-ID|EXDATE|RDATE)(?:;[^:\r\n]*)?:)[ \t]+", re.M | re.I)


class ParsedCalendar(icalendar.Calendar):
    """One calendar holding every VEVENT and VTIMEZONE of a document, with the
    problems met while reading it (events that could not be read at all)."""

    problems: list[Problem]


def repair(data: bytes) -> bytes:
    """The text with the slips described in the module docstring put right."""
    text = _UNFOLD.sub(b"", data)
    text = _UNUSED.sub(b"", text)
    renamed: dict[bytes, bytes] = {}

    def zone(match: re.Match[bytes]) -> bytes:
        # icalendar keeps every VTIMEZONE it meets in one process-wide cache keyed by
        # TZID, so two calendars defining "Customized Time Zone" (or a blank id)
        # differently would share the first definition: a custom id is made unique
        # to its definition.
        block = match.group(0)
        line = _TZID_LINE.search(block)
        if line is None:
            return block
        tzid = line.group(1).strip()
        if tzid and resolve(tzid.decode("utf-8", "replace")) is not None:
            return block
        plain = re.sub(rb"\\([,;\\])", rb"\1", tzid)  # a TEXT value: "Pacific Time (US & Canada)\, Tijuana"
        unique = (
            (re.sub(rb"[,;\\]", b"", plain) or BLANK_TZID.encode())
            + b" ~"
            + hashlib.sha256(block).hexdigest()[:10].encode()
        )
        renamed.setdefault(plain, unique)
        return block[: line.start()] + b"TZID:" + renamed[plain] + block[line.end() :]

    text = _VTIMEZONE.sub(zone, text)
    defined = {m.group(1).strip() for m in _TZID_LINE.finditer(text)}

    def param(match: re.Match[bytes]) -> bytes:
        raw = match.group(1).strip().strip(b'"').strip()
        if raw in renamed:
            raw = renamed[raw]
        elif not raw:
            return b";TZID=" + BLANK_TZID.encode()  # no VTIMEZONE for it: an unknown zone
        elif raw not in defined:
            name = resolve(raw.decode("utf-8", "replace"))
            if name is not None:
                return b";TZID=" + name.encode()
        if re.search(rb"[:;,~ ]", raw):
            return b';TZID="' + raw + b'"'
        return b";TZID=" + raw

    text = _TZID_PARAM.sub(param, text)
    text = _RRULE.sub(lambda m: m.group(1) + re.sub(rb"\s+", b"", m.group(2)), text)
    text = _TIME_VALUE.sub(rb"\1", text)  # "DTEND: 20240812T223000Z"
    text = _EMPTY_PARAM.sub(rb"\1;", text)  # "DTSTART;;VALUE=DATE-TIME:…"
    return _SEQUENCE.sub(b"", text)


def parse_calendar(data: bytes | str, where: str) -> ParsedCalendar:
    """Parse one iCalendar document; raise ValueError naming `where` if it is not one.

    Events that cannot be read are left out and named in the result's `problems`."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not _HAS_CALENDAR.search(raw):
        raise ValueError(f"{where} is not an iCalendar file (no BEGIN:VCALENDAR)")
    text = repair(raw)
    result = ParsedCalendar()
    result.problems = []
    try:
        parsed = icalendar.Calendar.from_ical(text, multiple=True)
    except Exception as exc:  # noqa: BLE001 - icalendar raises ValueError and friends on garbage
        log.debug("%s cannot be read as a whole (%s); reading it event by event", where, exc)
        return _piecewise(text, where, result)
    calendars = [c for c in parsed if isinstance(c, icalendar.Calendar) and c.name == "VCALENDAR"]
    if not calendars:
        # A download cut short: reading half of it would look like deleted events.
        raise ValueError(f"{where} is cut short or malformed (its VCALENDAR never ends)")
    for calendar in calendars:
        _merge(calendar, result)
    return result


def _merge(calendar: Any, into: ParsedCalendar) -> None:
    cancel = str(calendar.get("METHOD", "")).strip().upper() == "CANCEL"
    zones = {str(c.get("TZID", "")) for c in into.subcomponents if c.name == "VTIMEZONE"}
    for component in calendar.subcomponents:
        if component.name == "VTIMEZONE" and str(component.get("TZID", "")) not in zones:
            into.add_component(component)
        elif component.name == "VEVENT":
            if cancel:  # an organiser's cancellation notice: every event in it is off
                component.pop("STATUS", None)
                component.add("STATUS", "CANCELLED")
            into.add_component(component)


def _piecewise(text: bytes, where: str, result: ParsedCalendar) -> ParsedCalendar:
    blocks = [(m.group(1).upper(), m.group(0)) for m in _BLOCK.finditer(text)]
    zones: list[bytes] = []
    for kind, block in blocks:
        if kind == b"VTIMEZONE" and _parse_one(block) is not None:
            zones.append(block)
    cancel = re.search(rb"^METHOD:\s*CANCEL\s*$", text, re.M | re.I) is not None
    header = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + (b"METHOD:CANCEL\r\n" if cancel else b"")
    for kind, block in blocks:
        if kind != b"VEVENT":
            continue
        wrapped = header + b"".join(zones) + block + b"END:VCALENDAR\r\n"
        try:
            calendar = icalendar.Calendar.from_ical(wrapped)
        except Exception as exc:  # noqa: BLE001
            uid = re.search(rb"^UID[^:\r\n]*:([^\r\n]*)", block, re.M | re.I)
            label = f"an event (UID {uid.group(1).decode('utf-8', 'replace')[:80]})" if uid else "an event"
            result.problems.append(Problem(f"{where}: {label}", f"skipped, it cannot be read: {exc}"))
            continue
        _merge(calendar, result)
    if not any(c.name == "VEVENT" for c in result.subcomponents) and not result.problems:
        raise ValueError(f"{where} is not an iCalendar file (it cannot be parsed)")
    return result


def _parse_one(block: bytes) -> Any:
    try:
        return icalendar.Calendar.from_ical(b"BEGIN:VCALENDAR\r\n" + block + b"END:VCALENDAR\r\n")
    except Exception:  # noqa: BLE001
        return None
