"""The daemon in this process, with the real engine and a Maildir that can push or stall:
the push seam, stopping in the middle of a draft, the retry backoff."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followupd import config as config_module
from followupd.app import secret_store
from followupd.calendars import open_calendar
from followupd.clock import Clock
from followupd.config import Config
from followupd.daemon import Daemon, backoff
from followupd.engine import Engine
from followupd.mailboxes.maildir import MaildirMailbox
from followupd.sdnotify import SystemdNotifier
from followupd.store import Store

from support.harness import round_the_clock, write_config
from support.ics import calendar, vevent

WINDOW = round_the_clock("1h", "1d")


def _config(home: Path, maildir: Path) -> Config:
    calendar_ = f'kind = "ics"\npath = "{home / "calendar.ics"}"'
    return config_module.load(write_config(home, calendar_, f'kind = "maildir"\npath = "{maildir}"', WINDOW))


def _engine_with(
    mailbox_cls: type[MaildirMailbox], opened: list[MaildirMailbox]
) -> Callable[[Config, Store, Clock], Engine]:
    """The real engine and calendar; only the mailbox is our subclass."""

    def build(config: Config, store: Store, clock: Clock) -> Engine:
        secrets = secret_store(config)

        def mailbox() -> MaildirMailbox:
            opened.append(mailbox_cls(config, secrets))
            return opened[-1]

        return Engine(config, store, clock, calendar=lambda: open_calendar(config, secrets), mailbox=mailbox)

    return build


@contextlib.contextmanager
def running(daemon: Daemon) -> Iterator[dict[str, int]]:
    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.update(rc=daemon.run()))
    thread.start()
    try:
        yield result
    finally:
        daemon.stop()
        thread.join(15)
        assert not thread.is_alive()


def _wait(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    """Wait (bounded) for the daemon's threads to act."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _states(config: Config) -> dict[str, str]:
    store = Store.open(config.state_dir, datetime.now(UTC), readonly=True)
    try:
        return {f"{f.uid} {f.step}": str(f.state) for f in store.followups()}
    finally:
        store.close()


def _interview(uid: str, ended: datetime) -> str:
    return vevent(uid, ended - timedelta(hours=1), ended)


def test_a_pushing_mailbox_wakes_a_pass(home: Path, maildir: Path) -> None:
    class PushingMaildir(MaildirMailbox):
        def watch(self, wake: Callable[[], None]) -> Callable[[], None]:
            self.wake = wake
            self.unwatched = threading.Event()
            return self.unwatched.set

    (home / "calendar.ics").write_text(calendar())
    config = _config(home, maildir)
    opened: list[MaildirMailbox] = []
    daemon = Daemon(
        config,
        engine=_engine_with(PushingMaildir, opened),
        systemd=SystemdNotifier({}),
        handle_signals=False,
    )
    with running(daemon) as result:
        assert daemon.ready.wait(10)
        (mailbox,) = opened
        assert isinstance(mailbox, PushingMaildir) and callable(mailbox.wake)
        # Polling is an hour away: only the wake-up can make the next pass happen now.
        later = datetime.now(UTC) + timedelta(days=1)
        (home / "calendar.ics").write_text(calendar(_interview("acme-1@test", later)))
        threading.Thread(target=mailbox.wake).start()  # from any thread, as an IDLE loop would
        _wait(lambda: "acme-1@test thank-you" in _states(config), "the pass the wake-up asked for")
        # That pass left a date job for the interview's end (the nudge) and one for its thank-you.
        _wait(
            lambda: all(daemon.scheduler.get_job(j) for j in ("ended acme-1@test", "due acme-1@test thank-you")),
            "the date jobs the pass asked for",
        )
    assert result == {"rc": 0}
    assert mailbox.unwatched.is_set()


def test_stop_during_a_draft_ends_at_a_transaction_and_the_next_start_finishes_it(
    home: Path, maildir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="followupd")
    entered, release = threading.Event(), threading.Event()

    class StallingMaildir(MaildirMailbox):
        def create_draft(self, message, thread=None):  # type: ignore[no-untyped-def]
            entered.set()
            assert release.wait(10)
            return super().create_draft(message, thread)

    (home / "calendar.ics").write_text(calendar(_interview("acme-1@test", datetime.now(UTC) - timedelta(hours=2))))
    config = _config(home, maildir)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(10)
    systemd = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "notify")})
    daemon = Daemon(config, engine=_engine_with(StallingMaildir, []), systemd=systemd, handle_signals=False)
    try:
        with running(daemon) as result:
            assert entered.wait(10)  # the first pass is writing the draft
            daemon.stop()
            while b"STOPPING=1" not in sock.recv(4096):  # READY=1 came first, at start
                pass
            release.set()  # the draft is written after the stop was asked for
    finally:
        sock.close()
    assert result == {"rc": 0}
    assert "stopped between two transactions" in caplog.text
    # The draft exists; recording it was the next transaction, which did not begin.
    assert len(list((maildir / ".Drafts" / "cur").iterdir())) == 1
    assert _states(config) == {
        "acme-1@test thank-you": "drafting",
        "acme-1@test check-in": "planned",
    }

    # The next start finds it by its Message-ID instead of writing a second one.
    again = Daemon(config, systemd=SystemdNotifier({}), handle_signals=False)
    with running(again):
        assert again.ready.wait(10)
    assert _states(config)["acme-1@test thank-you"] == "drafted"
    assert len(list((maildir / ".Drafts" / "cur").iterdir())) == 1


def test_backoff_doubles_up_to_the_poll_interval() -> None:
    poll = timedelta(minutes=5)
    delays = [backoff(n, poll) for n in range(1, 7)]
    assert delays == [timedelta(seconds=s) for s in (15, 30, 60, 120, 240)] + [None]
    assert backoff(1, timedelta(seconds=10)) is None  # polling often enough already
    assert backoff(10_000, poll) is None  # no overflow after a long outage


def test_a_pass_past_its_deadline_ends_at_a_transaction_and_the_next_pass_drafts_once(
    home: Path, maildir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="followupd")
    entered, release = threading.Event(), threading.Event()
    exits: list[int] = []

    class SlowMaildir(MaildirMailbox):
        slow = True

        def create_draft(self, message, thread=None):  # type: ignore[no-untyped-def]
            if SlowMaildir.slow:  # the first attempt hangs, as a stalled server would
                SlowMaildir.slow = False
                entered.set()
                assert release.wait(20)
            return super().create_draft(message, thread)

    (home / "calendar.ics").write_text(calendar(_interview("acme-1@test", datetime.now(UTC) - timedelta(hours=2))))
    path = write_config(
        home,
        f'kind = "ics"\npath = "{home / "calendar.ics"}"',
        f'kind = "maildir"\npath = "{maildir}"',
        WINDOW + 'pass_timeout = "2s"\n',
    )
    config = config_module.load(path)
    daemon = Daemon(
        config,
        engine=_engine_with(SlowMaildir, []),
        systemd=SystemdNotifier({}),
        handle_signals=False,
        hard_exit=exits.append,  # in this process: record it rather than end pytest
    )
    with running(daemon) as result:
        assert entered.wait(10)  # the pass is writing the draft, and stays there
        _wait(lambda: "has run for over 2s" in caplog.text, "the overrun report", timeout=10)
        release.set()  # the write lands after the pass was told to end
        _wait(lambda: _states(config).get("acme-1@test thank-you") == "drafted", "the next pass", timeout=10)
    assert result == {"rc": 0}
    assert exits == []  # it ended at a transaction, well before twice the deadline
    assert "the overrunning pass stopped between two transactions; a new pass starts now" in caplog.text
    # Recording the first write was refused; the next pass found the draft by its Message-ID.
    assert len(list((maildir / ".Drafts" / "cur").iterdir())) == 1


def test_due_jobs_are_derived_from_planned_follow_ups_only() -> None:
    from followupd.daemon_jobs import due_jobs
    from followupd.model import State
    from followupd.store import FollowUp

    now = datetime(2026, 11, 5, 12, tzinfo=UTC)
    later, earlier = now + timedelta(hours=3), now - timedelta(hours=1)
    followups = [
        FollowUp("a", "thank-you", 0, State.PLANNED, due_at=later),
        FollowUp("b", "thank-you", 0, State.PLANNED, due_at=earlier),  # due already: the pass drafts it
        FollowUp("c", "thank-you", 0, State.DRAFTED, due_at=later),
        FollowUp("d", "check-in", 1, State.PLANNED, due_at=None),
    ]
    assert due_jobs(followups, now) == {"due a thank-you": later}


def test_an_interview_end_is_a_job_while_its_nudge_is_to_come() -> None:
    """The interview-ended nudge runs a pass when the interview ends, not at the next
    poll (which may be an hour away): one date job per interview still to end."""
    from followupd.daemon_jobs import DueJobs, due_jobs
    from followupd.model import Contact, Interview, InterviewRecord, State
    from followupd.policy.say import ending
    from followupd.store import FollowUp

    now = datetime(2026, 11, 5, 12, tzinfo=UTC)

    def record(uid: str, end: datetime, skipped: bool = False) -> InterviewRecord:
        iv = Interview(uid, "Interview", end - timedelta(hours=1), end, (Contact("j@acme.io"),), "Acme", None, None)
        return InterviewRecord(iv, skipped=skipped)

    records = [
        record("soon", now + timedelta(minutes=30)),
        record("over", now - timedelta(minutes=5)),  # the pass running now tells it
        record("told", now + timedelta(hours=2)),
        record("skipped", now + timedelta(hours=2), skipped=True),
    ]
    planned = {r.uid: [FollowUp(r.uid, "thank-you", 0, State.PLANNED)] for r in records}
    ends = ending(records, planned, {"told"}, now)
    assert ends == {"soon": now + timedelta(minutes=30)}
    assert due_jobs([], now, ends) == {"ended soon": now + timedelta(minutes=30)}

    class Scheduler:
        def __init__(self) -> None:
            self.jobs: dict[str, tuple[datetime, list[str]]] = {}

        def add_job(self, func, trigger, run_date, id, args, replace_existing):  # type: ignore[no-untyped-def]  # noqa: A002
            self.jobs[id] = (run_date, args)

        def remove_job(self, job_id: str) -> None:
            del self.jobs[job_id]

    scheduler = Scheduler()
    jobs = DueJobs(scheduler, lambda reason: None)
    jobs.apply(due_jobs([FollowUp("soon", "thank-you", 0, State.PLANNED, due_at=now + timedelta(days=1))], now, ends))
    assert scheduler.jobs == {
        "ended soon": (now + timedelta(minutes=30), ["an interview ended"]),
        "due soon thank-you": (now + timedelta(days=1), ["thank-you due"]),
    }
    jobs.apply(due_jobs([], now, {}))  # told: the job goes
    assert scheduler.jobs == {}
