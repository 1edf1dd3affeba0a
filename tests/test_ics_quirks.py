"""ICS as real calendar software writes it: each quirk of issue 15, read as README's
"How it decides" says."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from followupd.calendars import TimeRange
from followupd.calendars.ical import Attendance, events_in, parse_calendar
from followupd.calendars.zones import resolve

NOW = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
SPAN = TimeRange(NOW - timedelta(days=3), NOW + timedelta(days=60))
ZONE = ZoneInfo("Europe/London")
ME = Attendance(frozenset({"ada@example.org"}))


def read(body: str, span: TimeRange = SPAN, attendance: Attendance | None = None) -> tuple[list, list]:
    text = body if body.lstrip().startswith("BEGIN:VCALENDAR") else wrap(body)
    return events_in([parse_calendar(text.encode(), "t.ics")], span, ZONE, "t.ics", attendance)


def wrap(*bodies: str) -> str:
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n" + "\r\n".join(bodies) + "\r\nEND:VCALENDAR\r\n"


def ev(uid: str, *lines: str, summary: str = "Interview with Acme") -> str:
    return "\r\n".join(
        ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", f"SUMMARY:{summary}", *lines, "END:VEVENT"]
    )


def starts(events: list) -> list[datetime]:
    return sorted(e.start for e in events)


def test_all_day_with_a_tzid_stays_all_day() -> None:
    events, problems = read(
        ev("a", "DTSTART;TZID=Europe/Berlin;VALUE=DATE:20261105", "DTEND;TZID=Europe/Berlin;VALUE=DATE:20261106")
        + "\r\n"
        + ev("b", "DTSTART;TZID=Europe/Berlin;VALUE=DATE:20261105", "RRULE:FREQ=DAILY;COUNT=3")
        + "\r\n"
        + ev("c", "DTSTART;VALUE=DATE:20261105")  # no end: one day (RFC 5545 3.6.1)
        + "\r\n"
        + ev("d", "DTSTART;VALUE=DATE:20261105", "DURATION:P2D")
    )
    assert problems == []
    # Midnight to midnight in the user's zone (London), whatever the TZID says; an
    # all-day series is not read at all.
    assert [(e.uid, e.all_day, e.start, e.end) for e in events] == [
        ("a", True, datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC)),
        ("c", True, datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC)),
        ("d", True, datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 7, tzinfo=UTC)),
    ]


def test_broken_todo_journal_freebusy_are_never_parsed() -> None:
    todo = "BEGIN:VTODO\r\nUID:t\r\nDTSTART:garbage\r\nDUE:20200101T000000Z\r\nEND:VTODO"
    journal = "BEGIN:VJOURNAL\r\nUID:j\r\nDTSTART:20261301T250000\r\nEND:VJOURNAL"
    busy = "BEGIN:VFREEBUSY\r\nUID:f\r\nDTSTART:20261105T100000Z\r\nDTEND:20261101T100000Z\r\nEND:VFREEBUSY"
    events, problems = read(wrap(todo, journal, busy, ev("e", "DTSTART:20261105T100000Z", "DTEND:20261105T110000Z")))
    assert [e.uid for e in events] == ["e"] and problems == []


def test_a_blank_tzid_uses_its_blank_vtimezone() -> None:
    zone = (
        "BEGIN:VTIMEZONE\r\nTZID:\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:+0200\r\n"
        "TZOFFSETTO:+0200\r\nEND:STANDARD\r\nEND:VTIMEZONE"
    )
    events, problems = read(wrap(zone, ev("e", "DTSTART;TZID=:20261105T100000", "DTEND;TZID=:20261105T110000")))
    assert starts(events) == [datetime(2026, 11, 5, 8, 0, tzinfo=UTC)] and problems == []


def test_two_vcalendars_in_one_file() -> None:
    one = wrap(ev("a", "DTSTART:20261105T100000Z"))
    two = wrap(ev("b", "DTSTART:20261106T100000Z"))
    events, problems = read(one + two)
    assert sorted(e.uid for e in events) == ["a", "b"] and problems == []


def test_spaces_in_byday_are_read() -> None:
    events, problems = read(ev("s", "DTSTART:20261109T100000Z", "RRULE:FREQ=WEEKLY;COUNT=5;BYDAY=MO, TU, WE, TH, FR"))
    assert len(events) == 5 and problems == []


def test_local_and_date_only_until_keep_their_last_day() -> None:
    local = ev("l", "DTSTART;TZID=America/New_York:20261105T200000", "RRULE:FREQ=DAILY;UNTIL=20261107T200000")
    google = ev("g", "DTSTART;TZID=America/New_York:20261105T200000", "RRULE:FREQ=DAILY;UNTIL=20261107")
    for body in (local, google):
        events, problems = read(body)
        assert starts(events) == [datetime(2026, 11, d, 1, 0, tzinfo=UTC) for d in (6, 7, 8)], body
        assert problems == []


def test_windows_and_display_names_map_to_iana() -> None:
    assert resolve("W. Europe Standard Time") == "Europe/Berlin"
    assert resolve("(UTC-05:00) Eastern Time (US & Canada)") == "America/New_York"
    assert resolve("(GMT-05:00) Eastern Time (US & Canada)") == "America/New_York"
    assert resolve("/mozilla.org/20050126_1/Europe/Paris") == "Europe/Paris"
    assert resolve("Somewhere Standard Time") is None
    quoted = ev("q", 'DTSTART;TZID="(UTC-05:00) Eastern Time (US & Canada)":20261105T100000')
    bare = ev("b", "DTSTART;TZID=(UTC-05:00) Eastern Time (US & Canada):20261105T100000")
    windows = ev("w", "DTSTART;TZID=Eastern Standard Time:20261105T100000")
    events, problems = read(wrap(quoted, bare, windows))
    assert starts(events) == [datetime(2026, 11, 5, 15, 0, tzinfo=UTC)] * 3 and problems == []


def test_vtimezone_ids_are_matched_after_trimming() -> None:
    zone = (
        "BEGIN:VTIMEZONE\r\nTZID: 1\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:-0300\r\n"
        "TZOFFSETTO:-0300\r\nEND:STANDARD\r\nEND:VTIMEZONE"
    )
    events, problems = read(wrap(zone, ev("e", "DTSTART;TZID= 1:20261105T100000")))
    assert starts(events) == [datetime(2026, 11, 5, 13, 0, tzinfo=UTC)] and problems == []


def test_an_unknown_zone_is_said_once_per_event_not_guessed_quietly() -> None:
    events, problems = read(ev("u", "DTSTART;TZID=Mars/Olympus_Mons:20261105T100000", "RRULE:FREQ=DAILY;COUNT=3"))
    assert len(events) == 3
    assert len(problems) == 1 and "'Mars/Olympus_Mons' is unknown" in problems[0].message
    assert "Europe/London" in problems[0].message and "UID u" in problems[0].where


def test_floating_start_with_zoned_end_and_end_before_start() -> None:
    mixed = ev("m", "DTSTART:20261105T100000", "DTEND;TZID=America/New_York:20261105T110000")
    backwards = ev("b", "DTSTART:20261106T100000Z", "DTEND:20261105T100000Z")
    events, problems = read(wrap(mixed, backwards))
    by_uid = {e.uid: e for e in events}
    # the floating start is read in the end's zone
    assert by_uid["m"].start == datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
    assert by_uid["m"].end == datetime(2026, 11, 5, 16, 0, tzinfo=UTC)
    # an end before the start is ignored: the event ends as it starts
    assert by_uid["b"].start == by_uid["b"].end == datetime(2026, 11, 6, 10, 0, tzinfo=UTC)
    assert problems == []


def test_a_broken_sequence_does_not_cost_the_series() -> None:
    master = ev("s", "DTSTART:20261109T100000Z", "RRULE:FREQ=DAILY;COUNT=3", "SEQUENCE:MQ==")
    moved = ev("s", "RECURRENCE-ID:20261110T100000Z", "DTSTART:20261110T150000Z", "SEQUENCE;ENCODING=BASE64:MQ==")
    events, problems = read(wrap(master, moved))
    assert starts(events) == [datetime(2026, 11, d, h, 0, tzinfo=UTC) for d, h in ((9, 10), (10, 15), (11, 10))]
    assert problems == []


def test_runaway_series_are_bounded_and_reported() -> None:
    accepted = "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ada@example.org"
    for freq in ("SECONDLY", "MINUTELY", "HOURLY"):
        body = ev("r", "DTSTART:20250101T000000Z", "DURATION:PT1H", f"RRULE:FREQ={freq}", accepted)
        began = time.perf_counter()
        events, problems = read(body, attendance=ME)
        assert time.perf_counter() - began < 1.0, freq
        days: dict = {}
        for e in events:
            days[e.start.astimezone(ZONE).date()] = days.get(e.start.astimezone(ZONE).date(), 0) + 1
        assert max(days.values()) <= 3 and len(events) <= 500, freq
        assert len(problems) == 1 and "more often than an interview does" in problems[0].message, freq
        assert len(days) >= 60, freq  # read day by day over the whole range


def test_an_unaccepted_secondly_invitation_is_not_expanded() -> None:
    invite = ev(
        "x",
        "DTSTART:20200101T000000Z",
        "RRULE:FREQ=SECONDLY",
        "ORGANIZER:mailto:mallory@evil.example",
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ada@example.org",
    )
    began = time.perf_counter()
    events, problems = read(invite, attendance=ME)
    assert time.perf_counter() - began < 1.0
    assert events == [] and problems == []


def test_a_long_rdate_list_is_bounded() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    dates = ",".join((start + timedelta(minutes=m)).strftime("%Y%m%dT%H%M%SZ") for m in range(20_000))
    body = ev("r", "DTSTART:20261101T000000Z", f"RDATE:{dates}", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ada@example.org")
    began = time.perf_counter()
    events, problems = read(body, attendance=ME)
    assert time.perf_counter() - began < 3.0
    assert 0 < len(events) <= 3 * 61 and len(problems) == 1


def test_one_unreadable_event_does_not_hide_the_others() -> None:
    broken = "BEGIN:VEVENT\r\nUID:bad\r\nDTSTART:20261105T100000Z\r\nEND:VALARM\r\nEND:VEVENT"
    events, problems = read(wrap(broken, ev("good", "DTSTART:20261105T100000Z")))
    assert [e.uid for e in events] == ["good"]
    assert len(problems) == 1 and "UID bad" in problems[0].where and "cannot be read" in problems[0].message


def test_two_calendars_with_the_same_custom_zone_id_keep_their_own_zones() -> None:
    def custom(offset: str) -> str:
        zone = (
            f"BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n"
            f"TZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\nEND:STANDARD\r\nEND:VTIMEZONE"
        )
        return wrap(zone, ev("e", "DTSTART;TZID=Customized Time Zone:20261105T100000"))

    # icalendar caches zones by TZID for the whole process: the second must not get the first's
    assert starts(read(custom("+0200"))[0]) == [datetime(2026, 11, 5, 8, 0, tzinfo=UTC)]
    assert starts(read(custom("-0500"))[0]) == [datetime(2026, 11, 5, 15, 0, tzinfo=UTC)]


def test_a_pass_stops_expanding_when_its_budget_is_spent() -> None:
    from followupd.calendars.expand import Budget, expand

    parsed = parse_calendar(wrap(ev("d", "DTSTART:20261105T100000Z", "RRULE:FREQ=DAILY;COUNT=10")).encode(), "t")
    master = parsed.walk("VEVENT")[0]
    budget = Budget(left=4)
    assert len(expand([master], [], SPAN, ZONE, budget)) == 10  # the series in hand is finished
    assert budget.left < 0
    assert expand([master], [], SPAN, ZONE, budget) == [] and budget.skipped_series == 1


def test_an_organisers_cancellation_notice_cancels_its_events() -> None:
    notice = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:CANCEL\r\n{}\r\nEND:VCALENDAR\r\n"
    one = ev("c", "DTSTART:20261105T100000Z", "DTEND:20261105T110000Z", "STATUS:CONFIRMED")
    events, problems = read(notice.format(one))
    assert [(e.uid, e.status) for e in events] == [("c", "cancelled")] and problems == []
    # Read event by event (a broken neighbour), the notice still cancels what is read.
    broken = "BEGIN:VEVENT\r\nUID:b\r\nDTSTART:20261105T100000Z\r\nEND:VALARM\r\nEND:VEVENT"
    events, problems = read(notice.format(broken + "\r\n" + one))
    assert [(e.uid, e.status) for e in events] == [("c", "cancelled")] and len(problems) == 1
