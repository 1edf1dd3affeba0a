"""Fixtures pytest finds for every test module; the helpers they use are in
support/harness.py (tests import those by name)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.daemon import DaemonProcess
from support.harness import Cli, make_maildir, write_config


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def maildir(home: Path) -> Path:
    return make_maildir(home / "Mail")


@pytest.fixture
def ics_cli(home: Path, maildir: Path) -> Cli:
    """A CLI on an ICS file (home/calendar.ics) and a Maildir (home/Mail)."""
    (home / "calendar.ics").write_text("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nEND:VCALENDAR\n")
    config = write_config(
        home, f'kind = "ics"\npath = "{home / "calendar.ics"}"', f'kind = "maildir"\npath = "{maildir}"'
    )
    return Cli(home, config)


@pytest.fixture
def start() -> Iterator[Callable[..., DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(cli: Cli, *args: str, env: dict[str, str] | None = None) -> DaemonProcess:
        started.append(DaemonProcess(cli, *args, env=env))
        return started[-1]

    yield start
    for daemon in started:
        daemon.kill()


# Dovecot and Radicale fixtures (tests/support/servers.py), shared by every test module.
pytest_plugins = ("support.servers",)
