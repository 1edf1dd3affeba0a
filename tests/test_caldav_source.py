"""The CalDAV calendar source against a real Radicale and a real Xandikos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followupd import config as config_module
from followupd.calendars import TimeRange
from followupd.calendars.caldav import CaldavSource
from followupd.errors import AuthError, BackendError, TransientError
from followupd.secrets import SecretStore

from support.harness import write_config
from support.ics import calendar, vevent
from support.servers import CaldavAccount, Radicale, free_port

NOW = datetime(2026, 11, 9, 12, 0, tzinfo=UTC)
SPAN = TimeRange(NOW - timedelta(days=3), NOW + timedelta(days=60))
START = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)


def make_source(account: CaldavAccount, home: Path, store_password: bool = True, **overrides: object) -> CaldavSource:
    home.mkdir(parents=True, exist_ok=True)
    path = write_config(
        home, account.calendar_toml(**overrides), 'kind = "maildir"\npath = "/tmp"', extra='[secrets]\nbackend = "file"'
    )
    config = config_module.load(path)
    secrets = SecretStore("file", config.state_dir)
    if store_password:
        secrets.set("caldav", account.username, account.password)
    return CaldavSource(config, secrets)


def interview(uid: str, start: datetime = START, **kwargs: object) -> str:
    return calendar(vevent(uid, start, start + timedelta(hours=1), **kwargs))  # type: ignore[arg-type]


@pytest.fixture
def caldav_account(dav_account: CaldavAccount) -> CaldavAccount:
    """Every test here runs on Radicale and on Xandikos."""
    return dav_account


@pytest.fixture
def source(caldav_account: CaldavAccount, tmp_path: Path) -> CaldavSource:
    return make_source(caldav_account, tmp_path / "home")


def methods(account: CaldavAccount, mark: int) -> list[str]:
    return [method for method, _, _ in account.requests(mark)]


def test_events_in_range_are_found(source: CaldavSource, caldav_account: CaldavAccount) -> None:
    caldav_account.put(interview("in-range"))
    caldav_account.put(interview("long-ago", datetime(2026, 1, 5, 10, 0, tzinfo=UTC)))
    changes = source.fetch(None, SPAN)
    assert [e.uid for e in changes.events] == ["in-range"]
    assert changes.complete and changes.cursor and changes.problems == []
    event = changes.events[0]
    assert event.start == START and event.summary == "Interview: Backend Engineer at Acme"
    assert {a.email for a in event.attendees} >= {"jane.doe@acme.io", "ada@example.org"}


def test_recurrences_are_expanded_with_their_exceptions(source: CaldavSource, caldav_account: CaldavAccount) -> None:
    moved = START + timedelta(days=7)
    caldav_account.put(
        calendar(
            vevent(
                "weekly", START, START + timedelta(hours=1), extra="RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE:20261124T100000Z"
            ),
            vevent(
                "weekly",
                moved + timedelta(hours=3),
                moved + timedelta(hours=4),
                extra=f"RECURRENCE-ID:{moved.strftime('%Y%m%dT%H%M%SZ')}",
            ),
        )
    )
    starts = sorted(e.start for e in source.fetch(None, SPAN).events)
    assert starts == [START, moved + timedelta(hours=3), START + timedelta(days=21)]


def test_an_idle_pass_costs_one_report_per_calendar(source: CaldavSource, caldav_account: CaldavAccount) -> None:
    personal = caldav_account.make_calendar("Personal")
    for n in range(5):
        caldav_account.put(interview(f"e{n}", START + timedelta(days=n)))
    caldav_account.put(interview("p", START), personal)
    first = source.fetch(None, SPAN)
    assert len(first.events) == 6

    for _ in range(3):  # the calendar list is kept: no PROPFIND, one sync REPORT each
        mark = caldav_account.mark()
        idle = source.fetch(first.cursor, SPAN)
        assert idle.events == [] and not idle.complete and idle.cursor
        assert methods(caldav_account, mark) == ["REPORT", "REPORT"]


def test_the_calendar_list_is_read_again_once_a_day(source: CaldavSource, caldav_account: CaldavAccount) -> None:
    caldav_account.put(interview("a"))
    cursor = source.fetch(None, SPAN).cursor
    later = TimeRange(SPAN.start + timedelta(hours=23), SPAN.end + timedelta(hours=23))
    mark = caldav_account.mark()
    assert not source.fetch(cursor, later).complete
    assert "PROPFIND" not in methods(caldav_account, mark)
    next_day = TimeRange(SPAN.start + timedelta(days=1), SPAN.end + timedelta(days=1))
    mark = caldav_account.mark()
    source.fetch(cursor, next_day)
    assert "PROPFIND" in methods(caldav_account, mark)


def test_a_deleted_calendar_is_rediscovered(source: CaldavSource, caldav_account: CaldavAccount) -> None:
    caldav_account.put(interview("old"))
    cursor = source.fetch(None, SPAN).cursor
    caldav_account.calendar.delete()
    fresh = caldav_account.make_calendar("Work")
    caldav_account.put(interview("new"), fresh)
    changes = source.fetch(cursor, SPAN)
    assert changes.complete and [e.uid for e in changes.events] == ["new"]


def test_a_change_is_read_in_full(source: CaldavSource, caldav_account: CaldavAccount) -> None:
    caldav_account.put(interview("a"))
    gone = caldav_account.put(interview("b", START + timedelta(days=1)))
    cursor = source.fetch(None, SPAN).cursor
    caldav_account.put(interview("c", START + timedelta(days=2)))
    gone.delete()
    changes = source.fetch(cursor, SPAN)
    assert changes.complete
    assert sorted(e.uid for e in changes.events) == ["a", "c"]
    assert source.fetch(changes.cursor, SPAN).complete is False


def test_a_cancelled_event_is_reported_cancelled(source: CaldavSource, caldav_account: CaldavAccount) -> None:
    event = caldav_account.put(interview("x"))
    cursor = source.fetch(None, SPAN).cursor
    event.data = interview("x", status="CANCELLED")
    event.save()
    (found,) = source.fetch(cursor, SPAN).events
    assert found.status == "cancelled"


def test_the_range_may_slide_a_week_before_a_full_read(source: CaldavSource, caldav_account: CaldavAccount) -> None:
    far = SPAN.end + timedelta(days=8)
    caldav_account.put(interview("far", far))
    cursor = source.fetch(None, SPAN).cursor
    six_days = TimeRange(SPAN.start + timedelta(days=6), SPAN.end + timedelta(days=6))
    assert not source.fetch(cursor, six_days).complete
    nine_days = TimeRange(SPAN.start + timedelta(days=9), SPAN.end + timedelta(days=9))
    later = source.fetch(cursor, nine_days)
    assert later.complete and [e.uid for e in later.events] == ["far"]


def test_calendars_are_chosen_by_name_or_url(caldav_account: CaldavAccount, tmp_path: Path) -> None:
    personal = caldav_account.make_calendar("Personal")
    caldav_account.put(interview("work"))
    caldav_account.put(interview("private"), personal)
    every = make_source(caldav_account, tmp_path / "a").fetch(None, SPAN)
    assert sorted(e.uid for e in every.events) == ["private", "work"]
    by_name = make_source(caldav_account, tmp_path / "b", calendars=["Work"]).fetch(None, SPAN)
    assert [e.uid for e in by_name.events] == ["work"]
    by_url = make_source(caldav_account, tmp_path / "c", calendars=[str(personal.url)]).fetch(None, SPAN)
    assert [e.uid for e in by_url.events] == ["private"]
    with pytest.raises(BackendError, match=r"no calendar 'Jobs'.*\[calendar\] calendars.*'Personal'"):
        make_source(caldav_account, tmp_path / "d", calendars=["Jobs"]).fetch(None, SPAN)


def test_wrong_or_missing_password_is_an_auth_error(radicale: Radicale, tmp_path: Path) -> None:
    # Radicale only: Xandikos checks passwords only over HTTPS
    caldav_account = radicale.add_user()
    caldav_account.calendar = caldav_account.make_calendar("Work")
    source = make_source(caldav_account, tmp_path / "a", store_password=False)
    with pytest.raises(AuthError, match="no CalDAV password is stored.*followupd auth caldav"):
        source.fetch(None, SPAN)
    source.secrets.set("caldav", caldav_account.username, "sesame-wrong")
    with pytest.raises(AuthError, match="refused the login") as caught:
        source.fetch(None, SPAN)
    assert "sesame" not in str(caught.value)


def test_password_command(caldav_account: CaldavAccount, tmp_path: Path) -> None:
    source = make_source(
        caldav_account, tmp_path / "a", store_password=False, password_command=f"echo '{caldav_account.password}'"
    )
    assert source.fetch(None, SPAN).complete


def test_a_server_that_is_down_is_transient_and_named(caldav_account: CaldavAccount, tmp_path: Path) -> None:
    port = free_port()
    source = make_source(caldav_account, tmp_path / "a", url=f"http://127.0.0.1:{port}/")
    with pytest.raises(TransientError, match=f"cannot reach CalDAV server 127.0.0.1:{port}"):
        source.fetch(None, SPAN)
