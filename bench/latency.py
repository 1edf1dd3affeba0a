"""Reply → sequence stopped: IMAP IDLE on a real Dovecot against polling.

    /tmp/venv/bin/python bench/latency.py [--quick]

A real `followupd run` (the daemon, as a subprocess) on an ICS calendar and an IMAP
mailbox on a throwaway Dovecot (tests/support/servers.py). The calendar holds one interview
per trial, each with its own recruiter and company, all ended a day ago, so the
first pass drafts every thank-you into Drafts. Then, per trial, a reply from that
trial's recruiter is APPENDed to INBOX through a second IMAP connection (the mail
server delivering it), and the clock runs until the store (read-only SQLite) shows
every step of that interview `replied`. Trials run one after the other.

- IDLE: the account announces IDLE; the daemon's watcher wakes a pass on EXISTS.
  `[daemon] poll = "1h"`, so only IDLE can be what woke it.
- Polling: an account whose server hides IDLE (capability IMAP4rev1), `poll = "4s"`;
  each reply is sent at a random moment of the poll cycle. The default poll is 5
  minutes; its figures are computed from the measured ones, not waited for: a reply
  waits for the next pass, poll/2 on average and up to a whole poll, plus the pass.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common

from support.harness import round_the_clock

SHORT_POLL = 4.0
DOVECOT_DELAY = 0.5  # Dovecot sends IDLE notifications half a second after a change


class Daemon:
    """`followupd run` in a subprocess; its stderr lines kept with their arrival times."""

    def __init__(self, home: Path, config: Path) -> None:
        self.lines: list[tuple[float, str]] = []
        self.process = subprocess.Popen(
            [common.PYTHON, "-m", "followupd", "--config", str(config), "run"],
            env=common.env(home),
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.db: sqlite3.Connection | None = None
        self.state = home / "state" / "state.sqlite3"

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def logged(self, text: str) -> bool:
        return any(text in line for _, line in self.lines)

    def query(self, sql: str, *args: Any) -> list[Any]:
        if self.db is None:
            if not self.state.exists():
                return []
            self.db = sqlite3.connect(f"file:{self.state}?mode=ro", uri=True, isolation_level=None)
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # the schema is being created
            return []

    def stop(self) -> str:
        if self.db is not None:
            self.db.close()
        self.process.terminate()  # SIGTERM, to this child by its PID
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        return "\n".join(line for _, line in self.lines)


@contextlib.contextmanager
def dovecot() -> Iterator[Any]:
    with common.dovecot_if_installed(None) as server:
        yield server


def set_up(work: Path, name: str, account: Any, trials: int, poll: str) -> tuple[Path, Path]:
    from followupd.secrets import SecretStore

    home = work / name
    home.mkdir()
    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=26)
    events = [common.ics_interview(i, ended - timedelta(hours=1, minutes=i)) for i in range(trials)]
    (home / "calendar.ics").write_text(common.ics_calendar(events), encoding="utf-8")
    config = common.write_config(
        home,
        f'kind = "ics"\npath = "{home / "calendar.ics"}"',
        account.mailbox_toml(),
        round_the_clock("1h", "3d", poll) + '\n[secrets]\nbackend = "file"\n',
    )
    SecretStore("file", home / "state").set("imap", account.username, account.password)
    return home, config


def measure(work: Path, name: str, account: Any, trials: int, poll: str, spread: float | None) -> list[float]:
    home, config = set_up(work, name, account, trials, poll)
    daemon = Daemon(home, config)
    try:
        drafted = "SELECT count(*) FROM followups WHERE step = 'thank-you' AND state = 'drafted'"
        stopped = "SELECT count(*) FROM followups WHERE uid = ? AND state = 'replied'"
        common.wait_until(lambda: (daemon.query(drafted) or [(0,)])[0][0] == trials, 120, 0.05, "the first drafts")
        if spread is None:
            common.wait_until(lambda: daemon.logged("pushes new mail"), 30, 0.05, "the IDLE watcher")
        uids = {}
        for uid, contacts in daemon.query("SELECT uid, contacts FROM interviews"):
            for i in range(trials):
                if common.recruiter_address(i) in contacts:
                    uids[i] = uid
        steps = (daemon.query("SELECT count(DISTINCT step) FROM followups") or [(2,)])[0][0]
        server = account.connect()
        latencies = []
        time.sleep(1.0)  # let the start-up pass finish
        for i in range(trials):
            if spread is not None:
                time.sleep(random.uniform(0, spread))  # a random moment of the poll cycle
            reply = common.mail(
                f"Recruiter {i} <{common.recruiter_address(i)}>",
                "Re: Thank you",
                f"<reply{i}.{time.time_ns()}@company{i}.example>",
                datetime.now(UTC),
            )
            started = time.monotonic()
            server.append("INBOX", reply)
            done = common.wait_until(
                lambda u=uids[i]: (daemon.query(stopped, u) or [(0,)])[0][0] == steps,
                60 + (spread or 0) * 2,
                0.005,
                f"reply {i} to stop its sequence",
            )
            latencies.append(done - started)
            print(f"{name} trial {i}: {done - started:.3f} s", file=sys.stderr)
            time.sleep(0.3)  # the pass goes on to delete the untouched draft
        drafts_left = (daemon.query(drafted) or [(0,)])[0][0]
        assert drafts_left == 0, f"{drafts_left} drafts were not stopped"
        return latencies
    finally:
        log = daemon.stop()
        if "Traceback" in log:
            print(log[-3000:], file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = common.arguments(__doc__.splitlines()[0], argv)
    idle_trials, poll_trials = (5, 4) if args.quick else (20, 10)
    with common.workdir(args.keep, "latency") as work, dovecot() as server:
        idle = measure(work, "idle", server.add_user(), idle_trials, "1h", None)
        polled = measure(
            work, "poll", server.add_user(capability="IMAP4rev1"), poll_trials, f"{SHORT_POLL:.0f}s", SHORT_POLL
        )
    # A polled reply waits for the next pass (half a poll on average) and then the pass
    # itself. IDLE measures the pass plus Dovecot's own notification delay (0.5 s), so
    # the pass's share is the IDLE median less that delay.
    pass_share = max(common.median(idle) - DOVECOT_DELAY, 0.0)
    default = common.POLL.total_seconds()
    rows = [
        [
            "IMAP IDLE (Dovecot)",
            len(idle),
            common.ms(common.median(idle)),
            common.ms(common.percentile(idle, 90)),
            common.ms(min(idle)),
            common.ms(max(idle)),
        ],
        [
            f"polling every {SHORT_POLL:.0f} s, no IDLE (measured)",
            len(polled),
            common.ms(common.median(polled)),
            common.ms(common.percentile(polled, 90)),
            common.ms(min(polled)),
            common.ms(max(polled)),
        ],
        [
            "polling every 5 min, the default (computed)",
            "",
            common.ms(default / 2 + pass_share),
            common.ms(0.9 * default + pass_share),
            common.ms(pass_share),
            common.ms(default + pass_share),
        ],
    ]
    body = (
        "From the APPEND of a reply into INBOX (a second IMAP connection) to the store showing every step of "
        "that interview `replied` (its untouched draft is deleted in the same pass). Times in ms.\n\n"
        + common.table(["how new mail is noticed", "trials", "median", "p90", "min", "max"], rows)
        + f"\n\nIDLE against the default poll: {(default / 2 + pass_share) / common.median(idle):.0f}× sooner on the "
        f"median. The computed row is poll × (0.5, 0.9, 0, 1) plus the pass itself ({pass_share * 1000:.0f} ms: the "
        f"IDLE median less Dovecot's 0.5 s notification delay); the measured {SHORT_POLL:.0f} s poll (median "
        f"{common.median(polled):.2f} s against a predicted {SHORT_POLL / 2 + pass_share:.2f} s) checks that model."
    )
    print(common.section("3. Reply → sequence stopped", body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
