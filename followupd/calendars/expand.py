"""Recurring series, expanded within bounds.

An interview does not recur more than a few times a day, and a pass must stay fast
whatever a calendar holds (an invitation can say FREQ=SECONDLY). So a series is
expanded only when the user takes part in it, at most MAX_PER_DAY occurrences a day
and MAX_PER_SERIES in all are read per series, and at most MAX_PER_PASS per pass;
what is cut is reported as a problem naming the event. The rule itself is bounded
before the expansion library sees it: a series that began long ago starts again just
before the range (the same occurrences, without counting every one since), a series
that would make thousands of occurrences in the range is stopped after enough of
them, RDATE lists keep only the dates near the range, and a local or date-only
UNTIL is turned into the instant it means in the event's zone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import icalendar
import recurring_ical_events

from followupd.calendars import MAX_PER_DAY, TimeRange

MAX_PER_SERIES = 500
MAX_PER_PASS = 20_000
MAX_SCAN = 1_500  # occurrences the expansion library may compute for one series
_MARGIN = timedelta(days=2)
_PERIOD = {
    "SECONDLY": timedelta(seconds=1),
    "MINUTELY": timedelta(minutes=1),
    "HOURLY": timedelta(hours=1),
    "DAILY": timedelta(days=1),
    "WEEKLY": timedelta(weeks=1),
    "MONTHLY": timedelta(days=28),
    "YEARLY": timedelta(days=365),
}
_SHIFTABLE = ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY")
_BY = ("BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH")


@dataclass
class Budget:
    """What one pass may still expand, and what it cut."""

    left: int = MAX_PER_PASS
    skipped_series: int = 0
    notes: dict[str, str] = field(default_factory=dict)  # UID -> what was cut
    daily: dict[str, timedelta] = field(default_factory=dict)  # UID -> period of a series read day by day


def naive_in(value: datetime, zone: tzinfo) -> datetime:
    return value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value


def fix_until(master: Any, zone: tzinfo) -> None:
    """A local-time UNTIL on a zoned start is that wall time in the start's zone (RFC 5545
    wants UTC; iPhone, Nextcloud and Outlook write local); a date-only UNTIL on a timed
    start includes that whole day in the start's zone (Google)."""
    start = master.decoded("DTSTART")
    if not isinstance(start, datetime):
        return
    rules = master.get("RRULE")
    for rule in rules if isinstance(rules, list) else [rules]:
        if rule is None or not rule.get("UNTIL"):
            continue
        until = rule["UNTIL"][0]
        if isinstance(until, datetime):
            if start.tzinfo is not None and until.tzinfo is None:
                until = until.replace(tzinfo=start.tzinfo).astimezone(UTC)
            elif start.tzinfo is None and until.tzinfo is not None:
                until = naive_in(until, zone)
        elif isinstance(until, date):
            last = datetime.combine(until + timedelta(days=1), time()) - timedelta(seconds=1)
            until = last.replace(tzinfo=start.tzinfo).astimezone(UTC) if start.tzinfo else last
        rule["UNTIL"] = [until]


def bound(master: Any, span: TimeRange, budget: Budget | None = None) -> str | None:
    """Make the series' rule cheap to expand over `span`; None, or why it cannot be read.

    A series repeating within a day, with no end in sight, is read day by day instead
    (see `expand`): its first MAX_PER_DAY occurrences each day."""
    rules = master.get("RRULE")
    if isinstance(rules, list):
        if len(rules) > 1:
            return None if all(_modest(r) for r in rules) else "it has several rules making too many occurrences"
        rules = rules[0]
    _keep_near_rdates(master, span)
    if rules is None:
        return None
    freq = str((rules.get("FREQ") or [""])[0]).upper()
    if freq not in _PERIOD:
        return f"its RRULE has no valid FREQ ({freq or 'none'})"
    try:
        interval = max(1, int((rules.get("INTERVAL") or [1])[0]))
    except (TypeError, ValueError):
        return "its RRULE INTERVAL is not a number"
    period = _PERIOD[freq] * interval
    per_period = math.prod(len(rules.get(key) or [None]) for key in _BY)
    start = master.decoded("DTSTART")
    if not isinstance(start, datetime):
        return None  # all-day: never expanded (see ical.events_in)
    duration = _duration(master, start)
    near = _compare(span.start, start)  # floating: a day or so either way
    in_range = (span.end - span.start + duration) / period * per_period
    if "COUNT" in rules:
        count = int(rules["COUNT"][0])
        if near <= start:
            return None if count <= MAX_SCAN else _capped(rules, MAX_SCAN)
        before = (near - start) / period * per_period
        if before > count + per_period:  # it ended before the range: nothing to read
            return None
        if before > 10 * MAX_SCAN:
            return "it repeats too often since too long ago to count its occurrences"
        return None if count - before <= MAX_SCAN else _capped(rules, int(before) + MAX_SCAN)
    if freq not in _SHIFTABLE:
        return None if in_range <= MAX_SCAN else "its RRULE makes too many occurrences in the range"
    if period < _PERIOD["DAILY"] and in_range > MAX_SCAN and budget is not None:
        budget.daily[str(master["UID"])] = period
        return None
    lead = (duration / period + 1) * per_period
    if lead > MAX_SCAN:
        return "its occurrences are too long for how often it repeats"
    if near - duration - period > start:
        steps = (near - duration - period - start) // period
        shift = period * steps
        _move(master, "DTSTART", start + shift)
        if master.get("DTEND") is not None:
            _move(master, "DTEND", master.decoded("DTEND") + shift)
    if in_range > MAX_SCAN:
        return _capped(rules, int(lead) + MAX_SCAN)
    return None


def _modest(rule: Any) -> bool:
    freq = str((rule.get("FREQ") or [""])[0]).upper()
    return freq in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY") and "BYHOUR" not in rule and "BYMINUTE" not in rule


def _capped(rule: Any, count: int) -> str | None:
    rule.pop("UNTIL", None)
    rule["COUNT"] = [count]
    return None


def _duration(master: Any, start: datetime) -> timedelta:
    try:
        if master.get("DTEND") is not None:
            end = master.decoded("DTEND")
            if isinstance(end, datetime) and (end.tzinfo is None) == (start.tzinfo is None):
                return max(end - start, timedelta(0))
        if master.get("DURATION") is not None:
            return max(master.decoded("DURATION"), timedelta(0))
    except (TypeError, ValueError, KeyError):
        pass
    return timedelta(0)


def _compare(instant: datetime, like: datetime) -> datetime:
    """`instant` in the same kind (floating or zoned) as `like`, to compare with it."""
    if like.tzinfo is None:
        return instant.replace(tzinfo=None) - _MARGIN
    return instant.astimezone(like.tzinfo)


def _move(component: Any, name: str, value: datetime) -> None:
    params = dict(component[name].params)
    component.pop(name)
    component.add(name, value)
    if "TZID" in params and value.tzinfo is not None and not hasattr(value.tzinfo, "key"):
        component[name].params["TZID"] = params["TZID"]  # a zone built from a VTIMEZONE


def _keep_near_rdates(master: Any, span: TimeRange) -> None:
    rdates = master.get("RDATE")
    if rdates is None:
        return
    values: list[Any] = []
    for prop in rdates if isinstance(rdates, list) else [rdates]:
        values.extend(v.dt for v in getattr(prop, "dts", []))
    low, high = span.start - _MARGIN - timedelta(days=1), span.end + _MARGIN
    kept = []
    for value in values:
        at = value[0] if isinstance(value, tuple) else value
        if not isinstance(at, datetime):
            continue  # an all-day date: never an interview
        aware = at if at.tzinfo else at.replace(tzinfo=UTC)
        if low <= aware <= high:
            kept.append(value)
    master.pop("RDATE")
    if kept:
        master.add("RDATE", kept[:MAX_PER_SERIES])


def expand(components: list[Any], zones: list[Any], span: TimeRange, day_zone: tzinfo, budget: Budget) -> list[Any]:
    """The occurrences of one series (its master and its moved instances) overlapping
    `span`, at most MAX_PER_DAY a day (in `day_zone`) and MAX_PER_SERIES in all."""
    uid = str(components[0]["UID"])
    if budget.left <= 0:
        budget.skipped_series += 1
        return []
    if uid in budget.daily:
        return _day_by_day(components, zones, span, day_zone, budget.daily[uid], budget)
    single = icalendar.Calendar()
    for component in [*zones, *components]:
        single.add_component(component)
    found = recurring_ical_events.of(single).between(span.start, span.end)
    budget.left -= len(found)
    found.sort(key=lambda c: _sort_key(c.decoded("DTSTART")))
    kept: list[Any] = []
    per_day: dict[date, int] = {}
    for occurrence in found:
        start = occurrence.decoded("DTSTART")
        day = naive_in(start, day_zone).date() if isinstance(start, datetime) else start
        if per_day.get(day, 0) >= MAX_PER_DAY or len(kept) >= MAX_PER_SERIES:
            continue
        per_day[day] = per_day.get(day, 0) + 1
        kept.append(occurrence)
    if len(kept) < len(found):
        budget.notes[uid] = (
            f"it recurs more often than an interview does; read {len(kept)} of its {len(found)} occurrences "
            f"in range (at most {MAX_PER_DAY} a day, {MAX_PER_SERIES} in all)"
        )
    return kept


def _day_by_day(
    components: list[Any], zones: list[Any], span: TimeRange, day_zone: tzinfo, period: timedelta, budget: Budget
) -> list[Any]:
    """A series repeating within the day, read one day (in `day_zone`) at a time: each
    day the rule restarts at its first occurrence that day and stops after MAX_PER_DAY,
    so the cost is a few occurrences a day, whatever the rule."""
    master, moved = components[0], components[1:]
    start = master.decoded("DTSTART")
    duration = _duration(master, start)
    rule = master["RRULE"]
    until = rule["UNTIL"][0] if rule.get("UNTIL") else None
    kept: list[Any] = []
    day = datetime.combine(span.start.astimezone(day_zone).date(), time(), day_zone)
    while day.astimezone(UTC) < span.end and budget.left > 0:
        next_day = datetime.combine(day.date() + timedelta(days=1), time(), day_zone)
        low = day if start.tzinfo else day.replace(tzinfo=None)
        steps = max(0, math.ceil((low - start) / period)) if low > start else 0
        first = start + period * steps
        if until is not None and _sort_key(first) > _sort_key(until):
            break
        copy = master.copy()
        copy.subcomponents = master.subcomponents
        _move(copy, "DTSTART", first)
        if copy.get("DTEND") is not None:
            _move(copy, "DTEND", first + duration)
        copy["RRULE"] = icalendar.vRecur(
            {k: v for k, v in rule.items() if k not in ("UNTIL", "COUNT")} | {"COUNT": [MAX_PER_DAY]}
        )
        single = icalendar.Calendar()
        for component in [*zones, copy, *moved]:
            single.add_component(component)
        found = recurring_ical_events.of(single).between(max(day.astimezone(UTC), span.start), next_day.astimezone(UTC))
        found = [o for o in found if until is None or _sort_key(o.decoded("DTSTART")) <= _sort_key(until)]
        found.sort(key=lambda c: _sort_key(c.decoded("DTSTART")))
        kept.extend(found[:MAX_PER_DAY])
        budget.left -= len(found)
        day = next_day
    budget.notes[str(master["UID"])] = (
        f"it repeats every {period}, more often than an interview does; at most {MAX_PER_DAY} occurrences a day are read"
    )
    return kept[:MAX_PER_SERIES]


def _sort_key(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(), UTC)
