"""Push for the IMAP mailbox: a thread that holds its own connection in IDLE (RFC 2177)
on INBOX and calls `wake()` when the server announces new mail.

The thread is a daemon thread, so it never holds up the process's exit; `stop()`
interrupts it at once through a socket pair it waits on next to the IMAP socket.
A dropped connection is re-opened at once, then with exponential backoff.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from followupd.errors import FollowupdError, TransientError
from followupd.mailboxes.imap_conn import address, drop, logout, translated

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from followupd.config import ImapSettings

log = logging.getLogger(__name__)

IDLE_RENEW = 29 * 60.0  # RFC 2177: re-issue IDLE at least every 29 minutes
MAX_BACKOFF = 300.0
THREAD_NAME = "followupd-imap-idle"


class Watcher:
    def __init__(self, settings: ImapSettings, connect: Callable[[], IMAPClient], wake: Callable[[], None]) -> None:
        self.settings = settings
        self.where = address(settings)
        self._connect = connect
        self._wake = wake
        self._stopped = threading.Event()
        self.decided = threading.Event()  # set once the first login was tried
        self.idle_supported: bool | None = None
        self._signal_r, self._signal_w = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._signal_w.send(b"x")
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        delay, failing = 1.0, False
        try:
            while not self._stopped.is_set():
                try:
                    client = self._connect()
                except FollowupdError as exc:
                    if not failing:
                        log.warning("IDLE on %s: %s; retrying with backoff", self.where, exc)
                    failing = True
                    self.decided.set()
                else:
                    try:
                        with translated(self.settings):
                            self.idle_supported = client.has_capability("IDLE")
                        self.decided.set()
                        if not self.idle_supported:
                            log.info("%s does not support IDLE; new mail is noticed at the next poll", self.where)
                            return
                        with translated(self.settings):
                            client.select_folder(self.settings.inbox, readonly=True)
                        if failing:
                            log.info("IDLE on %s works again", self.where)
                        failing, delay = False, 0.0
                        self._idle(client)
                    except FollowupdError as exc:
                        log.info("IDLE on %s stopped: %s; reconnecting", self.where, exc)
                        failing = True
                    except Exception:  # noqa: BLE001 - the watcher must outlive surprises
                        log.exception("IDLE on %s failed unexpectedly; reconnecting", self.where)
                        failing = True
                    finally:
                        if failing:
                            drop(client)
                        else:
                            logout(client)
                if failing:
                    # The first retry after a working session is immediate, then exponential.
                    if self._stopped.wait(delay):
                        break
                    delay = min(max(delay * 2, 1.0), MAX_BACKOFF)
        finally:
            self.decided.set()
            self._signal_r.close()
            self._signal_w.close()

    def _idle(self, client: IMAPClient) -> None:
        first = True
        while not self._stopped.is_set():
            with translated(self.settings):
                client.idle()
            if first:
                # Mail that came before IDLE took hold (at start, or while we were
                # reconnecting) raised no notification: ask for a pass now.
                first = False
                self._notify()
            try:
                self._wait(client, time.monotonic() + IDLE_RENEW)
            except BaseException:
                with contextlib.suppress(Exception):
                    client.socket().settimeout(5)
                    client.idle_done()
                raise
            with translated(self.settings):
                _, responses = client.idle_done()
            self._check(responses)

    def _wait(self, client: IMAPClient, renew_at: float) -> None:
        """Until it is time to renew IDLE, or stop() is called."""
        empty_reads = 0
        while not self._stopped.is_set():
            remaining = renew_at - time.monotonic()
            if remaining <= 0:
                return
            ready, _, _ = select.select([client.socket(), self._signal_r], [], [], remaining)
            if self._signal_r in ready or not ready:
                continue
            with translated(self.settings):
                responses = client.idle_check(timeout=0)
            # Readable yet nothing to read, time after time: the server hung up.
            empty_reads = 0 if responses else empty_reads + 1
            if empty_reads >= 3:
                raise TransientError(f"IMAP server {self.where} closed the connection")
            self._check(responses)

    def _check(self, responses: list[Any]) -> None:
        if any(len(r) > 1 and r[0] == b"BYE" for r in responses):
            raise TransientError(f"IMAP server {self.where} ended the session")
        if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
            self._notify()

    def _notify(self) -> None:
        try:
            self._wake()
        except Exception:  # noqa: BLE001 - the daemon's problem, not a reason to stop watching
            log.exception("the wake-up callback failed")
