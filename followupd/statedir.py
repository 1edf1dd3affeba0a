"""The state directory: created private, and the two locks that guard it.

`PassLock` serialises passes (a `run --once` waits for the daemon's pass);
`claim_daemon` keeps a second daemon off the same state. Both are advisory
`flock`s on files in the directory, released by the kernel if the process dies.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import sqlite3
from pathlib import Path

from followupd.errors import FollowupdError, TransientError

log = logging.getLogger(__name__)


class StoreError(FollowupdError):
    """The state database cannot be opened or read."""


class StoreWriteError(StoreError, TransientError):
    """The state database cannot be written (disk full, read-only, locked). Nothing is
    lost: the transaction was rolled back, and the next pass after the cause is gone
    carries on from the last committed state."""


def write_error(path: Path, exc: sqlite3.Error | OSError) -> StoreWriteError:
    text = str(exc).lower()
    if "i/o" in text and _no_space(path.parent):
        text = "full"  # SQLite reports a failed WAL write on a full disk as an I/O error
    if "full" in text or "no space" in text:
        why = "the disk is full; free some space"
    elif "readonly" in text or "read-only" in text:
        why = "it is read-only; make it writable"
    elif "locked" in text or "busy" in text:
        why = "another program holds it locked"
    else:
        why = f"{exc}"
    return StoreWriteError(
        f"cannot write the state database {path}: {why}. Nothing is lost; followupd carries on when it can write again"
    )


def _no_space(directory: Path) -> bool:
    try:
        return os.statvfs(directory).f_bavail == 0
    except OSError:
        return False


def private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)


def private_file(path: Path) -> None:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


class PassLock:
    """An exclusive lock on the state dir, so two processes never run a pass at once."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "lock"
        self._fd: int | None = None

    def acquire(self, wait: bool = True) -> bool:
        try:
            private_dir(self.path.parent)
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.ENOSPC, errno.EDQUOT):
                raise write_error(self.path, exc) from None
            raise StoreError(f"cannot use the state directory {self.path.parent}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                os.close(fd)
                return False
            log.info("another followupd pass is running; waiting for it to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> PassLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_daemon(state_dir: Path) -> int:
    """Hold `daemon.pid` locked while the daemon lives: two daemons on one state would
    do every pass twice (a user unit and a system unit, say). Returns the descriptor
    to close when the daemon stops."""
    try:
        private_dir(state_dir)
        fd = os.open(state_dir / "daemon.pid", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise FollowupdError(f"cannot use the state directory {state_dir}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise FollowupdError(
            f"another followupd daemon (pid {other}) already runs on {state_dir}; stop it first"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd
