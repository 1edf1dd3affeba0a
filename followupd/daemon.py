"""`followupd run`: the long-running daemon, and its supervisor (the main thread).

Four jobs, one module each:

- Supervisor (here): the main thread only listens. SIGTERM/SIGINT stop, SIGHUP
  reloads, and a tick feeds systemd's watchdog, nudges the scheduler (see `_TICK`)
  and enforces `[daemon] pass_timeout`.
- Pass runner (daemon_pass.py): one thread owns the store, the engine and its open
  backends and runs the passes, one at a time.
- Due jobs (daemon_jobs.py): APScheduler fires the periodic sync, one date job per
  planned follow-up at its `due_at` (derived from the store after every pass, in
  memory only) and a retry after a transient failure. A job only *asks* for a pass.
- Mailbox watch (daemon_watch.py): a mailbox that can push asks for a pass too.

Readiness: systemd hears READY=1 as soon as the daemon serves (the lock is held, the
scheduler and the pass thread run), with STATUS= saying the first pass is under way;
a slow first pass (a big calendar, a server that trickles) is then reported by the
pass deadline instead of failing the start and looping through restarts.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from types import FrameType

from followupd.clock import SystemClock
from followupd.compose import check_templates
from followupd.config import Config, load
from followupd.daemon_jobs import SYNC_JOB, DueJobs, backoff, span
from followupd.daemon_pass import EngineFactory, PassRunner, Stopping
from followupd.errors import EXIT_OK, EXIT_TEMPFAIL, ConfigError, FollowupdError
from followupd.sdnotify import SystemdNotifier
from followupd.statedir import claim_daemon as _claim

__all__ = ["Daemon", "EngineFactory", "Stopping", "backoff", "run_daemon"]

log = logging.getLogger(__name__)

# SIGTERM → exit 0 well inside the 10 s the units allow (TimeoutStopSec=15s).
STOP_DEADLINE = 8.0
# The scheduler sleeps on a monotonic clock, which stands still while the machine is
# suspended: waking it this often makes a job that fell due during a suspend run
# within a tick of the wake-up instead of after the remaining (monotonic) wait. The
# tick also bounds how late the main thread sees a signal another thread received.
_TICK = 10.0


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        engine: EngineFactory | None = None,
        systemd: SystemdNotifier | None = None,
        handle_signals: bool = True,
        hard_exit: Callable[[int], object] = os._exit,
    ) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        from followupd.app import build_engine

        self.config = config  # the latest accepted config (main thread)
        self.clock = SystemClock()
        self.systemd = systemd if systemd is not None else SystemdNotifier()
        self._signals = handle_signals
        self._hard_exit = hard_exit  # the way out of a hung pass; an embedder may do otherwise
        self._inbox: queue.SimpleQueue[int | FollowupdError] = queue.SimpleQueue()  # → main thread
        self._stopping = threading.Event()
        self._overrun: float | None = None  # monotonic start of the pass reported as overrunning
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
        self.passes = PassRunner(
            config,
            self.clock,
            engine or build_engine,
            DueJobs(self.scheduler, self._request),
            self._stopping,
            report=self._inbox.put,
            status=self.systemd.status,
        )
        self.ready = self.passes.ready  # set after the first pass; tests and embedders wait on it

    # ------------------------------------------------------------ main thread

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (or `stop()`); return the exit code."""
        self._claim_fd = _claim(self.config.state_dir)
        previous = {}
        if self._signals:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                previous[sig] = signal.signal(sig, self._on_signal)
        try:
            self.passes.thread.start()
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
                span(self.config.daemon.poll),
                self.config.path,
            )
            self.scheduler.start()
            self._request("start")
            # Serving now: what the first pass finds is news, not a condition of starting.
            self.systemd.ready("first pass: reading the calendar and the mailbox")
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

    def _request(self, reason: str) -> None:
        self.passes.request(reason)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Runs between two bytecodes of the main thread: only hand the signal on.
        # SimpleQueue.put is reentrant, so this cannot deadlock on a lock we hold.
        self._inbox.put(signum)

    def _tick_interval(self) -> float:
        ticks = [_TICK]
        if self.systemd.watchdog_interval:
            ticks.append(self.systemd.watchdog_interval)
        limit = self.config.daemon.pass_timeout.total_seconds()
        if limit > 0:
            ticks.append(max(limit / 4, 0.25))
        return min(ticks)

    def _listen(self) -> None:
        next_tick = time.monotonic() + self._tick_interval()
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
                next_tick = time.monotonic() + self._tick_interval()
                self.scheduler.wakeup()
                self._deadline()
                if self.systemd.watchdog_interval and self._alive():
                    self.systemd.watchdog()

    def _alive(self) -> bool:
        return self.passes.thread.is_alive() and self.scheduler.running

    def _deadline(self) -> None:
        """Enforce `[daemon] pass_timeout` on the running pass.

        Past the limit, the pass is reported and told to end at its next transaction;
        the next pass follows at once. Past twice the limit it is stuck where no
        transaction comes (a server trickling bytes inside its timeout, a runaway
        computation): threads cannot be interrupted, so the daemon exits with 75 once
        no transaction is open, and the service manager starts it afresh (the next
        start redoes the unfinished work and finds a written draft by its Message-ID).
        """
        limit = self.config.daemon.pass_timeout.total_seconds()
        started = self.passes.started
        if limit <= 0 or started is None:
            return
        ran = time.monotonic() - started
        if ran <= limit:
            return
        if self._overrun != started:
            self._overrun = started
            why = ", ".join(self.passes.reasons) or "?"
            log.error(
                "a pass (%s) has run for over %s ([daemon] pass_timeout); it ends at its next "
                "transaction and a new pass starts",
                why,
                span(timedelta(seconds=limit)),
            )
            self.systemd.status(f"a pass has run for over {span(timedelta(seconds=limit))}; ending it")
            self.passes.abandon()
        elif ran > 2 * limit:
            log.critical(
                "the pass is still running after %s, with no transaction to stop it at (a server trickling "
                "its answer, or a runaway input); exiting with status %d so that the daemon starts afresh",
                span(timedelta(seconds=2 * limit)),
                EXIT_TEMPFAIL,
            )
            self.systemd.status("a pass hung; restarting")
            store = self.passes.store
            if store is not None:
                store.writing.acquire(timeout=5)  # never in the middle of a transaction
            logging.shutdown()
            self._hard_exit(EXIT_TEMPFAIL)

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
        old, self.config = self.config, config
        if config.daemon.poll != old.daemon.poll:
            self.scheduler.reschedule_job(SYNC_JOB, trigger="interval", seconds=config.daemon.poll.total_seconds())
        log.info("reloaded %s", path)
        self.passes.reload(config)

    def _shutdown(self) -> None:
        self._stopping.set()
        self.systemd.stopping()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.passes.finish()
        thread = self.passes.thread
        if thread.is_alive():
            thread.join(STOP_DEADLINE)
        if thread.is_alive():
            # Stuck waiting on a server. No transaction is open (they never wait on the
            # network, and `writing` proves it); what the pass had not written yet is
            # redone by the next start. Threads cannot be interrupted, so exit hard.
            store = self.passes.store
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


def run_daemon(config: Config) -> int:
    """`followupd run`: the config was loaded by the CLI; a reload reads `config.path`."""
    check_templates(config, SystemClock().now())
    return Daemon(config).run()
