"""The Google Calendar source against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followupd.calendars import TimeRange
from followupd.calendars.google import GoogleCalendarSource
from followupd.errors import BackendError
from followupd.html_text import description_text
from followupd.model import Cutype, Partstat

from support.google_emulator import Emulator
from support.google_emulator.fixtures import ACCOUNT, emulator, gevent, google_config, signed_in  # noqa: F401

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
SPAN = TimeRange(NOW - timedelta(days=3), NOW + timedelta(days=60))


def make_source(tmp_path: Path, emulator: Emulator, extra: str = "", **api_options: object) -> GoogleCalendarSource:  # noqa: F811
    config, api = signed_in(google_config(tmp_path, emulator, mailbox="maildir", extra=extra), emulator, **api_options)
    return GoogleCalendarSource(config, None, api=api)  # type: ignore[arg-type]


@pytest.fixture
def source(tmp_path: Path, emulator: Emulator) -> Iterator[GoogleCalendarSource]:  # noqa: F811
    made = make_source(tmp_path, emulator)
    yield made
    made.close()


def test_first_sync_maps_events_skips_closed_ones_and_flags_all_day_ones(
    emulator: Emulator,  # noqa: F811
    source: GoogleCalendarSource,
) -> None:
    invite = gevent(
        "iv1",
        "Interview with Acme",
        NOW + timedelta(days=1),
        others=("jane.doe@acme.io", "room-4@resource.calendar.google.com"),
        description="Role: Backend Engineer<br><br>Notes: <b>their move</b> to event sourcing &amp; CQRS",
    )
    invite["attendees"][2]["resource"] = True
    emulator.put_event(invite)
    emulator.put_event(gevent("old", "Interview with Old", NOW - timedelta(days=10)))
    emulator.put_event(
        {"id": "allday", "summary": "Interview week", "start": {"date": "2026-11-11"}, "end": {"date": "2026-11-12"}}
    )
    emulator.put_event(gevent("mine", "Phone screen prep", NOW + timedelta(days=2), me=None))
    changes = source.fetch(None, SPAN)
    assert changes.complete and changes.removed == [] and changes.problems == []
    events = {e.key: e for e in changes.events}
    assert sorted(events) == ["allday", "iv1", "mine"]
    allday = events.pop("allday")  # the detector refuses it; `status --all` lists it
    assert allday.all_day and not events["iv1"].all_day
    assert (allday.start, allday.end) == (datetime(2026, 11, 11, tzinfo=UTC), datetime(2026, 11, 12, tzinfo=UTC))
    event = events["iv1"]
    assert event.start == NOW + timedelta(days=1) and event.end == NOW + timedelta(days=1, hours=1)
    assert event.start.tzinfo == UTC
    assert event.organizer is not None and event.organizer.email == "jane.doe@acme.io"
    assert event.organizer.partstat == Partstat.ACCEPTED and not event.organizer.is_self
    me, jane, room = event.attendees
    assert me.is_self and me.partstat == Partstat.ACCEPTED
    assert jane.name == "Jane Doe" and not jane.is_self
    assert room.cutype == Cutype.RESOURCE
    # Kept as Google stores it; the detector reads the HTML as text.
    assert description_text(event.description) == "Role: Backend Engineer\n\nNotes: their move to event sourcing & CQRS"
    assert events["mine"].organizer is not None and events["mine"].organizer.is_self
    assert emulator.count("events.list") == 1
    ((_, params),) = [c for c in emulator.calls if c[0] == "events.list"]
    assert params["singleEvents"] is True and params["timeMin"] == "2026-11-07T12:00:00Z"


def test_incremental_sync_returns_only_changes(emulator: Emulator, source: GoogleCalendarSource) -> None:  # noqa: F811
    emulator.put_event(gevent("iv1", "Interview with Acme", NOW + timedelta(days=1)))
    cursor = source.fetch(None, SPAN).cursor
    emulator.reset_counts()
    idle = source.fetch(cursor, SPAN)
    assert idle.events == [] and not idle.complete
    assert dict(emulator.requests) == {"events.list": 1}
    emulator.put_event(
        gevent(
            "iv2", "Phone screen with Beta", NOW + timedelta(days=3), organizer="tom@beta.io", others=("tom@beta.io",)
        )
    )
    changed = source.fetch(idle.cursor, SPAN)
    assert [e.key for e in changed.events] == ["iv2"] and not changed.complete


def test_cancelled_instance_stub_names_the_same_interview(emulator: Emulator, source: GoogleCalendarSource) -> None:  # noqa: F811
    first = NOW + timedelta(days=1)
    for week in range(3):
        start = first + timedelta(weeks=week)
        stamp = start.strftime("%Y%m%dT%H%M%SZ")
        emulator.put_event(
            gevent(
                f"series1_{stamp}",
                "Interview loop with Acme",
                start,
                recurringEventId="series1",
                originalStartTime={"dateTime": start.isoformat(), "timeZone": "Europe/London"},
            )
        )
    emulator.put_event(gevent("single", "Interview with Acme", NOW + timedelta(days=5)))
    full = source.fetch(None, SPAN)
    keys = sorted(e.key for e in full.events)
    second = (first + timedelta(weeks=1)).strftime("%Y%m%dT%H%M%SZ")
    assert f"series1#{second}" in keys and "single" in keys
    emulator.cancel_event(f"series1_{second}")
    emulator.cancel_event("single")
    stub = emulator.calendar.calendars["primary"].events[f"series1_{second}"]
    assert set(stub) == {"kind", "id", "status", "etag", "recurringEventId", "originalStartTime"}
    changes = source.fetch(full.cursor, SPAN)
    assert changes.events == []
    assert sorted(changes.removed) == sorted([f"series1#{second}", "single"])


def test_expired_sync_token_means_a_full_sync(emulator: Emulator, source: GoogleCalendarSource) -> None:  # noqa: F811
    emulator.put_event(gevent("iv1", "Interview with Acme", NOW + timedelta(days=1)))
    cursor = source.fetch(None, SPAN).cursor
    emulator.expire_sync_tokens()
    emulator.reset_counts()
    changes = source.fetch(cursor, SPAN)
    assert changes.complete and [e.key for e in changes.events] == ["iv1"]
    assert emulator.count("events.list") == 2  # the 410, then the full list
    assert source.fetch(changes.cursor, SPAN).events == []


def test_pages_are_followed_and_the_token_comes_from_the_last(emulator: Emulator, source: GoogleCalendarSource) -> None:  # noqa: F811
    emulator.calendar.page_size = 2
    for n in range(5):
        emulator.put_event(gevent(f"iv{n}", f"Interview {n}", NOW + timedelta(days=n + 1)))
    changes = source.fetch(None, SPAN)
    assert len(changes.events) == 5 and emulator.count("events.list") == 3
    emulator.put_event(gevent("iv9", "Interview 9", NOW + timedelta(days=9)))
    assert [e.key for e in source.fetch(changes.cursor, SPAN).events] == ["iv9"]


def test_several_calendars_and_a_duplicate(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    source = make_source(tmp_path, emulator)
    source.calendars = ("primary", "jobs@group.calendar.google.com")
    emulator.put_event(gevent("iv1", "Interview with Acme", NOW + timedelta(days=1)))
    emulator.put_event(
        gevent("iv1", "Interview with Acme", NOW + timedelta(days=1)), calendar="jobs@group.calendar.google.com"
    )
    emulator.put_event(
        gevent("iv2", "Interview with Beta", NOW + timedelta(days=2)), calendar="jobs@group.calendar.google.com"
    )
    changes = source.fetch(None, SPAN)
    assert sorted(e.key for e in changes.events) == ["iv1", "iv2"]
    emulator.reset_counts()
    source.fetch(changes.cursor, SPAN)
    assert dict(emulator.requests) == {"events.list": 2}  # one per calendar
    calls = [params["calendarId"] for _, params in emulator.calls]
    assert calls == ["primary", "jobs@group.calendar.google.com"]


def test_unknown_calendar_is_a_clear_error(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    source = make_source(tmp_path, emulator)
    source.calendars = ("primary", "nope@group.calendar.google.com")
    with pytest.raises(BackendError, match=r"no calendar 'nope@group.calendar.google.com'.*\[calendar\] calendars"):
        source.fetch(None, SPAN)


def test_a_broken_event_is_a_problem_not_a_failure(emulator: Emulator, source: GoogleCalendarSource) -> None:  # noqa: F811
    emulator.put_event(gevent("iv1", "Interview with Acme", NOW + timedelta(days=1)))
    broken = gevent("bad", "Interview with Broken", NOW + timedelta(days=2))
    emulator.put_event(broken)
    emulator.calendar.calendars["primary"].events["bad"]["start"] = {"dateTime": "next tuesday"}
    emulator.calendar.calendars["primary"].events["bad"]["end"] = {"dateTime": "2026-11-12T10:00:00Z"}
    changes = source.fetch(None, SPAN)
    assert [e.key for e in changes.events] == ["iv1"]
    (problem,) = changes.problems
    assert "'Interview with Broken'" in str(problem) and "skipped" in str(problem)


def test_events_become_interviews(emulator: Emulator, source: GoogleCalendarSource) -> None:  # noqa: F811
    from followupd import config as config_module
    from followupd.detect import Detector

    emulator.put_event(gevent("yes", "Interview with Acme", NOW + timedelta(days=1)))
    emulator.put_event(
        gevent(
            "declined",
            "Interview with Beta",
            NOW + timedelta(days=1),
            me="declined",
            organizer="tom@beta.io",
            others=("tom@beta.io",),
        )
    )
    emulator.put_event(
        gevent(
            "unanswered",
            "Interview with Gamma",
            NOW + timedelta(days=1),
            me="needsAction",
            organizer="ann@gamma.io",
            others=("ann@gamma.io",),
        )
    )
    config = config_module.parse(
        '[me]\nname = "Ada"\nemail = "ada@example.org"\n[calendar]\nkind = "google"\n[mailbox]\nkind = "gmail"\n',
        Path("x.toml"),
    )
    detector = Detector(config.me, config.detect)
    found = {e.key: detector.detect(e) for e in source.fetch(None, SPAN).events}
    assert found["yes"].interview is not None and not found["yes"].interview.cancelled
    assert [c.email for c in found["yes"].interview.contacts] == ["jane.doe@acme.io"]
    assert found["declined"].reason == "you declined it"
    assert found["unanswered"].reason == "you have not accepted the invitation"
