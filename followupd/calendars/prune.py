"""Pruning a big iCalendar text before it is parsed (parsing dominates reading it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta

from followupd.calendars import TimeRange

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
    Given `wanted`, a series none of whose parts it accepts is dropped whole.
    """
    first = (span.start - PRUNE_MARGIN).strftime("%Y%m%d").encode()
    last = (span.end + PRUNE_MARGIN).strftime("%Y%m%d").encode()
    blocks: list[tuple[bytes, str | None, bytes | None]] = []  # (text, verdict, UID line)
    recurring: set[bytes] = set()
    for block, upper in _blocks(data):
        if upper is None:
            blocks.append((block, None, None))
            continue
        verdict, uid = _judge(upper, first, last)
        if verdict == "series" and uid is not None:
            recurring.add(uid)
        blocks.append((block, verdict, uid))
    # A series is kept whole when any of its parts could be an interview (a moved
    # instance may be the one titled "Interview"), and dropped whole otherwise.
    mentioned: set[bytes] = set()
    if wanted is not None:
        for block, _, uid in blocks:
            if uid in recurring and uid not in mentioned and wanted(block.decode("utf-8", "replace")):
                mentioned.add(uid)
    out: list[bytes] = []
    for block, kind, uid in blocks:
        if kind is None:
            keep = True
        elif uid in recurring or (kind == "series" and uid is None):
            keep = wanted is None or uid is None or uid in mentioned
        else:
            keep = kind == "keep" and (wanted is None or wanted(block.decode("utf-8", "replace")))
        if keep:
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
