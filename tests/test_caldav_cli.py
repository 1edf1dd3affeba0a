"""End to end: `followupd` with kind = "caldav" on Radicale and kind = "imap" on Dovecot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followupd.secrets import SecretStore

from support.harness import Cli, write_config
from support.ics import calendar, vevent
from support.mailbox_contract import raw_mail
from support.servers import CaldavAccount, ImapAccount, Radicale

START = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
UID = "caldav-interview@acme.io"


def interview(description: str = "", status: str | None = None) -> str:
    return calendar(vevent(UID, START, START + timedelta(hours=1), description=description, status=status))


@pytest.fixture
def cli(home: Path, caldav_account: CaldavAccount, imap_account: ImapAccount) -> Cli:
    config = write_config(
        home,
        caldav_account.calendar_toml(calendars=["Work"]),
        imap_account.mailbox_toml(),
        extra='[secrets]\nbackend = "file"',
    )
    # As `followupd auth caldav` and `auth imap` would (tested above, at a process each).
    secrets = SecretStore("file", home / "state")
    secrets.set("caldav", caldav_account.username, caldav_account.password)
    secrets.set("imap", imap_account.username, imap_account.password)
    return Cli(home, config)


def drafts(account: ImapAccount) -> list[bytes]:
    client = account.connect()
    client.select_folder("Drafts", readonly=True)
    uids = client.search(["ALL"])
    bodies = [d[b"BODY[]"] for d in client.fetch(uids, ["BODY.PEEK[]"]).values()] if uids else []
    client.logout()
    return bodies


def test_auth_caldav_checks_the_password(home: Path, caldav_account: CaldavAccount, imap_account: ImapAccount) -> None:
    config = write_config(
        home, caldav_account.calendar_toml(), imap_account.mailbox_toml(), extra='[secrets]\nbackend = "file"'
    )
    cli = Cli(home, config)
    wrong = cli("auth", "caldav", stdin="open-sesame\n", check=False)
    assert wrong.returncode == 77, wrong.stderr
    assert "refused the login" in wrong.stderr and "followupd auth caldav" in wrong.stderr
    assert "open-sesame" not in wrong.stderr + wrong.stdout
    right = cli("auth", "caldav", stdin=caldav_account.password + "\n", check=False)
    assert right.returncode == 0, right.stderr
    assert "calendars: Work" in right.stdout


def test_an_interview_on_caldav_becomes_a_draft_on_imap(
    cli: Cli, caldav_account: CaldavAccount, imap_account: ImapAccount
) -> None:
    event = caldav_account.put(interview())
    cli.run("2026-11-09T12:00:00+00:00")
    assert cli.step(UID)["state"] == "planned"
    # Notes jotted in the event after the interview reach the draft via the next sync.
    event.data = interview("Notes: their move to event sourcing")
    event.save()
    cli.run("2026-11-11T11:05:00+00:00")
    assert cli.step(UID)["state"] == "drafted"
    (body,) = drafts(imap_account)
    assert b"event sourcing" in body
    client = imap_account.connect()
    client.append("INBOX", raw_mail(), msg_time=datetime(2026, 11, 11, 12, 0, tzinfo=UTC))
    cli.run("2026-11-11T12:30:00+00:00")
    assert cli.step(UID)["state"] == "replied"


@pytest.mark.parametrize("how", ["cancelled", "deleted"])
def test_a_cancelled_or_deleted_event_cancels_the_plan(
    cli: Cli, caldav_account: CaldavAccount, imap_account: ImapAccount, how: str
) -> None:
    event = caldav_account.put(interview())
    cli.run("2026-11-09T12:00:00+00:00")
    cli.run("2026-11-09T13:00:00+00:00")  # an idle pass in between: nothing changes
    assert cli.step(UID)["state"] == "planned"
    if how == "cancelled":
        event.data = interview(status="CANCELLED")
        event.save()
    else:
        event.delete()
    cli.run("2026-11-09T14:00:00+00:00")
    assert cli.step(UID)["state"] == "cancelled"
    assert cli.step(UID, "check-in")["state"] == "cancelled"
    cli.run("2026-11-11T11:05:00+00:00")
    assert drafts(imap_account) == []


def test_idle_passes_do_not_download_the_calendar(cli: Cli, caldav_account: CaldavAccount, radicale: Radicale) -> None:
    caldav_account.put(interview())
    cli.run("2026-11-09T12:00:00+00:00")
    mark = radicale.mark()
    cli.run("2026-11-09T12:05:00+00:00")
    cli.run("2026-11-09T12:10:00+00:00")
    reports = [d for m, _, d in radicale.requests(mark, caldav_account.username) if m == "REPORT"]
    assert len(reports) == 2 and all("sync-collection" in d for d in reports), reports


def test_a_refused_caldav_password_exits_77(cli: Cli, caldav_account: CaldavAccount, home: Path) -> None:
    import json

    secrets = home / "state" / "secrets.json"
    data = json.loads(secrets.read_text())
    data[f"caldav:{caldav_account.username}"] = "stale"
    secrets.write_text(json.dumps(data))
    result = cli.run("2026-11-09T12:00:00+00:00", check=False)
    assert result.returncode == 77, result.stderr
    assert "followupd auth caldav" in result.stderr
