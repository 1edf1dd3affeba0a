"""The daemon's pass runner: one thread owns the store, the engine and its open
backends (an SQLite connection belongs to the thread that opened it) and runs the
passes, one at a time. Everything asked for while a pass runs is served by a single
next pass, so passes never overlap and a burst of requests costs one pass.

A pass that overruns `[daemon] pass_timeout` is told to end (`abandon()`): its next
transaction does not begin, which is the one point where stopping is always safe (a
draft written but not yet recorded is found again by its Message-ID), and the next
pass is asked for at once.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from followupd.clock import Clock
from followupd.config import Config
from followupd.daemon_jobs import DueJobs, due_jobs
from followupd.daemon_watch import MailWatch
from followupd.engine import Engine
from followupd.errors import FollowupdError
from followupd.notify import Notifier
from followupd.printable import printable_fields
from followupd.status import summary
from followupd.store import PassLock, Store

log = logging.getLogger(__name__)

EngineFactory = Callable[[Config, Store, Clock], Engine]


class Stopping(BaseException):
    """Raised at a transaction boundary once the daemon is stopping. Not an Exception,
    so the engine's per-step guards let it through and the pass ends there."""


class Overran(Stopping):
    """Raised at a transaction boundary of a pass that ran past `[daemon] pass_timeout`."""


class _Store(Store):
    """The store, refusing to begin a transaction once the daemon is stopping or the
    pass overran.

    Transactions never wait on the network, so "finish the current transaction" is
    quick; whatever the pass had not written yet is redone by the next pass (a draft
    written but not yet recorded is found again by its Message-ID).
    """

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        super().__init__(db, path)
        self.stopping = threading.Event()
        self.overran = threading.Event()
        self.writing = threading.Lock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        if self.stopping.is_set():
            raise Stopping
        if self.overran.is_set():
            raise Overran
        with self.writing, super().transaction() as db:
            yield db


class PassRunner:
    """The pass thread. `request()` may be called from any thread."""

    def __init__(
        self,
        config: Config,
        clock: Clock,
        build: EngineFactory,
        jobs: DueJobs,
        stopping: threading.Event,
        report: Callable[[FollowupdError], None],
        status: Callable[[str], object],
    ) -> None:
        self.clock = clock
        self.ready = threading.Event()  # set after the first pass
        self.started: float | None = None  # monotonic start of the running pass
        self.reasons: list[str] = []  # of the running pass
        self._build = build
        self._jobs = jobs
        self._stopping = stopping
        self._report = report  # a fatal error, for the main thread
        self._status = status  # a one-line summary after each pass, for systemd
        self._requests: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._pending: Config | None = None
        self._pending_lock = threading.Lock()
        self.thread = threading.Thread(target=self._work, name="followupd-pass", daemon=True)
        # Owned by the pass thread:
        self._active = config
        self._notifier = Notifier(config.notify.command)
        self.store: _Store | None = None
        self._engine: Engine | None = None
        self._watch = MailWatch(lambda: self.request("new mail"))
        self._last_error: str | None = None

    def request(self, reason: str) -> None:
        self._requests.put(reason)

    def reload(self, config: Config) -> None:
        """Use `config` from the next pass on (called from the main thread)."""
        with self._pending_lock:
            self._pending = config
        self.request("config reloaded")

    def abandon(self) -> None:
        """Make the running pass end at its next transaction (called from the main thread)."""
        store = self.store
        if store is not None:
            store.overran.set()

    def finish(self) -> None:
        self._requests.put(None)

    # ------------------------------------------------------------ pass thread

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
            self._report(exc)
        except BaseException as exc:  # noqa: BLE001 - without this thread the daemon is a zombie
            log.critical("the pass thread failed: %s", exc, exc_info=True)
            self._report(FollowupdError(f"internal error: {type(exc).__name__}: {exc}"))
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
        assert self._engine is not None and self.store is not None
        log.debug("pass (%s)", ", ".join(sorted(set(reasons))))
        self.reasons = sorted(set(reasons))
        self.store.overran.clear()  # a pass that overran but ended on its own left it set
        self.started = time.monotonic()
        try:
            with PassLock(config.state_dir):
                try:
                    report = self._engine.run_pass()
                except Overran:
                    log.warning("the overrunning pass stopped between two transactions; a new pass starts now")
                    self._close()  # its backends may be mid-way through something: start afresh
                    self.request("after an overrun")
                    return
                except (Stopping, KeyboardInterrupt):
                    raise
                except Exception as exc:  # noqa: BLE001 - a bug or a full disk must not end the daemon
                    log.debug("the pass failed", exc_info=True)
                    self._failed(f"the pass failed: {type(exc).__name__}: {exc}", config)
                    return
                self._jobs.apply(due_jobs(report.followups, report.now, report.ending))
                line = summary(self.store, config.me.timezone, self.clock.now())
        finally:
            self.started = None
        self._last_error = None
        for notice in report.notices:
            try:
                # A NUL or an escape sequence in a UID must not reach the command's environment.
                self._notifier(printable_fields(notice))
            except Exception:  # noqa: BLE001 - a notification never stops a pass
                log.warning("[notify] command could not run", exc_info=True)
        self._watch.follow(self._engine.mailbox if self._engine is not None else None)
        transient = any(kind == "transient" for kind, _ in report.problems)
        self._jobs.retry(self.clock.now(), config.daemon.poll, transient)
        self._status(line)
        if not self.ready.is_set():
            self.ready.set()
            log.info("ready: %s", line)

    def _open(self, config: Config) -> None:
        store = _Store.open(config.state_dir, self.clock.now())
        assert isinstance(store, _Store)
        store.stopping = self._stopping
        self.store = store
        self._engine = self._build(config, store, self.clock)

    def _close(self) -> None:
        self._watch.stop()
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def _apply_reload(self) -> None:
        with self._pending_lock:
            config, self._pending = self._pending, None
        if config is None:
            return
        self._active = config
        self._close()
        self._notifier = Notifier(config.notify.command)

    def _failed(self, message: str, config: Config) -> None:
        """A failure outside the engine's own bookkeeping: logged once, retried with backoff."""
        if message != self._last_error:
            log.error("%s", message)
            self._last_error = message
        self._jobs.retry(self.clock.now(), config.daemon.poll, True)
