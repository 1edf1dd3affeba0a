"""The CLI driven against the Google emulator: the `google` fixture and its helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.google_emulator import Emulator
from support.google_emulator.fixtures import emulator, gevent, google_config, write_grant  # noqa: F401
from support.harness import Cli

START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # Monday; Europe/London is on UTC in November
BEFORE = "2026-11-01T09:00:00+00:00"
DUE = "2026-11-03T11:05:00+00:00"  # inside the thank-you window, in business hours
RECRUITER = "Jane Doe <jane.doe@acme.io>"


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


class GoogleCli:
    def __init__(self, cli: Cli, emulator: Emulator) -> None:  # noqa: F811
        self.cli = cli
        self.emulator = emulator

    def run(self, now: str, expect: int = 0) -> str:
        self.emulator.now = lambda: at(now)  # drafts are stamped with the same "now" as the pass
        result = self.cli.run(now, check=False)
        assert result.returncode == expect, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result.stderr

    def state(self, uid: str = "iv1", step: str = "thank-you") -> str:
        return str(self.cli.step(uid, step)["state"])

    def sign_in(self) -> None:
        grant = write_grant(self.cli.home / "authorized_user.json", self.emulator.grant())
        out = self.cli("auth", "google", "--import", str(grant)).stdout
        assert "Stored the Google sign-in for ada@example.org" in out


@pytest.fixture
def google(home: Path, emulator: Emulator) -> GoogleCli:  # noqa: F811
    runner = GoogleCli(Cli(home, google_config(home, emulator)), emulator)
    runner.sign_in()
    return runner


def interview(emulator: Emulator, event_id: str = "iv1", start: datetime = START, **extra: object) -> None:  # noqa: F811
    emulator.put_event(
        gevent(
            event_id,
            "Backend Engineer interview at Acme",
            start,
            description="Notes: their move to event sourcing",
            **extra,
        )
    )


def our_message_id(uid: str, step: str = "thank-you") -> str:
    from followupd.compose import message_id
    from followupd.config import Me

    return message_id(uid, step, Me(name="Ada Lovelace", email="ada@example.org"))
