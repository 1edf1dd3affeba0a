"""Reading a big ICS file cheaply must not change what is read: `prune` drops only
one-off events that cannot overlap the range, and IcsSource's memory of the last
parse gives what a fresh parse would (bench/scale.py measures the gain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followupd import config as config_module
from followupd.calendars import TimeRange
from followupd.calendars.ical import _check, _event, events_in, parse_calendar, prune
from followupd.calendars.ics import IcsSource
from followupd.model import Event

from support.harness import make_maildir, write_config
from support.ics import calendar, vevent

NOW = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
SPAN = TimeRange(NOW - timedelta(days=3), NOW + timedelta(days=60))
ZONE = ZoneInfo("Europe/London")
TZIDS = (None, "Z", "America/Los_Angeles", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/London")


def read(text: str, span: TimeRange = SPAN) -> tuple[list, list]:
    return events_in([parse_calendar(text.encode(), "test")], span, ZONE, "test")


def expanded(text: str, span: TimeRange) -> list:
    """What events_in gave when every event, one-off or not, went through
    recurring_ical_events (it now reads one-off events itself)."""
    parsed = icalendar.Calendar()
    for component in parse_calendar(text.encode(), "test").subcomponents:
        if component.name != "VEVENT" or _check(component, "test") is None:
            if component.name == "VEVENT" and _backwards(component):
                component.pop("DTEND")  # README: an end before the start is ignored
            parsed.add_component(component)
    series = {
        str(c["UID"]) for c in parsed.walk("VEVENT") if any(c.get(p) for p in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }
    found = (
        _event(c, ZONE, str(c["UID"]) in series) for c in recurring_ical_events.of(parsed).between(span.start, span.end)
    )
    return sorted((e for e in found if e is not None), key=_order)


def _backwards(component: icalendar.Event) -> bool:
    if component.get("DTEND") is None:
        return False
    try:
        return bool(component.decoded("DTEND") < component.decoded("DTSTART"))
    except TypeError:
        return False


def _order(event: Event) -> tuple:
    return (event.uid, event.start, event.end)


def assert_same(text: str, span: TimeRange = SPAN) -> None:
    full = read(text, span)
    pruned = events_in([parse_calendar(prune(text.encode(), span), "test")], span, ZONE, "test")
    assert pruned == full
    # recurring_ical_events does wall-clock arithmetic on an event that spans a DST
    # change (its end comes out an hour off), so ends are not compared, nor events
    # within two hours of the range's edges by either reading.
    ours, theirs = sorted(full[0], key=_order), expanded(text, span)
    edge = timedelta(hours=2)
    near = {e.uid for e in ours + theirs if abs(e.end - span.start) <= edge or abs(e.start - span.end) <= edge}
    assert [(e.uid, e.start) for e in ours if e.uid not in near] == [
        (e.uid, e.start) for e in theirs if e.uid not in near
    ]


def event(uid: str, start: datetime, end: datetime | None, tzid: str | None, extra: str = "") -> str:
    def when(name: str, at: datetime) -> str:
        if tzid is None:
            return f"{name}:{at.strftime('%Y%m%dT%H%M%S')}"
        if tzid == "Z":
            return f"{name}:{at.strftime('%Y%m%dT%H%M%SZ')}"
        return f"{name};TZID={tzid}:{at.strftime('%Y%m%dT%H%M%S')}"

    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", when("DTSTART", start)]
    if end is not None:
        lines.append(when("DTEND", end))
    lines += ["SUMMARY:Interview at Acme", *extra.split("\n")] if extra else ["SUMMARY:Interview at Acme"]
    return "\n".join([*lines, "END:VEVENT"])


def test_the_edges_read_the_same() -> None:
    naive = NOW.replace(tzinfo=None)
    events = [
        event("inside", naive, naive + timedelta(hours=1), "Z"),
        event("long-ago", naive - timedelta(days=400), naive - timedelta(days=400, hours=-1), "Z"),
        event("far-ahead", naive + timedelta(days=300), naive + timedelta(days=300, hours=1), None),
        # just outside at either end, in zones 14 and 11 hours away from UTC
        event(
            "edge-start", naive - timedelta(days=3, hours=1), naive - timedelta(days=3, minutes=1), "Pacific/Kiritimati"
        ),
        event(
            "edge-end", naive + timedelta(days=60, minutes=1), naive + timedelta(days=60, hours=2), "Pacific/Pago_Pago"
        ),
        event("end-before-start", naive + timedelta(days=1), naive - timedelta(days=30), "Z"),
        event("long-duration", naive - timedelta(days=30), None, "Z", "DURATION:P40D"),
        event("no-end", naive - timedelta(days=3), None, None),
        event(
            "alarm",
            naive + timedelta(days=2),
            naive + timedelta(days=2, hours=1),
            "Z",
            "BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT15M\nDESCRIPTION:DTSTART:19990101\nEND:VALARM",
        ),
        # a weekly series that began long ago, with a moved instance and a stray copy
        event("series", naive - timedelta(days=365), naive - timedelta(days=365, hours=-1), "Z", "RRULE:FREQ=WEEKLY"),
        event(
            "series",
            naive + timedelta(days=8),
            naive + timedelta(days=8, hours=1),
            "Z",
            f"RECURRENCE-ID:{(naive - timedelta(days=365) + timedelta(weeks=53)).strftime('%Y%m%dT%H%M%SZ')}",
        ),
        "BEGIN:VEVENT\nUID:folded\nDTSTAMP:20260101T000000Z\nDTSTART;TZID=Europe/\n London:20261105T100000\nDTEND:2026\n 1105T110000Z\n"
        "SUMMARY:Interview\nEND:VEVENT",
        "BEGIN:VEVENT\nUID:broken\nDTSTAMP:20260101T000000Z\nDTSTART:garbage\nSUMMARY:Interview\nEND:VEVENT",
        vevent("date-only", NOW.date(), NOW.date() + timedelta(days=1)),
    ]
    text = calendar(*events)
    assert_same(text)
    pruned = prune(text.encode(), SPAN)
    assert b"UID:long-ago" not in pruned and b"UID:far-ahead" not in pruned
    assert b"UID:series" in pruned and b"UID:broken" in pruned
    uids = {e.uid for e in read(text)[0]}
    assert {"inside", "series", "folded", "long-duration", "end-before-start"} <= uids
    (backwards,) = [e for e in read(text)[0] if e.uid == "end-before-start"]
    assert backwards.start == NOW + timedelta(days=1) == backwards.end


def test_zones_far_from_utc_near_the_edges() -> None:
    # The local date of an instant can be a day before or after its UTC date.
    span = TimeRange(datetime(2026, 11, 1, 5, 0, tzinfo=UTC), datetime(2026, 12, 1, 20, 0, tzinfo=UTC))
    events = [
        event("pago-start", datetime(2026, 10, 31, 19, 0), datetime(2026, 10, 31, 20, 0), "Pacific/Pago_Pago"),
        event("kiri-end", datetime(2026, 12, 2, 8, 0), datetime(2026, 12, 2, 9, 0), "Pacific/Kiritimati"),
    ]
    text = calendar(*events)
    assert sorted(e.uid for e in read(text, span)[0]) == ["kiri-end", "pago-start"]
    assert_same(text, span)


def test_a_file_that_is_not_a_calendar_is_left_to_the_parser() -> None:
    assert prune(b"hello\nworld\n", SPAN) == b"hello\nworld\n"
    assert prune(b"BEGIN:VEVENT\nDTSTART:19990101T000000Z\n", SPAN) == b"BEGIN:VEVENT\nDTSTART:19990101T000000Z\n"


# hours from NOW: anywhere, or within two days of either end of SPAN
when = st.one_of(
    st.integers(min_value=-200 * 24, max_value=200 * 24),
    st.integers(min_value=-5 * 24, max_value=-1 * 24),
    st.integers(min_value=58 * 24, max_value=62 * 24),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            when,
            st.integers(min_value=-3, max_value=72),
            st.sampled_from(TZIDS),
            st.sampled_from(["", "DURATION", "noend", "RRULE"]),
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(min_value=-12 * 60, max_value=12 * 60),
)
def test_pruning_never_changes_what_is_read(specs: list[tuple[int, int, str | None, str]], shift: int) -> None:
    naive = NOW.replace(tzinfo=None)
    events = []
    for n, (hours, length, tzid, kind) in enumerate(specs):
        start = naive + timedelta(hours=hours)
        if kind == "DURATION":
            events.append(event(f"e{n}", start, None, tzid, f"DURATION:PT{max(length, 0)}H"))
        elif kind == "noend":
            events.append(event(f"e{n}", start, None, tzid))
        elif kind == "RRULE":
            events.append(event(f"e{n}", start, start + timedelta(hours=1), tzid, "RRULE:FREQ=WEEKLY;COUNT=6"))
        else:
            events.append(event(f"e{n}", start, start + timedelta(hours=length), tzid))
    assert_same(
        calendar(*events), TimeRange(SPAN.start + timedelta(minutes=shift), SPAN.end + timedelta(minutes=shift))
    )


def test_the_source_remembers_and_notices_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    ics = home / "calendar.ics"
    config = config_module.load(
        write_config(home, f'kind = "ics"\npath = "{ics}"', f'kind = "maildir"\npath = "{make_maildir(home / "Mail")}"')
    )
    base = NOW
    far = base + timedelta(days=60, hours=2)  # enters the window two hours later
    ics.write_text(calendar(vevent("a", base, base + timedelta(hours=1)), vevent("far", far, far + timedelta(hours=1))))
    parses = []
    real = icalendar.Calendar.from_ical
    source = IcsSource(config)

    def fetch(at: datetime) -> list[str]:
        span = TimeRange(at - timedelta(days=3), at + timedelta(days=60))
        with monkeypatch.context() as patch:  # count the source's own parses
            patch.setattr(icalendar.Calendar, "from_ical", lambda data, **kw: parses.append(1) or real(data, **kw))
            changes = source.fetch(None, span)
        fresh = events_in([parse_calendar(ics.read_bytes(), "x")], span, config.me.timezone, "x")[0]
        assert changes.events == fresh  # what a fresh, whole parse gives
        return sorted(e.uid for e in changes.events)

    assert fetch(base) == ["a"]
    count = len(parses)
    assert count == 1
    assert fetch(base + timedelta(minutes=5)) == ["a"]
    assert fetch(base + timedelta(hours=3)) == ["a", "far"]  # entered the window: same day, no new parse
    assert len(parses) == count
    ics.write_text(ics.read_text().replace("DTSTAMP:20260101T000000Z", "DTSTAMP:20261104T150000Z"))
    assert fetch(base + timedelta(hours=3, minutes=5)) == ["a", "far"]  # a feed re-stamped on download
    assert len(parses) == count
    ics.write_text(calendar(vevent("a", base, base + timedelta(hours=1), summary="Interview moved")))
    assert fetch(base + timedelta(hours=4)) == ["a"]
    assert len(parses) > count


def test_only_events_that_could_be_interviews_are_parsed() -> None:
    from followupd.config import Detect, Me
    from followupd.detect import Detector

    detector = Detector(Me(name="Ada", email="ada@example.org", timezone=ZONE), Detect())
    start = NOW + timedelta(days=1)
    folded = vevent("folded", start, start + timedelta(hours=1), "Chat").replace(
        "SUMMARY:Chat",
        "SUMMARY:Phone scr\n een with Acme",  # a keyword folded over two lines
    )
    text = calendar(
        vevent("lunch", start, start + timedelta(hours=1), "Lunch with Sam"),
        vevent("interview", start, start + timedelta(hours=1), "Interview: Engineer at Acme"),
        vevent("described", start, start + timedelta(hours=1), "Chat", description="Hiring\nmanager round"),
        vevent("hidden", start, start + timedelta(hours=1), "Inter\u200bview with Globex"),
        vevent("tagged", start, start + timedelta(hours=1), "Chat", description="<b>Inter</b>view with Initech"),
        folded,
        vevent("weekly", start, start + timedelta(hours=1), "Standup", extra="RRULE:FREQ=WEEKLY;COUNT=3"),
        vevent("loop", start, start + timedelta(hours=1), "Sync", extra="RRULE:FREQ=WEEKLY;COUNT=3"),
        vevent(
            "loop",
            start + timedelta(weeks=1, hours=2),
            start + timedelta(weeks=1, hours=3),
            "Interview loop",
            extra=f"RECURRENCE-ID:{(start + timedelta(weeks=1)).strftime('%Y%m%dT%H%M%SZ')}",
        ),
    )
    kept = {
        e.uid
        for e in events_in(
            [parse_calendar(prune(text.encode(), SPAN, detector.mentions_keyword), "t")], SPAN, ZONE, "t"
        )[0]
    }
    # Whatever the detector would call an interview is still there; a series is kept
    # whole when any of its parts could be one, and cut whole when none can.
    assert kept == {"interview", "described", "hidden", "tagged", "folded", "loop"}
    everything = read(text)[0]
    detected = {e.uid for e in everything if detector.detect(e).interview is not None}
    assert detected <= kept
