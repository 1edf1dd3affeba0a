"""End to end: `followupd` with kind = "imap" on a real Dovecot, driven by --now."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from followupd.secrets import SecretStore

from support.harness import Cli, write_config
from support.ics import calendar, vevent
from support.mailbox_contract import raw_mail
from support.servers import Dovecot, ImapAccount

START = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)  # a Tuesday; London is on UTC in November
END = datetime(2026, 11, 10, 11, 0, tzinfo=UTC)
UID = "interview-1@acme.io"


def make_cli(home: Path, account: ImapAccount, **mailbox: str) -> Cli:
    (home / "calendar.ics").write_text(calendar(vevent(UID, START, END, description="Notes: their event sourcing")))
    config = write_config(
        home,
        f'kind = "ics"\npath = "{home / "calendar.ics"}"',
        account.mailbox_toml(**mailbox),
        extra='[secrets]\nbackend = "file"',
    )
    return Cli(home, config)


@pytest.fixture
def cli(home: Path, imap_account: ImapAccount) -> Cli:
    cli = make_cli(home, imap_account)
    # As `followupd auth imap` would (tested above, at a process each).
    SecretStore("file", home / "state").set("imap", imap_account.username, imap_account.password)
    return cli


class User:
    """The user's mail client, and the recruiter's mail arriving."""

    def __init__(self, account: ImapAccount) -> None:
        self.client = account.connect()

    def drafts(self) -> dict[int, dict[bytes, Any]]:
        self.client.select_folder("Drafts")
        uids = self.client.search(["NOT", "DELETED"])
        return self.client.fetch(uids, ["FLAGS", "BODY.PEEK[]"]) if uids else {}

    def send(self, uid: int, at: datetime) -> None:
        raw = self.drafts()[uid][b"BODY[]"]
        self.client.append("Sent", raw, flags=[b"\\Seen"], msg_time=at)
        self.delete(uid)

    def delete(self, uid: int) -> None:
        self.client.select_folder("Drafts")
        self.client.add_flags([uid], [b"\\Deleted"])
        self.client.expunge()

    def receive(self, raw: bytes, at: datetime) -> None:
        self.client.append("INBOX", raw, msg_time=at)


def test_auth_imap_checks_the_password_before_storing_it(home: Path, imap_account: ImapAccount) -> None:
    cli = make_cli(home, imap_account)
    wrong = cli("auth", "imap", stdin="not-the-password\n", check=False)
    assert wrong.returncode == 77
    assert "refused the login" in wrong.stderr and "not-the-password" not in wrong.stderr + wrong.stdout
    assert not (home / "state" / "secrets.json").exists()
    right = cli("auth", "imap", stdin=imap_account.password + "\n", check=False)
    assert right.returncode == 0, right.stderr
    assert "stored in" in right.stdout
    assert imap_account.password not in right.stdout + right.stderr
    assert (home / "state" / "secrets.json").stat().st_mode & 0o777 == 0o600


def test_the_whole_sequence_on_imap(cli: Cli, imap_account: ImapAccount) -> None:
    user = User(imap_account)
    cli.run("2026-11-09T12:00:00+00:00")
    assert cli.step(UID)["state"] == "planned"
    assert cli.step(UID)["due_at"] == "2026-11-11T11:00:00+00:00"

    cli.run("2026-11-11T11:05:00+00:00")
    assert cli.step(UID)["state"] == "drafted"
    ((uid, data),) = user.drafts().items()
    assert b"\\Draft" in data[b"FLAGS"]
    assert b"To: Jane Doe <jane.doe@acme.io>" in data[b"BODY[]"]
    cli.run("2026-11-11T11:30:00+00:00")
    assert len(user.drafts()) == 1, "exactly one draft"

    user.send(uid, datetime(2026, 11, 11, 14, 0, tzinfo=UTC))
    cli.run("2026-11-11T15:00:00+00:00")
    assert cli.step(UID)["state"] == "sent"
    check_in = cli.step(UID, "check-in")
    assert check_in["state"] == "planned" and check_in["due_at"] == "2026-11-18T14:00:00+00:00"

    # An out-of-office answer is not a reply; the recruiter's answer is.
    user.receive(
        raw_mail(
            subject="Automatic reply: Thank you", message_id="<ooo@acme.io>", extra="Auto-Submitted: auto-replied\r\n"
        ),
        datetime(2026, 11, 12, 9, 0, tzinfo=UTC),
    )
    cli.run("2026-11-12T10:00:00+00:00")
    assert cli.step(UID, "check-in")["state"] == "planned"
    user.receive(raw_mail(message_id="<real@acme.io>"), datetime(2026, 11, 13, 9, 0, tzinfo=UTC))
    cli.run("2026-11-13T10:00:00+00:00")
    assert cli.step(UID, "check-in")["state"] == "replied"
    cli.run("2026-11-18T15:00:00+00:00")
    assert user.drafts() == {}, "no check-in after a reply"
    # Reading never marked the user's mail as read.
    user.client.select_folder("INBOX", readonly=True)
    assert user.client.search(["SEEN"]) == []


def test_a_deleted_draft_is_dismissed_and_not_recreated(cli: Cli, imap_account: ImapAccount) -> None:
    user = User(imap_account)
    cli.run("2026-11-11T11:05:00+00:00")
    (uid,) = user.drafts()
    user.delete(uid)
    cli.run("2026-11-11T12:00:00+00:00")  # gone, no Sent copy yet: waits ([reply] dismiss_after)
    assert cli.step(UID)["state"] == "drafted"
    cli.run("2026-11-11T12:15:00+00:00")
    assert cli.step(UID)["state"] == "dismissed"
    assert cli.step(UID, "check-in")["state"] == "cancelled"
    cli.run("2026-11-11T16:00:00+00:00")
    assert user.drafts() == {}


def test_a_reply_removes_the_untouched_draft(cli: Cli, imap_account: ImapAccount) -> None:
    user = User(imap_account)
    cli.run("2026-11-11T11:05:00+00:00")
    assert len(user.drafts()) == 1
    user.receive(raw_mail(message_id="<quick@acme.io>"), datetime(2026, 11, 11, 12, 0, tzinfo=UTC))
    cli.run("2026-11-11T12:30:00+00:00")
    assert cli.step(UID)["state"] == "replied"
    assert user.drafts() == {}


def test_uidvalidity_changes_are_survived(cli: Cli, imap_account: ImapAccount) -> None:
    user = User(imap_account)
    cli.run("2026-11-11T11:05:00+00:00")
    assert cli.step(UID)["state"] == "drafted"
    # The server renumbers every folder (a restore, a migration): our draft's UID is
    # meaningless now, but the draft is still there and must not count as deleted.
    for folder, value in (("Drafts", 7001), ("INBOX", 7002), ("Sent", 7003)):
        imap_account.set_uidvalidity(folder, value)
    user = User(imap_account)
    cli.run("2026-11-11T12:00:00+00:00")
    assert cli.step(UID)["state"] == "drafted"
    user.receive(raw_mail(message_id="<after@acme.io>"), datetime(2026, 11, 11, 13, 0, tzinfo=UTC))
    cli.run("2026-11-11T14:00:00+00:00")
    assert cli.step(UID)["state"] == "replied"
    assert user.drafts() == {}


def test_wrong_password_exits_77(cli: Cli, imap_account: ImapAccount, home: Path) -> None:
    import json

    secrets = home / "state" / "secrets.json"
    secrets.write_text(json.dumps({f"imap:{imap_account.username}": "stale-password"}))
    result = cli.run("2026-11-11T11:05:00+00:00", check=False)
    assert result.returncode == 77, result.stderr
    assert "followupd auth imap" in result.stderr
    assert "stale-password" not in result.stderr + cli("status").stdout
    assert "re-authorise needed" in cli("status").stdout


def test_server_down_exits_75_and_the_next_pass_recovers(home: Path, own_dovecot: Dovecot) -> None:
    account = own_dovecot.add_user()
    cli = make_cli(home, account)
    SecretStore("file", home / "state").set("imap", account.username, account.password)
    cli.run("2026-11-09T12:00:00+00:00")
    own_dovecot.stop()
    result = cli.run("2026-11-11T11:05:00+00:00", check=False)
    assert result.returncode == 75, result.stderr
    status = cli("status").stdout
    assert f"cannot reach IMAP server 127.0.0.1:{account.port}" in status
    assert cli.step(UID)["state"] == "planned", "nothing lost, nothing half-done"
    own_dovecot.start()
    cli.run("2026-11-11T11:10:00+00:00")
    assert cli.step(UID)["state"] == "drafted"
    assert "cannot reach" not in cli("status").stdout
    assert len(User(account).drafts()) == 1
