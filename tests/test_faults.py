"""Faults, injected into real servers: for each, passes keep running, the problem is said
once (not once per pass), nothing stored is lost, and the next pass after the fault
clears carries on by itself (re-authorisation waits for the user).

The engine is the daemon's: one Engine kept across passes, as `followupd run` does;
the clock is moved, never waited for.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followupd import config as config_module
from followupd.app import secret_store
from followupd.calendars import open_calendar
from followupd.clock import FixedClock
from followupd.engine import Engine, PassReport
from followupd.errors import EXIT_NOPERM, EXIT_OK, EXIT_TEMPFAIL
from followupd.mailboxes import open_mailbox
from followupd.store import Store

from support.google_emulator import Emulator
from support.google_emulator.fixtures import ACCOUNT, Sleeps, emulator, google_config  # noqa: F401
from support.harness import Cli, make_maildir, need, write_config
from support.ics import calendar, vevent
from support.maildir_user import drafts
from support.servers import Radicale

START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
OUTAGE = [DUE + timedelta(minutes=m) for m in (0, 5, 10, 15, 20)]
CLEARED = DUE + timedelta(minutes=30)


class Runner:
    """An engine kept across passes, like the daemon's, on a movable clock."""

    def __init__(self, config_path: Path, *, mailbox: Callable | None = None, calendar: Callable | None = None) -> None:  # type: ignore[type-arg]
        self.config = config_module.load(config_path)
        self.clock = FixedClock(START + timedelta(hours=2))
        self.store = Store.open(self.config.state_dir, self.clock.now())
        secrets = secret_store(self.config)
        self.engine = Engine(
            self.config,
            self.store,
            self.clock,
            calendar=calendar or (lambda: open_calendar(self.config, secrets)),
            mailbox=mailbox or (lambda: open_mailbox(self.config, secrets)),
        )

    def at(self, moment: datetime) -> PassReport:
        self.clock.set(moment)
        return self.engine.run_pass()

    def state(self, uid: str = "f1", step: str = "thank-you") -> str:
        f = self.store.followup(uid, step)
        assert f is not None
        return str(f.state)

    def close(self) -> None:
        self.engine.close()
        self.store.close()


def said(caplog: pytest.LogCaptureFixture, needle: str) -> int:
    return sum(1 for r in caplog.records if r.levelno >= logging.WARNING and needle in r.getMessage())


def outage_then_recovery(
    runner: Runner,
    caplog: pytest.LogCaptureFixture,
    needle: str,
    inject: Callable[[], None],
    clear: Callable[[], None],
    code: int = EXIT_TEMPFAIL,
    calendar_down: bool = False,
) -> None:
    """Settle, inject the fault, run the outage's passes, clear it, run one more pass.
    With the mailbox down nothing can be drafted; with the calendar down the interview
    it gave before is still served, so its draft is made during the outage."""
    assert runner.at(START + timedelta(hours=2)).exit_code == EXIT_OK
    assert runner.state() == "planned"
    inject()
    caplog.set_level(logging.INFO)
    caplog.clear()
    for moment in OUTAGE:
        report = runner.at(moment)  # never raises
        assert report.exit_code == code, report.problems
        if not calendar_down:
            assert runner.state() == "planned"  # not lost, not missed, not drafted twice
    assert runner.state() == ("drafted" if calendar_down else "planned")
    assert said(caplog, needle) == 1, [r.getMessage() for r in caplog.records]
    assert runner.store.health()
    clear()
    caplog.clear()
    assert runner.at(CLEARED).exit_code == EXIT_OK
    assert runner.state() == "drafted"
    assert runner.store.health() == []
    assert sum(1 for r in caplog.records if "working again" in r.getMessage()) == 1


# ---------------------------------------------------------------- Gmail on the emulator


@contextlib.contextmanager
def gmail_runner(home: Path, emulator: Emulator, timeout: float = 5.0) -> Iterator[Runner]:  # noqa: F811
    from followupd.google import credentials
    from followupd.google.api import GoogleApi
    from followupd.mailboxes.gmail import GmailMailbox

    config_path = google_config(home, emulator, calendar="ics")
    (home / "calendar.ics").write_text(calendar(vevent("f1", START, START + timedelta(hours=1))))
    config = config_module.load(config_path)
    secrets = secret_store(config)
    credentials.save(secrets, ACCOUNT, credentials.Grant.from_info(emulator.grant()))
    emulator.now = lambda: runner.clock.now()
    runner = Runner(
        config_path,
        mailbox=lambda: GmailMailbox(config, secrets, api=GoogleApi(config, secrets, sleep=Sleeps(), timeout=timeout)),
    )
    try:
        yield runner
    finally:
        runner.close()


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        (lambda e: e.fail("*", 429, times=10_000, retry_after="1"), "429"),
        (lambda e: e.fail("*", 403, times=10_000, reason="userRateLimitExceeded"), "403"),
        (lambda e: e.fail("*", 500, times=10_000), "500"),
        (lambda e: e.fail("*", 503, times=10_000), "503"),
        (lambda e: e.reset("*", times=10_000), "Gmail"),
    ],
    ids=["429-retry-after", "403-rate-limit", "500", "503", "reset-mid-response"],
)
def test_gmail_server_faults(
    home: Path,
    emulator: Emulator,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    fault: Callable[[Emulator], None],
    needle: str,
) -> None:
    with gmail_runner(home, emulator) as runner:
        outage_then_recovery(runner, caplog, needle, lambda: fault(emulator), emulator.faults.clear)
    assert len(emulator.drafts()) == 1


def test_gmail_slower_than_the_timeout(home: Path, emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    with gmail_runner(home, emulator, timeout=0.3) as runner:
        outage_then_recovery(
            runner, caplog, "Gmail", lambda: emulator.slow("*", 1.0, times=10_000), emulator.faults.clear
        )
    assert len(emulator.drafts()) == 1


def test_revoked_grant_waits_for_the_user(home: Path, emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    from followupd.google import credentials

    with gmail_runner(home, emulator) as runner:
        runner.at(START + timedelta(hours=2))
        emulator.revoke()

        def reauthorise() -> None:  # what `followupd auth google` does
            credentials.save(secret_store(runner.config), ACCOUNT, credentials.Grant.from_info(emulator.grant()))

        caplog.clear()
        reports = [runner.at(moment) for moment in OUTAGE]
        assert {r.exit_code for r in reports} == {EXIT_NOPERM}
        assert sum(1 for r in reports for n in r.notices if n.event == "reauthorise") == 1
        assert said(caplog, "followupd auth google") == 1
        assert runner.state() == "planned"
        reauthorise()
        assert runner.at(CLEARED).exit_code == EXIT_OK
        assert runner.state() == "drafted"


# ---------------------------------------------------------------- Radicale down


def test_radicale_down_and_back(home: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = Radicale.create()
    server.start()
    try:
        account = server.add_user()
        account.calendar = account.make_calendar("Work")
        account.put(calendar(vevent("f1", START, START + timedelta(hours=1))))
        maildir = make_maildir(home / "Mail")
        config_path = write_config(
            home, account.calendar_toml(), f'kind = "maildir"\npath = "{maildir}"', '[secrets]\nbackend = "file"\n'
        )
        secret_store(config_module.load(config_path)).set("caldav", account.username, account.password)
        runner = Runner(config_path)
        try:
            outage_then_recovery(runner, caplog, "CalDAV", server.stop, server.start, calendar_down=True)
            assert len(drafts(maildir)) == 1
        finally:
            runner.close()
    finally:
        server.remove()


# ---------------------------------------------------------------- the state dir itself


@contextlib.contextmanager
def small_filesystem(path: Path, size: str = "1m") -> Iterator[Path]:
    path.mkdir(parents=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    need(result.returncode == 0, f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _state_cli(home: Path, state: Path) -> Cli:
    maildir = make_maildir(home / "Mail")
    (home / "calendar.ics").write_text(calendar(vevent("f1", START, START + timedelta(hours=1))))
    config = write_config(
        home, f'kind = "ics"\npath = "{home / "calendar.ics"}"', f'kind = "maildir"\npath = "{maildir}"'
    )
    config.write_text(config.read_text().replace(f'dir = "{home / "state"}"', f'dir = "{state}"'))
    return Cli(home, config)


def test_disk_full_loses_nothing_and_recovers(home: Path) -> None:
    with small_filesystem(home / "small") as disk:
        cli = _state_cli(home, disk / "state")
        cli.run((START + timedelta(hours=2)).isoformat())
        filler = disk / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k"], capture_output=True, check=False)
        result = cli.run(DUE.isoformat(), check=False)
        assert result.returncode == EXIT_TEMPFAIL
        assert "the disk is full" in result.stderr and "Traceback" not in result.stderr
        filler.unlink()
        cli.run((DUE + timedelta(minutes=5)).isoformat())
        assert cli.step("f1")["state"] == "drafted"
        assert len(drafts(home / "Mail")) == 1


def test_read_only_state_dir_loses_nothing_and_recovers(home: Path) -> None:
    with small_filesystem(home / "ro") as disk:
        cli = _state_cli(home, disk / "state")
        cli.run((START + timedelta(hours=2)).isoformat())
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        result = cli.run(DUE.isoformat(), check=False)
        assert result.returncode == EXIT_TEMPFAIL
        assert "read-only" in result.stderr and "Traceback" not in result.stderr
        assert drafts(home / "Mail") == []  # nothing is written that the store could not record
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        cli.run((DUE + timedelta(minutes=5)).isoformat())
        assert cli.step("f1")["state"] == "drafted"
        assert len(drafts(home / "Mail")) == 1


# ---------------------------------------------------------------- Google Calendar and an ICS feed


def test_google_calendar_faults(home: Path, emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    from followupd.calendars.google import GoogleCalendarSource
    from followupd.google import credentials
    from followupd.google.api import GoogleApi

    from support.google_emulator.fixtures import gevent

    config_path = google_config(home, emulator, calendar="google", mailbox="maildir")
    config = config_module.load(config_path)
    secrets = secret_store(config)
    credentials.save(secrets, ACCOUNT, credentials.Grant.from_info(emulator.grant()))
    emulator.put_event(gevent("f1", "Backend Engineer interview at Acme", START))
    runner = Runner(
        config_path,
        calendar=lambda: GoogleCalendarSource(config, secrets, api=GoogleApi(config, secrets, sleep=Sleeps())),
    )
    emulator.now = runner.clock.now
    try:
        outage_then_recovery(
            runner,
            caplog,
            "503",
            lambda: emulator.fail("events.list", 503, times=10_000),
            emulator.faults.clear,
            calendar_down=True,
        )
    finally:
        runner.close()


def test_ics_feed_errors_and_garbage(home: Path, caplog: pytest.LogCaptureFixture) -> None:
    import http.server
    import threading

    from support.feed import FeedHandler

    handler = type(
        "Feed",
        (FeedHandler,),
        {"status": 200, "body": calendar(vevent("f1", START, START + timedelta(hours=1))).encode()},
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        maildir = make_maildir(home / "Mail")
        url = f"http://127.0.0.1:{server.server_address[1]}/private-token/basic.ics"
        runner = Runner(write_config(home, f'kind = "ics"\nurl = "{url}"', f'kind = "maildir"\npath = "{maildir}"'))
        try:
            assert runner.at(START + timedelta(hours=2)).exit_code == EXIT_OK
            caplog.set_level(logging.INFO)
            for status, body, needle in ((500, b"", "HTTP 500"), (200, b"<html>login</html>", "not an iCalendar file")):
                handler.status, handler.body = status, body
                caplog.clear()
                for moment in OUTAGE:
                    runner.at(moment)
                assert said(caplog, needle) == 1
                assert all("private-token" not in r.getMessage() for r in caplog.records)
            assert runner.state() == "drafted"
            handler.status, handler.body = 200, calendar(vevent("f1", START, START + timedelta(hours=1))).encode()
            assert runner.at(CLEARED).exit_code == EXIT_OK
            assert runner.store.health() == []
        finally:
            runner.close()
    finally:
        server.shutdown()
        server.server_close()
