"""sd_notify over real AF_UNIX datagram sockets, as systemd listens for it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from followupd.sdnotify import SystemdNotifier


def _fields(datagram: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in datagram.decode().splitlines())


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(5)
    try:
        yield sock, str(path)
    finally:
        sock.close()


def test_ready_status_watchdog_stopping(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    env = {
        "NOTIFY_SOCKET": path,
        "WATCHDOG_USEC": "3000000",
        "WATCHDOG_PID": str(os.getpid()),
        "OTHER": "x",
    }
    notifier = SystemdNotifier(env)
    assert notifier.enabled and notifier.watchdog_interval == 1.5
    # Children must not inherit the socket or the watchdog.
    assert env == {"OTHER": "x"}

    assert notifier.ready("2 interviews tracked\n· next draft Wed 15:00")
    assert _fields(sock.recv(4096)) == {
        "READY": "1",
        "STATUS": "2 interviews tracked · next draft Wed 15:00",
    }
    assert notifier.watchdog()
    assert _fields(sock.recv(4096)) == {"WATCHDOG": "1"}
    assert notifier.stopping()
    assert _fields(sock.recv(4096)) == {"STOPPING": "1", "STATUS": "stopping"}
    notifier.close()


def test_abstract_socket() -> None:
    name = f"followupd-test-{os.getpid()}-{id(object())}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.status("1 interview tracked")
        assert _fields(sock.recv(4096)) == {"STATUS": "1 interview tracked"}
    finally:
        sock.close()


def test_without_systemd_nothing_happens() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled and notifier.watchdog_interval is None
    assert not notifier.ready("x")


def test_watchdog_meant_for_another_process_is_ignored(listener: tuple[socket.socket, str]) -> None:
    _, path = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"})
    assert notifier.watchdog_interval is None


def test_a_vanished_socket_is_logged_once_and_never_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert not notifier.status("a")
    assert not notifier.status("b")
    warnings = [r for r in caplog.records if "cannot notify systemd" in r.getMessage()]
    assert len(warnings) == 1
    notifier.close()


def test_a_reader_that_stopped_reading_cannot_block_us(listener: tuple[socket.socket, str]) -> None:
    # The main thread sends the watchdog pings; it must stay free to handle signals.
    _, path = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    sent = 0
    while notifier.watchdog():  # until the reader's queue is full and a send gives up
        sent += 1
        assert sent < 100_000
    assert sent > 0
    notifier.close()
