"""`followupd run` as a real process on the real clock: ICS + Maildir, signals, sd_notify.

Nothing here sleeps to make time pass; the tests wait (bounded) for the daemon to act,
and the one follow-up due "soon" is due a few seconds after the daemon starts.
"""

from __future__ import annotations

import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from followupd.errors import EXIT_CONFIG, EXIT_ERROR, EXIT_TEMPFAIL

from support.daemon import DaemonProcess
from support.harness import Cli, round_the_clock, write_config
from support.ics import calendar, vevent


def _cli(home: Path, maildir: Path, extra: str) -> Cli:
    calendar_ = f'kind = "ics"\npath = "{home / "calendar.ics"}"'
    return Cli(home, write_config(home, calendar_, f'kind = "maildir"\npath = "{maildir}"', extra))


def _drafts(maildir: Path) -> list[Path]:
    return sorted((maildir / ".Drafts" / "cur").iterdir())


def test_drafts_at_due_time_survives_a_broken_reload_and_stops_cleanly(
    home: Path, maildir: Path, start: Callable[..., DaemonProcess]
) -> None:
    end = datetime.now(UTC).replace(microsecond=0)
    acme = vevent("acme-1@test", end - timedelta(hours=1), end)
    (home / "calendar.ics").write_text(calendar(acme))
    notified = home / "notified"
    notify = f'\n[notify]\ncommand = "echo \\"$FOLLOWUPD_EVENT $FOLLOWUPD_UID\\" >> {notified}"\n'
    cli = _cli(home, maildir, round_the_clock("5s", "1h") + notify)
    good_config = cli.config.read_text()

    # JOURNAL_STREAM as under systemd (not our stderr, so no priority prefixes either).
    daemon = start(cli, env={"JOURNAL_STREAM": "0:0"})
    daemon.wait_for(r"ready: 1 interview tracked · next draft")
    assert "planned for" in daemon.text
    assert "draft created" not in daemon.text, "the first pass came after the due time: machine too slow?"

    # The date job, not a poll (an hour away) or anything we do, drafts it on time.
    daemon.wait_for(r"thank-you draft created for Acme interview, .*, to jane\.doe@acme\.io")
    assert len(_drafts(maildir)) == 1
    # The [notify] command runs once the pass is over.
    daemon.wait_until(lambda: notified.exists() and "draft-created" in notified.read_text(), "the [notify] command")
    # (the interview ended before its draft was due: the note nudge came first, once)
    assert notified.read_text() == "interview-ended acme-1@test\ndraft-created acme-1@test\n"

    # A broken config on SIGHUP is reported; the running one stays in force.
    cli.config.write_text("[me\nname = ")
    daemon.send(signal.SIGHUP)
    daemon.wait_for(r"not reloading: .*config\.toml has 1 problem; the running config stays in force")
    assert "not valid TOML" in daemon.text
    assert daemon.proc.poll() is None

    # A good one is used at once: the reload runs a pass, which finds a new interview.
    start_globex = end + timedelta(days=2)
    globex = vevent(
        "globex-1@test",
        start_globex,
        start_globex + timedelta(hours=1),
        "Interview at Globex",
        organizer="Tom <tom@globex.example>",
    )
    (home / "calendar.ics").write_text(calendar(acme, globex))
    cli.config.write_text(good_config)
    daemon.send(signal.SIGHUP)
    daemon.wait_for(r"thank-you for Globex interview, .* planned for")

    assert daemon.stop() == 0
    assert "SIGTERM: stopping" in daemon.text and daemon.text.rstrip().endswith("stopped")
    # journald stamps lines itself: none of ours carries a time.
    assert not re.search(r"^\d{4}-\d\d-\d\d", daemon.text, re.MULTILINE)

    assert cli.step("acme-1@test")["state"] == "drafted"
    assert cli.step("globex-1@test")["state"] == "planned"
    assert len(_drafts(maildir)) == 1
    db = sqlite3.connect(home / "state" / "state.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM followups WHERE state = 'drafting'").fetchone() == (0,)
    finally:
        db.close()


def _messages(sock: socket.socket, until: str) -> list[dict[str, str]]:
    """Datagrams received until one has the key `until` (bounded by the socket timeout)."""
    seen = []
    while True:
        fields = dict(line.split("=", 1) for line in sock.recv(4096).decode().splitlines())
        seen.append(fields)
        if until in fields:
            return seen


def test_speaks_sd_notify_and_refuses_a_second_daemon(
    home: Path, maildir: Path, start: Callable[..., DaemonProcess]
) -> None:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    (home / "calendar.ics").write_text(calendar(vevent("acme-1@test", end - timedelta(hours=1), end)))
    cli = _cli(home, maildir, round_the_clock("1d", "2d"))
    name = f"followupd-test-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)  # an abstract socket, as systemd's NOTIFY_SOCKET may be
    sock.settimeout(15)
    try:
        daemon = start(cli, env={"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "2000000"})
        ready = _messages(sock, "READY")[-1]
        # Ready as soon as it serves: the first pass is news, not a condition of starting.
        assert ready == {"READY": "1", "STATUS": "first pass: reading the calendar and the mailbox"}
        after = _messages(sock, "STATUS")[-1]
        assert after["STATUS"].startswith("1 interview tracked · next draft ")
        assert _messages(sock, "WATCHDOG")[-1] == {"WATCHDOG": "1"}

        second = cli("run", check=False, timeout=30)
        assert second.returncode == EXIT_ERROR
        assert re.search(r"another followupd daemon \(pid \d+\) already runs on", second.stderr)

        assert daemon.stop() == 0
        stopping = _messages(sock, "STOPPING")[-1]
        assert stopping["STOPPING"] == "1"
    finally:
        sock.close()


def test_an_unreachable_server_is_logged_once_retried_and_shown(
    home: Path, maildir: Path, start: Callable[..., DaemonProcess]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret = "private-8f3a2c"
    calendar_ = f'kind = "ics"\nurl = "http://127.0.0.1:{port}/{secret}/basic.ics"\ntimeout = "2s"'
    cli = Cli(
        home,
        write_config(
            home,
            calendar_,
            f'kind = "maildir"\npath = "{maildir}"',
            round_the_clock("1d", "2d"),
        ),
    )

    daemon = start(cli, "-v")
    daemon.wait_for(r"ready: .*1 problem")
    daemon.wait_for(r"retrying in 15s")
    assert daemon.text.count(f"WARNING ICS feed http://127.0.0.1:{port}/…") == 1
    assert daemon.proc.poll() is None
    status = cli("status").stdout
    assert f"! ICS feed http://127.0.0.1:{port}/…" in status
    assert daemon.stop() == 0
    # The feed's address is a password: neither the log nor status shows it.
    assert secret not in daemon.text and secret not in status


def test_a_broken_template_stops_the_start_with_the_config_exit_code(home: Path, maildir: Path) -> None:
    (home / "calendar.ics").write_text(calendar())
    cli = _cli(home, maildir, "")
    (home / "templates").mkdir()
    (home / "templates" / "thank-you.txt.j2").write_text("Subject: Hi {{ nobody_knows_me }}\n\nBody\n")
    result = cli("run", check=False, timeout=30)
    assert result.returncode == EXIT_CONFIG
    assert "thank-you.txt.j2" in result.stderr and "nobody_knows_me" in result.stderr


def test_logs_carry_journal_priorities_when_stderr_is_the_journal(home: Path, maildir: Path) -> None:
    end = datetime(2026, 11, 24, 15, tzinfo=UTC)
    (home / "calendar.ics").write_text(calendar(vevent("acme-1@test", end - timedelta(hours=1), end)))
    cli = _cli(home, maildir, "")
    log = home / "journal"
    with log.open("w") as stderr:
        st = Path(log).stat()
        # systemd names the stream it connected to stderr by device and inode.
        env = {**cli.env(), "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        argv = [sys.executable, "-m", "followupd", "--config", str(cli.config), "run", "--once"]
        result = subprocess.run(
            [*argv, "--now", "2026-11-24T15:30:00+00:00"],
            stderr=stderr,
            env=env,
            cwd=home,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, log.read_text()
    lines = log.read_text().splitlines()
    assert "<6>INFO found interview Acme interview, Tue 24 Nov 14:00 with jane.doe@acme.io" in lines
    assert all(re.match(r"<[0-7]>[A-Z]+ ", line) for line in lines), lines


class TricklingFeed:
    """An ICS URL whose server sends a byte every 0.2 s and never finishes: each read
    succeeds well inside the socket timeout, so only a deadline on the pass stops it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/calendar.ics"
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n")
                while not self.done.wait(0.2):
                    conn.sendall(b"X")
            except OSError:
                return

    def close(self) -> None:
        self.done.set()
        self.sock.close()


def test_ready_while_the_first_pass_stalls_and_a_hung_pass_ends_the_daemon_for_a_restart(
    home: Path, maildir: Path, start: Callable[..., DaemonProcess]
) -> None:
    feed = TricklingFeed()
    cli = Cli(
        home,
        write_config(
            home,
            f'kind = "ics"\nurl = "{feed.url}"\ntimeout = "5s"',
            f'kind = "maildir"\npath = "{maildir}"',
            round_the_clock("1d", "2d") + 'pass_timeout = "2s"\n',
        ),
    )
    name = f"followupd-test-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(15)
    try:
        daemon = start(cli, env={"NOTIFY_SOCKET": "@" + name})
        # systemd hears READY=1 while the first pass is still reading the feed: no
        # start timeout, no restart loop because of one slow input.
        ready = _messages(sock, "READY")[-1]
        assert ready == {"READY": "1", "STATUS": "first pass: reading the calendar and the mailbox"}
        assert "ready:" not in daemon.text  # the first pass has not finished
        daemon.wait_for(r"ERROR a pass \(start\) has run for over 2s \(\[daemon\] pass_timeout\)", timeout=15)
        # The read never reaches a transaction to stop at: past twice the limit the
        # daemon exits 75 (temporary failure), and Restart=on-failure starts it afresh.
        assert daemon.proc.wait(20) == EXIT_TEMPFAIL
        assert "exiting with status 75 so that the daemon starts afresh" in daemon.text
        statuses = [m.get("STATUS") for m in _messages(sock, "STATUS")]
        assert statuses[-1] in ("a pass hung; restarting", "a pass has run for over 2s; ending it")
    finally:
        sock.close()
        feed.close()
    db = sqlite3.connect(home / "state" / "state.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()
