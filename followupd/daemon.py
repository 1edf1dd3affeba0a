"""`followupd run`: the long-running daemon.

Three kinds of thread, and who owns what:

- The main thread only listens: SIGTERM/SIGINT stop, SIGHUP reloads, and a tick
  feeds systemd's watchdog and nudges the scheduler (see `_TICK`).
- APScheduler fires the jobs: the periodic sync, one date job per planned follow-up
  at its `due_at`, and a retry after a transient failure. A job only *asks* for a
  pass; so does a mailbox that can push (`Mailbox.watch`).
- One pass thread owns the store, the engine and its open backends (an SQLite
  connection belongs to the thread that opened it) and runs the passes, one at a
  time. Everything asked for while a pass runs is served by a single next pass, so
  passes never overlap and a burst of requests costs one pass.

The store stays the single source of truth: the date jobs are derived from it after
every pass and live in memory only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

from followupd.clock import Clock, SystemClock
from followupd.compose import check_templates
from followupd.config import Config, load
from followupd.engine import Engine, PassReport
from followupd.errors import EXIT_OK, ConfigError, FollowupdError
from followupd.mailboxes import Mailbox
from followupd.model import State
from followupd.notify import Notifier
from followupd.sdnotify import SystemdNotifier
from followupd.statedir import claim_daemon as _claim
from followupd.status import summary
from followupd.store import PassLock, Store

log = logging.getLogger(__name__)

SYNC_JOB = "sync"
RETRY_JOB = "retry"
DUE_JOB = "due "  # + "<uid> <step>"
# SIGTERM → exit 0 well inside the 10 s the units allow (TimeoutStopSec=15s).
STOP_DEADLINE = 8.0
# The scheduler sleeps on a monotonic clock, which stands still while the machine is
# suspended: waking it this often makes a job that fell due during a suspend run
# within a tick of the wake-up instead of after the remaining (monotonic) wait. The
# tick also bounds how late the main thread sees a signal another thread received.
_TICK = 10.0
RETRY_FIRST = timedelta(seconds=15)
# A pass running longer than this is stuck; the watchdog stops so systemd restarts us.
HUNG = 30 * 60.0

EngineFactory = Callable[[Config, Store, Clock], Engine]


class Stopping(BaseException):
    """Raised at a transaction boundary once the daemon is stopping. Not an Exception,
    so the engine's per-step guards let it through and the pass ends there."""


class _Store(Store):
    """The store, refusing to begin a transaction once the daemon is stopping.

    Transactions never wait on the network, so "finish the current transaction" is
    quick; whatever the pass had not written yet is redone by the next start (a draft
    written but not yet recorded is found again by its Message-ID).
    """

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        super().__init__(db, path)
        self.stopping = threading.Event()
        self.writing = threading.Lock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        if self.stopping.is_set():
            raise Stopping
        with self.writing, super().transaction() as db:
            yield db


def backoff(failures: int, poll: timedelta) -> timedelta | None:
    """How long to wait before retrying after `failures` passes in a row hit a transient
    problem: 15 s, 30 s, 1 min… or None once that reaches the poll interval, which then
    does the retrying."""
    delay = RETRY_FIRST * 2 ** min(max(failures - 1, 0), 20)
    return delay if delay < poll else None


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        engine: EngineFactory | None = None,
        systemd: SystemdNotifier | None = None,
        handle_signals: bool = True,
    ) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        from followupd.app import build_engine

        self.config = config  # the latest accepted config (main thread)
        self.clock = SystemClock()
        self.systemd = systemd if systemd is not None else SystemdNotifier()
        self.ready = threading.Event()  # set after the first pass; tests and embedders wait on it
        self._build = engine or build_engine
        self._signals = handle_signals
        self._inbox: queue.SimpleQueue[int | FollowupdError] = queue.SimpleQueue()  # → main thread
        self._requests: queue.SimpleQueue[str | None] = queue.SimpleQueue()  # → pass thread
        self._stopping = threading.Event()
        self._pending: Config | None = None
        self._pending_lock = threading.Lock()
        self._pass_started: float | None = None
        self._hung = False
        self._claim_fd: int | None = None
        self._fatal: FollowupdError | None = None
        self.scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            # The jobs only enqueue a request, so one worker is plenty.
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={
                "coalesce": True,  # a sync missed five times during a suspend runs once
                "max_instances": 1,
                # APScheduler's default (1 s) drops a run that is late because the machine
                # slept; a follow-up due during the night must still be drafted on wake-up.
                "misfire_grace_time": None,
            },
            timezone="UTC",
        )
        self._thread = threading.Thread(target=self._work, name="followupd-pass", daemon=True)
        # Owned by the pass thread:
        self._active = config
        self._notifier = Notifier(config.notify.command)
        self._store: _Store | None = None
        self._engine: Engine | None = None
        self._watched: Mailbox | None = None
        self._unwatch: Callable[[], None] | None = None
        self._due: dict[str, datetime] = {}
        self._failures = 0
        self._last_error: str | None = None

    # ------------------------------------------------------------ main thread

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (or `stop()`); return the exit code."""
        self._claim_fd = _claim(self.config.state_dir)
        previous = {}
        if self._signals:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                previous[sig] = signal.signal(sig, self._on_signal)
        try:
            self._thread.start()
            self.scheduler.add_job(
                self._request,
                "interval",
                seconds=self.config.daemon.poll.total_seconds(),
                id=SYNC_JOB,
                args=["poll"],
            )
            log.info(
                "followupd started: %s → %s, a pass every %s (config %s)",
                self.config.calendar.label,
                self.config.mailbox.label,
                _span(self.config.daemon.poll),
                self.config.path,
            )
            self.scheduler.start()
            self._request("start")
            self._listen()
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self._fatal is not None:
            raise self._fatal
        return EXIT_OK

    def stop(self) -> None:
        """Ask the daemon to stop, from any thread (SIGTERM does the same)."""
        self._inbox.put(signal.SIGTERM)

    def wake(self) -> None:
        """Run a pass as soon as possible; called by a pushing mailbox, from any thread."""
        self._request("new mail")

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Runs between two bytecodes of the main thread: only hand the signal on.
        # SimpleQueue.put is reentrant, so this cannot deadlock on a lock we hold.
        self._inbox.put(signum)

    def _listen(self) -> None:
        watchdog = self.systemd.watchdog_interval
        tick = min(_TICK, watchdog) if watchdog else _TICK
        next_tick = time.monotonic() + tick
        while True:
            try:
                item = self._inbox.get(timeout=max(next_tick - time.monotonic(), 0))
            except queue.Empty:
                item = None
            if isinstance(item, FollowupdError):
                self._fatal = item
                return
            if item in (signal.SIGTERM, signal.SIGINT):
                log.info("%s: stopping", signal.Signals(item).name)
                return
            if item == signal.SIGHUP:
                self._reload()
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + tick
                self.scheduler.wakeup()
                if watchdog and self._alive():
                    self.systemd.watchdog()

    def _alive(self) -> bool:
        started = self._pass_started
        hung = started is not None and time.monotonic() - started > HUNG
        if hung and not self._hung:
            log.error(
                "a pass has run for over %d minutes; the watchdog will restart followupd",
                HUNG // 60,
            )
        self._hung = hung
        return self._thread.is_alive() and self.scheduler.running and not hung

    def _reload(self) -> None:
        path = self.config.path
        try:
            config = load(path)
            check_templates(config, self.clock.now())
        except ConfigError as exc:
            count = len(exc.problems)
            log.error(
                "not reloading: %s has %d problem%s; the running config stays in force",
                exc.source,
                count,
                "" if count == 1 else "s",
            )
            for problem in exc.problems:
                log.error("  %s", problem)
            return
        if config.state_dir != self.config.state_dir:
            try:
                fd = _claim(config.state_dir)
            except (FollowupdError, OSError) as exc:
                log.error("not reloading: [state] dir: %s; the running config stays in force", exc)
                return
            if self._claim_fd is not None:
                os.close(self._claim_fd)
            self._claim_fd = fd
        self.config = config
        with self._pending_lock:
            self._pending = config
        log.info("reloaded %s", path)
        self._request("config reloaded")

    def _shutdown(self) -> None:
        self._stopping.set()
        self.systemd.stopping()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self._requests.put(None)
        if self._thread.is_alive():
            self._thread.join(STOP_DEADLINE)
        if self._thread.is_alive():
            # Stuck waiting on a server. No transaction is open (they never wait on the
            # network, and `writing` proves it); what the pass had not written yet is
            # redone by the next start. Threads cannot be interrupted, so exit hard.
            store = self._store
            if store is not None:
                store.writing.acquire(timeout=1)
            log.warning("stopped while a pass was still waiting on a server; the next start picks it up")
            logging.shutdown()
            os._exit(EXIT_OK)
        if self._claim_fd is not None:
            os.close(self._claim_fd)
            self._claim_fd = None
        self.systemd.close()
        if self._fatal is None:
            log.info("stopped")

    # ------------------------------------------------------------ pass thread

    def _request(self, reason: str) -> None:
        self._requests.put(reason)

    def _work(self) -> None:
        try:
            while True:
                reasons = [self._requests.get()]
                with contextlib.suppress(queue.Empty):
                    while True:  # everything asked for so far is served by this one pass
                        reasons.append(self._requests.get_nowait())
                if None in reasons or self._stopping.is_set():
                    return
                self._pass(reasons)  # type: ignore[arg-type]
        except Stopping:
            log.info("stopped between two transactions; the next start carries on from there")
        except FollowupdError as exc:
            self._inbox.put(exc)
        except BaseException as exc:  # noqa: BLE001 - without this thread the daemon is a zombie
            log.critical("the pass thread failed: %s", exc, exc_info=True)
            self._inbox.put(FollowupdError(f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            self._close()

    def _pass(self, reasons: list[str]) -> None:
        self._apply_reload()
        config = self._active
        if self._engine is None:
            try:
                self._open(config)
            except FollowupdError as exc:
                if not self.ready.is_set():
                    raise  # no state at start: a clear exit beats a silent retry loop
                self._failed(str(exc), config)
                return
        assert self._engine is not None and self._store is not None
        log.debug("pass (%s)", ", ".join(sorted(set(reasons))))
        self._pass_started = time.monotonic()
        try:
            with PassLock(config.state_dir):
                try:
                    report = self._engine.run_pass()
                except (Stopping, KeyboardInterrupt):
                    raise
                except Exception as exc:  # noqa: BLE001 - a bug or a full disk must not end the daemon
                    log.debug("the pass failed", exc_info=True)
                    self._failed(f"the pass failed: {type(exc).__name__}: {exc}", config)
                    return
                self._reschedule(report)
                line = summary(self._store, config.me.timezone, self.clock.now())
        finally:
            self._pass_started = None
        self._last_error = None
        for notice in report.notices:
            try:
                self._notifier(notice)
            except Exception:  # noqa: BLE001 - a notification never stops a pass
                log.warning("[notify] command could not run", exc_info=True)
        self._watch()
        transient = any(kind == "transient" for kind, _ in report.problems)
        self._retry(config, transient)
        if self.ready.is_set():
            self.systemd.status(line)
        else:
            self.systemd.ready(line)
            self.ready.set()
            log.info("ready: %s", line)

    def _open(self, config: Config) -> None:
        store = _Store.open(config.state_dir, self.clock.now())
        assert isinstance(store, _Store)
        store.stopping = self._stopping
        self._store = store
        self._engine = self._build(config, store, self.clock)

    def _close(self) -> None:
        self._stop_watching()
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self._store is not None:
            self._store.close()
            self._store = None

    def _apply_reload(self) -> None:
        with self._pending_lock:
            config, self._pending = self._pending, None
        if config is None:
            return
        old, self._active = self._active, config
        self._close()
        self._notifier = Notifier(config.notify.command)
        if config.daemon.poll != old.daemon.poll:
            self.scheduler.reschedule_job(SYNC_JOB, trigger="interval", seconds=config.daemon.poll.total_seconds())

    def _failed(self, message: str, config: Config) -> None:
        """A failure outside the engine's own bookkeeping: logged once, retried with backoff."""
        if message != self._last_error:
            log.error("%s", message)
            self._last_error = message
        self._retry(config, True)

    def _retry(self, config: Config, failing: bool) -> None:
        self._failures = self._failures + 1 if failing else 0
        delay = backoff(self._failures, config.daemon.poll) if failing else None
        if delay is None:
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(RETRY_JOB)
            return
        log.debug("retrying in %s", _span(delay))
        self.scheduler.add_job(
            self._request,
            "date",
            run_date=self.clock.now() + delay,
            id=RETRY_JOB,
            args=["retry"],
            replace_existing=True,
        )

    def _reschedule(self, report: PassReport) -> None:
        """One date job per planned follow-up not yet due when the pass began."""
        assert self._store is not None
        wanted = {
            f"{DUE_JOB}{f.uid} {f.step}": f.due_at
            for f in self._store.followups()
            if f.state == State.PLANNED and f.due_at is not None and f.due_at > report.now
        }
        for job_id in self._due.keys() - wanted.keys():
            with contextlib.suppress(Exception):  # a job that has fired is gone already
                self.scheduler.remove_job(job_id)
        for job_id, at in wanted.items():
            if self._due.get(job_id) != at:
                step = job_id.rsplit(" ", 1)[1]
                self.scheduler.add_job(
                    self._request,
                    "date",
                    run_date=at,
                    id=job_id,
                    args=[f"{step} due"],
                    replace_existing=True,
                )
        self._due = wanted

    def _watch(self) -> None:
        """Let the mailbox wake us on new mail, once per opened mailbox.

        Called in the pass thread after each pass; `watch` should start its own thread
        (IDLE needs a connection of its own) and return quickly. Its stop function is
        called, in the pass thread, before the daemon closes the mailbox, or after the
        engine dropped a failing one (so it must tolerate a closed mailbox).
        """
        mailbox = self._engine.mailbox if self._engine is not None else None
        if mailbox is self._watched:
            return
        self._stop_watching()
        self._watched = mailbox
        if mailbox is None:
            return
        try:
            self._unwatch = mailbox.watch(self.wake)
        except Exception as exc:  # noqa: BLE001 - push is an optimisation; polling still works
            log.warning("%s cannot push new mail (%s); polling instead", mailbox.label, exc)
            return
        if self._unwatch is not None:
            log.info("%s pushes new mail: a pass runs as soon as some arrives", mailbox.label)

    def _stop_watching(self) -> None:
        stop, self._unwatch, self._watched = self._unwatch, None, None
        if stop is not None:
            try:
                stop()
            except Exception:  # noqa: BLE001
                log.debug("stopping the mailbox watch failed", exc_info=True)


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def run_daemon(config: Config) -> int:
    """`followupd run`: the config was loaded by the CLI; a reload reads `config.path`."""
    check_templates(config, SystemClock().now())
    return Daemon(config).run()
