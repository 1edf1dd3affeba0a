"""The sd_notify protocol: one datagram of `KEY=value` lines to `$NOTIFY_SOCKET`.

systemd's `Type=notify` waits for `READY=1`, shows `STATUS=` in `systemctl status`,
restarts the service when `WATCHDOG=1` stops arriving (with `WatchdogSec=`), and
learns from `STOPPING=1` that the exit is deliberate. Outside systemd there is no
socket and every call does nothing, so the daemon never has to ask where it runs.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import MutableMapping

log = logging.getLogger(__name__)

_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
SEND_TIMEOUT = 1.0  # seconds


class SystemdNotifier:
    """Sends sd_notify messages; never raises, so systemd trouble cannot stop a pass.

    Reading the environment also removes the variables from it (as sd_notify's
    `unset_environment` does), so the `[notify] command` and other children cannot
    talk to systemd in our name or inherit a watchdog meant for us.
    """

    def __init__(self, environ: MutableMapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        values = {name: env.pop(name, "") for name in _VARIABLES}
        self.address = _address(values["NOTIFY_SOCKET"])
        self.watchdog_interval = _watchdog(values["WATCHDOG_USEC"], values["WATCHDOG_PID"])
        self._socket: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str | int) -> bool:
        """Send one message, e.g. `send(READY=1, STATUS="…")`; True if it went out."""
        if self.address is None:
            return False
        # A value is one line: systemd would read anything after a newline as a new key.
        payload = "\n".join(f"{key}={' '.join(str(value).split())}" for key, value in fields.items())
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # A datagram to a reader that stopped reading blocks once its queue is
                # full; the main thread sends these and must stay free for signals.
                self._socket.settimeout(SEND_TIMEOUT)
            self._socket.sendto(payload.encode("utf-8", "replace"), self.address)
        except OSError as exc:
            if not self._failed:  # once, not on every status update
                log.warning(
                    "cannot notify systemd at %s: %s",
                    _show(self.address),
                    exc.strerror or "timed out",
                )
                self._failed = True
            return False
        self._failed = False
        return True

    def ready(self, status: str) -> bool:
        return self.send(READY=1, STATUS=status)

    def status(self, status: str) -> bool:
        return self.send(STATUS=status)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def stopping(self, status: str = "stopping") -> bool:
        return self.send(STOPPING=1, STATUS=status)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):
        # An abstract socket: its name starts with a NUL byte instead of "@".
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    log.warning("ignoring NOTIFY_SOCKET=%r: only AF_UNIX sockets are supported", value)
    return None


def _watchdog(usec: str, pid: str) -> float | None:
    """Seconds between keep-alives: half of WATCHDOG_USEC, as sd_watchdog_enabled advises."""
    if not usec:
        return None
    if pid and pid != str(os.getpid()):
        return None  # meant for another process (e.g. a wrapper that exec'd us is gone)
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2_000_000 if value > 0 else None


def _show(address: str | bytes) -> str:
    return "@" + address[1:].decode(errors="replace") if isinstance(address, bytes) else address
