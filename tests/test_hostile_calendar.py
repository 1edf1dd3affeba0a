"""Hostile calendars (issue 16 §4-§6): runaway recurrences, a long RDATE list, secrets in
feed URLs, and CalDAV credentials over plain HTTP. Real passes over an ICS file or feed
and a Maildir; the pass time is measured on the real clock."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followupd import config as config_module
from followupd.app import opened
from followupd.calendars.caldav import CaldavSource
from followupd.clock import FixedClock
from followupd.errors import EXIT_CONFIG, ConfigError
from followupd.secrets import SecretStore

from support.google_emulator import Emulator
from support.google_emulator.fixtures import emulator, gevent, google_config, signed_in  # noqa: F401
from support.harness import Cli, make_maildir, write_config
from support.ics import calendar, stamp, vevent
from support.maildir_user import drafts
from support.servers import free_port

START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
LATER = START + timedelta(hours=30)  # inside the thank-you window of the good interview
GOOD = vevent("good", START, START + timedelta(hours=1), "Interview: Engineer at Acme")


def run_pass(home: Path, ics: str, at: datetime) -> tuple[float, list]:
    """One real pass (ICS file + Maildir) as of `at`: (seconds it took, its problems)."""
    (home / "calendar.ics").write_text(ics, encoding="utf-8")
    maildir = make_maildir(home / "Mail")
    config = config_module.load(
        write_config(home, f'kind = "ics"\npath = "{home / "calendar.ics"}"', f'kind = "maildir"\npath = "{maildir}"')
    )
    clock = FixedClock(START - timedelta(hours=12))
    with opened(config, clock) as (_, engine):
        engine.run_pass()  # the store's first pass, before the interviews
        clock.set(at)
        began = time.perf_counter()
        report = engine.run_pass()
        return time.perf_counter() - began, report.problems


def series(uid: str, rule: str, partstat: str, summary: str = "Interview: Platform at Evil Corp") -> str:
    first = START - timedelta(days=400)
    return vevent(uid, first, first + timedelta(minutes=30), summary, my_partstat=partstat, extra=rule)


@pytest.mark.parametrize("freq", ["SECONDLY", "MINUTELY"])
def test_an_unaccepted_runaway_invitation_does_not_stall_a_pass(home: Path, freq: str) -> None:
    seconds, problems = run_pass(home, calendar(series("flood", f"RRULE:FREQ={freq}", "NEEDS-ACTION"), GOOD), LATER)
    assert seconds < 2.0, seconds
    made = drafts(home / "Mail")
    assert len(made) == 1 and "Engineer" in str(made[0][1]["Subject"]) + made[0][1].get_content()
    assert [p for p in problems if p[0] == "error"] == []


def test_an_accepted_minutely_series_makes_a_few_drafts_a_day_and_says_so(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seconds, _ = run_pass(home, calendar(series("minutely", "RRULE:FREQ=MINUTELY", "ACCEPTED"), GOOD), LATER)
    assert seconds < 2.0, seconds
    flood = [m for _, m in drafts(home / "Mail") if "Evil" in str(m["Subject"]) + m.get_content()]
    # the thank-you window (24-48 h after the end) spans two days: 3 a day at most
    assert 0 < len(flood) <= 6
    assert any("more often than an interview does" in r.getMessage() for r in caplog.records)


def test_a_long_rdate_list_is_bounded(home: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = START - timedelta(days=2)
    dates = ",".join(stamp(first + timedelta(minutes=5 * n)) for n in range(30_000))
    flood = vevent(
        "rdates", first, first + timedelta(minutes=5), "Interview: RDATE at Evil Corp", extra=f"RDATE:{dates}"
    )
    seconds, _ = run_pass(home, calendar(flood, GOOD), LATER)
    assert seconds < 5.0, seconds
    made = [m for _, m in drafts(home / "Mail") if "RDATE" in str(m["Subject"]) + m.get_content()]
    assert len(made) <= 6


SECRETS = ("SECRET-TOKEN", "SECRET-FRAGMENT", "PASSWORD123")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/feed.ics?token=SECRET-TOKEN",
        "http://127.0.0.1:{port}?token=SECRET-TOKEN",
        "http://127.0.0.1:{port}/feed.ics#SECRET-FRAGMENT",
        "http://user:PASSWORD123@127.0.0.1:{port}/cal.ics",
    ],
)
def test_secrets_in_a_feed_url_are_never_shown_or_stored(home: Path, url: str) -> None:
    maildir = make_maildir(home / "Mail")
    config = write_config(
        home, f'kind = "ics"\nurl = "{url.format(port=free_port())}"', f'kind = "maildir"\npath = "{maildir}"'
    )
    cli = Cli(home, config)
    result = cli.run("2026-11-04T12:00:00+00:00", check=False)
    status = cli("status", check=False)
    shown = result.stdout + result.stderr + status.stdout + status.stderr
    stored = b"".join(p.read_bytes() for p in (home / "state").rglob("*") if p.is_file())
    assert result.returncode in (75, EXIT_CONFIG), shown  # unreachable, or a URL with a password
    for secret in SECRETS:
        assert secret not in shown, shown
        assert secret.encode() not in stored
    if "PASSWORD" in url:
        assert result.returncode == EXIT_CONFIG and "calendar.url" in shown and "user name or password" in shown


def test_an_unusable_url_is_a_config_error_not_a_traceback(home: Path) -> None:
    maildir = make_maildir(home / "Mail")
    config = write_config(
        home,
        'kind = "ics"\nurl = "http://127.0.0.1:notaport/cal.ics?k=SECRET-TOKEN"',
        f'kind = "maildir"\npath = "{maildir}"',
    )
    result = Cli(home, config).run("2026-11-04T12:00:00+00:00", check=False)
    shown = result.stdout + result.stderr
    assert result.returncode == EXIT_CONFIG, shown
    assert "calendar.url" in shown and "Traceback" not in shown and "SECRET" not in shown
    with sqlite3.connect(home / "state" / "state.sqlite3") as db:
        assert "SECRET" not in repr(db.execute("SELECT * FROM health").fetchall())


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://dav.example.org/remote.php/dav/", True),
        ("http://192.0.2.7:5232/", True),
        ("https://dav.example.org/", False),
        ("http://127.0.0.1:5232/", False),
        ("http://localhost:5232/", False),
        ("http://[::1]:5232/", False),
    ],
)
def test_caldav_over_plain_http_to_another_host_is_refused(tmp_path: Path, url: str, refused: bool) -> None:
    path = write_config(
        tmp_path, f'kind = "caldav"\nurl = "{url}"\nusername = "ada"', 'kind = "maildir"\npath = "/tmp"'
    )
    config = config_module.load(path)
    secrets = SecretStore("file", config.state_dir)
    if refused:
        with pytest.raises(ConfigError, match=r"calendar\.url.*clear text.*https://"):
            CaldavSource(config, secrets)
    else:
        CaldavSource(config, secrets).close()


def test_caldav_refusal_exits_as_a_config_error(home: Path) -> None:
    maildir = make_maildir(home / "Mail")
    config = write_config(
        home,
        'kind = "caldav"\nurl = "http://dav.example.org/?token=SECRET-TOKEN"\nusername = "ada"',
        f'kind = "maildir"\npath = "{maildir}"',
    )
    result = Cli(home, config).run("2026-11-04T12:00:00+00:00", check=False)
    shown = result.stdout + result.stderr
    assert result.returncode == EXIT_CONFIG and "clear text" in shown and "SECRET" not in shown


def test_a_caldav_url_with_a_bad_port_is_a_config_error(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        'kind = "caldav"\nurl = "https://dav.example.org:PASSWORD123/"\nusername = "ada"',
        'kind = "maildir"\npath = "/tmp"',
    )
    config = config_module.load(path)
    with pytest.raises(ConfigError, match=r"calendar\.url.*not a usable URL") as caught:
        CaldavSource(config, SecretStore("file", config.state_dir))
    assert "PASSWORD123" not in str(caught.value)


def test_google_reads_at_most_three_instances_of_a_series_a_day(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    from followupd.calendars import TimeRange
    from followupd.calendars.google import GoogleCalendarSource

    config, api = signed_in(google_config(tmp_path, emulator, mailbox="maildir"), emulator)
    source = GoogleCalendarSource(config, None, api=api)  # type: ignore[arg-type]
    first = START + timedelta(days=1)
    for hour in range(24 * 2):  # an hourly series, as Google expands it (singleEvents=true)
        at = first + timedelta(hours=hour)
        original = {"dateTime": at.isoformat(), "timeZone": "UTC"}
        emulator.put_event(
            gevent(
                f"hourly_{stamp(at)}",
                "Interview: hourly",
                at,
                0.5,
                recurringEventId="hourly",
                originalStartTime=original,
            )
        )
    emulator.put_event(gevent("single", "Interview: Engineer at Acme", first))
    try:
        changes = source.fetch(None, TimeRange(START - timedelta(days=3), START + timedelta(days=60)))
    finally:
        source.close()
    hourly = [e for e in changes.events if e.uid == "hourly"]
    days = {e.start.astimezone(config.me.timezone).date() for e in hourly}
    assert len(hourly) <= 3 * len(days) and len(days) >= 2
    assert "single" in {e.key for e in changes.events}
    assert len(changes.problems) == 1 and "beyond 3 a day" in changes.problems[0].message
