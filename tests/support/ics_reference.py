"""A second, independent reader of iCalendar files, for the corpus test.

It shares no code with followupd (nor icalendar or recurring_ical_events): lines are
unfolded and split here, VTIMEZONEs are read by dateutil's tzical, IANA zones by
zoneinfo, recurrences by dateutil's rrule. It reads only what the corpus test needs:
the timed, not cancelled VEVENTs of a file and their occurrences in a range, in UTC.
It follows the decisions README "How it decides" states, written again from the
words, not from followupd's code: all-day events are skipped; a floating time is
read in the user's zone, or in the zone of the other end of the event when that has
one; an end before the start, or of another kind, is ignored; a local UNTIL is a wall
time in the start's zone and a date-only UNTIL includes that day; an unknown TZID is
read in the user's zone; at most 3 occurrences a day and 500 per series are read.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from dateutil import rrule as du_rrule
from dateutil import tz as du_tz

NO_UID = "(no UID)"  # events without one: compared by their times only
PER_DAY = 3
PER_SERIES = 500
_WINDOWS = Path(__file__).resolve().parent.parent.parent / "followupd/data/windows_zones.json"  # data, not code
_IANA = available_timezones()


@dataclass
class Prop:
    name: str
    params: dict[str, str]
    value: str


@dataclass
class Component:
    name: str
    props: list[Prop] = field(default_factory=list)
    children: list[Component] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def get(self, name: str) -> Prop | None:
        return next((p for p in self.props if p.name == name), None)

    def all(self, name: str) -> list[Prop]:
        return [p for p in self.props if p.name == name]


def split_line(line: str) -> Prop | None:
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            head, value = line[:i], line[i + 1 :]
            break
    else:
        return None
    parts: list[str] = []
    current, quoted = "", False
    for ch in head:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    params = {}
    for part in parts[1:]:
        key, _, val = part.partition("=")
        params[key.strip().upper()] = val.strip().strip('"').strip()
    return Prop(parts[0].strip().upper(), params, value)


def parse(text: str) -> list[Component]:
    lines = re.sub(r"\r?\n[ \t]", "", text).splitlines()
    roots: list[Component] = []
    stack: list[Component] = []
    for line in lines:
        for c in stack:
            c.text.append(line)
        prop = split_line(line)
        if prop is None:
            continue
        if prop.name == "BEGIN":
            comp = Component(prop.value.strip().upper(), text=[line])
            (stack[-1].children if stack else roots).append(comp)
            stack.append(comp)
        elif prop.name == "END":
            if stack:
                stack.pop()
        elif stack:
            stack[-1].props.append(prop)
    return roots


class Zones:
    def __init__(self, calendars: list[Component], user_zone: tzinfo) -> None:
        self.user = user_zone
        self.defined: dict[str, tzinfo] = {}
        for cal in calendars:
            for comp in cal.children:
                if comp.name != "VTIMEZONE" or comp.get("TZID") is None:
                    continue
                tzid = _unescape(comp.get("TZID").value).strip()  # type: ignore[union-attr]
                # dateutil's tzical reads only the standard properties
                keep = ("BEGIN", "END", "DTSTART", "TZOFFSETFROM", "TZOFFSETTO", "RRULE", "RDATE", "TZNAME")
                lines = [ln for ln in comp.text if ln.split(":")[0].split(";")[0].upper() in keep]
                body = "\n".join(["BEGIN:VTIMEZONE", "TZID:z", *lines[1:]])
                try:
                    self.defined.setdefault(tzid, du_tz.tzical(io.StringIO(body)).get("z"))
                except Exception:  # noqa: BLE001 - a VTIMEZONE dateutil cannot read: try the name
                    pass
        self.windows = json.loads(_WINDOWS.read_text("utf-8"))
        self.unknown: set[str] = set()

    def get(self, tzid: str) -> tzinfo | None:
        name = _unescape(tzid).strip()
        if name in _IANA:
            return ZoneInfo(name)
        if name in self.defined:
            return self.defined[name]
        if name.startswith("/"):
            parts = name.strip("/").split("/")
            for cut in range(len(parts)):
                if "/".join(parts[cut:]) in _IANA:
                    return ZoneInfo("/".join(parts[cut:]))
        for table in ("windows", "display"):
            for key, iana in self.windows[table].items():
                bare = re.sub(r"^\((?:UTC|GMT)[^)]*\)\s*", "", key).casefold()
                if (
                    key.casefold() == name.casefold()
                    or bare == re.sub(r"^\((?:UTC|GMT)[^)]*\)\s*", "", name).casefold()
                ):
                    return ZoneInfo(iana)
        self.unknown.add(name)
        return None


def _unescape(text: str) -> str:
    return re.sub(r"\\([,;\\])", r"\1", text)


def value_of(prop: Prop, zones: Zones) -> datetime | date | None:
    raw = prop.value.strip().split(",")[0]
    if prop.params.get("VALUE", "").upper() == "DATE" or re.fullmatch(r"\d{8}", raw):
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:8])) if re.match(r"\d{8}", raw) else None
    m = re.fullmatch(r"(\d{8})T(\d{6})(Z?)", raw)
    if not m:
        return None
    try:
        at = datetime.strptime(m.group(1) + "T" + m.group(2), "%Y%m%dT%H%M%S")
    except ValueError:
        return None  # no such day or time
    if m.group(3):
        return at.replace(tzinfo=UTC)
    if "TZID" in prop.params:
        zone = zones.get(prop.params["TZID"])
        return at.replace(tzinfo=zone) if zone else at
    return at


def values_of(prop: Prop, zones: Zones) -> list[datetime]:
    found = []
    for raw in prop.value.split(","):
        one = value_of(Prop(prop.name, prop.params, raw.split("/")[0]), zones)
        if isinstance(one, datetime):
            found.append(one)
    return found


def duration(text: str) -> timedelta | None:
    m = re.fullmatch(r"([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", text.strip())
    if not m:
        return None
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in m.groups()[1:])
    sign = -1 if m.group(1) == "-" else 1
    return sign * timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def utc(at: datetime, user: tzinfo) -> datetime:
    return (at if at.tzinfo else at.replace(tzinfo=user)).astimezone(UTC)


def occurrences(text: str, start: datetime, end: datetime, user: tzinfo) -> list[tuple[str, str]]:
    """(UID, start in UTC ISO 8601) of each timed, not cancelled occurrence overlapping
    [start, end), sorted."""
    calendars = [c for c in parse(text) if c.name == "VCALENDAR"]
    zones = Zones(calendars, user)
    by_uid: dict[str, list[tuple[Component, bool]]] = {}
    for cal in calendars:
        cancel = (cal.get("METHOD").value.strip().upper() if cal.get("METHOD") else "") == "CANCEL"  # type: ignore[union-attr]
        for comp in cal.children:
            if comp.name == "VEVENT" and comp.get("DTSTART") is not None:
                uid = comp.get("UID").value.strip() if comp.get("UID") else NO_UID  # type: ignore[union-attr]
                key = uid if uid != NO_UID else f"{NO_UID} {id(comp)}"  # each one on its own
                by_uid.setdefault(key, []).append((comp, cancel))
    found: list[tuple[str, datetime]] = []
    for key, comps in by_uid.items():
        found += _series(NO_UID if key.startswith(NO_UID) else key, comps, zones, start, end, user)
    return sorted((u, s.isoformat()) for u, s in found)


def _times(comp: Component, zones: Zones) -> tuple[datetime, datetime] | None:
    s = value_of(comp.get("DTSTART"), zones)  # type: ignore[arg-type]
    if not isinstance(s, datetime):
        return None
    e: Any = None
    if comp.get("DTEND") is not None:
        e = value_of(comp.get("DTEND"), zones)  # type: ignore[arg-type]
        if isinstance(e, datetime):
            if s.tzinfo is None and e.tzinfo is not None:
                s = s.replace(tzinfo=e.tzinfo)
            elif e.tzinfo is None and s.tzinfo is not None:
                e = e.replace(tzinfo=s.tzinfo)
        if not isinstance(e, datetime) or e < s:
            e = None
    elif comp.get("DURATION") is not None:
        d = duration(comp.get("DURATION").value)  # type: ignore[union-attr]
        e = s + d if d is not None and d >= timedelta(0) else None
    return s, (e if e is not None else s)


def _cancelled(comp: Component, cancel: bool) -> bool:
    return cancel or (comp.get("STATUS") is not None and comp.get("STATUS").value.strip().upper() == "CANCELLED")  # type: ignore[union-attr]


def _overlaps(s: datetime, e: datetime, start: datetime, end: datetime) -> bool:
    return s < end and (e > start or s == e >= start)


def _series(uid: str, comps: list, zones: Zones, start: datetime, end: datetime, user: tzinfo) -> list:
    masters = [(c, x) for c, x in comps if c.get("RECURRENCE-ID") is None]
    moved = _newest([(c, x) for c, x in comps if c.get("RECURRENCE-ID") is not None])
    result: list[tuple[datetime, datetime]] = []
    replaced: set[datetime] = set()
    for comp, cancel in moved:
        rid = value_of(comp.get("RECURRENCE-ID"), zones)  # type: ignore[arg-type]
        if isinstance(rid, datetime):
            replaced.add(utc(rid, user))
        times = _times(comp, zones)
        if times and not _cancelled(comp, cancel) and _overlaps(utc(times[0], user), utc(times[1], user), start, end):
            result.append((utc(times[0], user), utc(times[1], user)))
    if masters:  # several copies of one event: the highest SEQUENCE (RFC 5545 3.8.7.4), else the first
        comp, cancel = max(
            masters,
            key=lambda m: (
                int(m[0].get("SEQUENCE").value)
                if m[0].get("SEQUENCE") and m[0].get("SEQUENCE").value.strip().isdigit()
                else 0
            ),
        )  # type: ignore[union-attr]
        times = _times(comp, zones)
        if times is not None and not _cancelled(comp, cancel):
            s, e = times
            for at in _instances(comp, s, e - s, zones, start, end, user):
                if utc(at, user) not in replaced:
                    a = utc(at, user)
                    if _overlaps(a, a + (e - s), start, end):
                        result.append((a, a + (e - s)))
    result.sort()
    kept, per_day = [], {}  # type: ignore[var-annotated]
    for s, _ in result:
        day = s.astimezone(user).date()
        if per_day.get(day, 0) < PER_DAY and len(kept) < PER_SERIES:
            per_day[day] = per_day.get(day, 0) + 1
            kept.append((uid, s))
    return kept


def _newest(moved: list) -> list:
    """Of several versions of one moved instance, the one with the highest SEQUENCE."""
    best: dict[str, tuple[int, Any]] = {}
    for comp, cancel in moved:
        seq = comp.get("SEQUENCE")
        n = int(seq.value) if seq is not None and seq.value.strip().isdigit() else 0
        key = comp.get("RECURRENCE-ID").value.strip()
        if key not in best or n > best[key][0]:
            best[key] = (n, (comp, cancel))
    return [v for _, v in best.values()]


def _instances(
    comp: Component, s: datetime, length: timedelta, zones: Zones, start: datetime, end: datetime, user: tzinfo
) -> list[datetime]:
    rules = comp.all("RRULE")
    rdates = [v for p in comp.all("RDATE") for v in values_of(p, zones)]
    if not rules and not rdates:
        return [s]
    rset = du_rrule.rruleset()
    for prop in rules:
        try:
            rset.rrule(du_rrule.rrulestr(_until(prop.value.replace("\\;", ";"), s, user), dtstart=s))
        except (ValueError, TypeError):
            return []  # a rule that cannot be read: the series is skipped
    rset.rdate(s)
    for at in rdates:
        rset.rdate(at if (at.tzinfo is None) == (s.tzinfo is None) else _like(at, s, user))
    for prop in comp.all("EXDATE"):
        for at in values_of(prop, zones):
            rset.exdate(at if (at.tzinfo is None) == (s.tzinfo is None) else _like(at, s, user))
    low, high = start - length - timedelta(seconds=1), end
    if s.tzinfo is None:
        low, high = low.astimezone(user).replace(tzinfo=None), high.astimezone(user).replace(tzinfo=None)
    return list(rset.between(low, high, inc=True))


def _like(at: datetime, s: datetime, user: tzinfo) -> datetime:
    if s.tzinfo is None:
        return at.astimezone(user).replace(tzinfo=None)
    return at.replace(tzinfo=user) if at.tzinfo is None else at


def _until(rule: str, s: datetime, user: tzinfo) -> str:
    rule = re.sub(r"\s+", "", rule)
    m = re.search(r"UNTIL=(\d{8})(T\d{6})?(Z?)", rule, re.I)
    if not m:
        return rule
    day = datetime.strptime(m.group(1), "%Y%m%d")
    if m.group(2):
        at = datetime.strptime(m.group(1) + m.group(2), "%Y%m%dT%H%M%S")
        if m.group(3):
            at = at.replace(tzinfo=UTC)
    else:
        at = datetime.combine(day.date() + timedelta(days=1), time()) - timedelta(seconds=1)
    if s.tzinfo is None:
        text = (at.astimezone(user).replace(tzinfo=None) if at.tzinfo else at).strftime("%Y%m%dT%H%M%S")
    else:
        text = (at if at.tzinfo else at.replace(tzinfo=s.tzinfo)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return rule[: m.start()] + "UNTIL=" + text + rule[m.end() :]
