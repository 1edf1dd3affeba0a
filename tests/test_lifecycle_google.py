"""Clean-ups on Google Calendar + Gmail (the emulator): Google's incremental sync
reports a deleted event as a `cancelled` stub with no people and no times. Before any
draft it cancels the sequence; after the thank-you was sent, the check-in goes on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.google_emulator import Emulator
from support.google_emulator.fixtures import emulator, gevent, google_config, write_grant  # noqa: F401
from support.harness import Cli

START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # Monday; Europe/London is on UTC in November
DUE = datetime(2026, 11, 3, 11, 5, tzinfo=UTC)


def signed_in(home: Path, emulator: Emulator) -> Cli:  # noqa: F811
    cli = Cli(home, google_config(home, emulator))
    grant = write_grant(home / "authorized_user.json", emulator.grant())
    cli("auth", "google", "--import", str(grant))
    emulator.put_event(gevent("iv1", "Backend Engineer interview at Acme", START))
    return cli


def run(cli: Cli, emulator: Emulator, now: datetime) -> None:  # noqa: F811
    emulator.now = lambda: now  # drafts are stamped with the same "now" as the pass
    cli.run(now.isoformat())


def test_deleting_the_event_after_the_thank_you_was_sent_keeps_the_check_in(
    home: Path,
    emulator: Emulator,  # noqa: F811
) -> None:
    cli = signed_in(home, emulator)
    run(cli, emulator, DUE)
    ((_, draft),) = emulator.drafts()
    emulator.send_draft(draft.header("Message-ID"), DUE + timedelta(hours=1))
    run(cli, emulator, DUE + timedelta(hours=2))
    assert cli.step("iv1")["state"] == "sent"
    emulator.cancel_event("iv1")  # the user deletes it: Google reports status "cancelled"
    run(cli, emulator, DUE + timedelta(hours=3))
    checkin = cli.step("iv1", "check-in")
    assert checkin["state"] == "planned"
    assert cli.step("iv1")["contacts"] == ["jane.doe@acme.io"]  # the stub replaced nothing
    run(cli, emulator, datetime.fromisoformat(checkin["due_at"]))
    assert cli.step("iv1", "check-in")["state"] == "drafted"


def test_deleting_the_event_before_any_draft_cancels(home: Path, emulator: Emulator) -> None:  # noqa: F811
    cli = signed_in(home, emulator)
    run(cli, emulator, START + timedelta(hours=2))
    emulator.cancel_event("iv1")
    run(cli, emulator, START + timedelta(hours=3))
    assert {r["state"] for r in cli.status()} == {"cancelled"}
    run(cli, emulator, DUE)
    assert emulator.drafts() == []
