"""The life of a sequence on a real Dovecot, through the CLI: patience with a draft
that left Drafts, a clean-up after the thank-you was sent, and stale drafts (an
edited one is never deleted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from followupd.secrets import SecretStore

from support.harness import Cli, write_config
from support.ics import calendar, vevent
from support.servers import ImapAccount

START = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)  # a Tuesday; London is on UTC in November
END = START + timedelta(hours=1)
DUE = datetime(2026, 11, 11, 11, 0, tzinfo=UTC)
CLOSES = END + timedelta(hours=48)
UID = "interview-1@acme.io"


def iso(at: datetime) -> str:
    return at.isoformat()


class Client:
    """The user's mail client (or a sync tool) on the same account."""

    def __init__(self, account: ImapAccount) -> None:
        self.client = account.connect()

    def drafts(self) -> dict[int, bytes]:
        self.client.select_folder("Drafts")
        uids = self.client.search(["NOT", "DELETED"])
        return {uid: data[b"BODY[]"] for uid, data in self.client.fetch(uids, ["BODY.PEEK[]"]).items()} if uids else {}

    def remove(self, uid: int) -> None:
        self.client.select_folder("Drafts")
        self.client.add_flags([uid], [b"\\Deleted"])
        self.client.expunge()

    def edit(self, uid: int, body: str) -> None:
        """As Thunderbird saves an edited draft: a new message, same Message-ID, old one gone."""
        message = message_from_bytes(self.drafts()[uid], policy=default)
        message.set_content(body)  # type: ignore[attr-defined]
        self.client.append("Drafts", message.as_bytes(), flags=[b"\\Draft", b"\\Seen"])
        self.remove(uid)


@pytest.fixture
def cli(home: Path, imap_account: ImapAccount) -> Cli:
    (home / "calendar.ics").write_text(calendar(vevent(UID, START, END)))
    config = write_config(
        home,
        f'kind = "ics"\npath = "{home / "calendar.ics"}"',
        imap_account.mailbox_toml(),
        extra='[secrets]\nbackend = "file"',
    )
    SecretStore("file", home / "state").set("imap", imap_account.username, imap_account.password)
    return Cli(home, config)


def test_a_draft_that_left_drafts_waits_for_its_sent_copy(cli: Cli, imap_account: ImapAccount) -> None:
    user = Client(imap_account)
    cli.run(iso(DUE))
    ((uid, raw),) = user.drafts().items()
    user.remove(uid)  # Drafts changed first; the Sent copy comes with a later sync
    cli.run(iso(DUE + timedelta(minutes=5)))
    thanks = cli.step(UID)
    assert (thanks["state"], thanks["note"]) == ("drafted", "left Drafts; waiting to see it in Sent")
    user.client.append("Sent", raw, flags=[b"\\Seen"], msg_time=DUE + timedelta(minutes=2))
    cli.run(iso(DUE + timedelta(minutes=30)))
    assert cli.step(UID)["state"] == "sent"
    assert cli.step(UID, "check-in")["due_at"] is not None


def test_deleting_the_event_after_the_thank_you_was_sent_keeps_the_check_in(
    cli: Cli, imap_account: ImapAccount
) -> None:
    user = Client(imap_account)
    cli.run(iso(DUE))
    ((uid, raw),) = user.drafts().items()
    user.client.append("Sent", raw, flags=[b"\\Seen"], msg_time=DUE + timedelta(hours=1))
    user.remove(uid)
    cli.run(iso(DUE + timedelta(hours=2)))
    assert cli.step(UID)["state"] == "sent"
    (cli.home / "calendar.ics").write_text(calendar())  # tidied away
    cli.run(iso(DUE + timedelta(hours=3)))
    checkin = cli.step(UID, "check-in")
    assert checkin["state"] == "planned"
    cli.run(checkin["due_at"])
    assert cli.step(UID, "check-in")["state"] == "drafted"


def test_stale_untouched_draft_is_removed_and_an_edited_one_kept(cli: Cli, imap_account: ImapAccount) -> None:
    cli.config.write_text(cli.config.read_text() + '\n[reply]\non_stale = "delete-untouched"\n')
    second = vevent("interview-2@globex.io", START, END, organizer="Tom Baker <tom@globex.io>")
    (cli.home / "calendar.ics").write_text(calendar(vevent(UID, START, END), second))
    user = Client(imap_account)
    cli.run(iso(DUE))
    drafts = user.drafts()
    assert len(drafts) == 2
    (globex,) = [uid for uid, raw in drafts.items() if b"tom@globex.io" in raw]
    user.edit(globex, "Hi Tom,\n\nThank you; here is the link I promised.\n\nAda\n")
    cli.run(iso(CLOSES + timedelta(hours=1)))
    assert cli.step(UID)["state"] == "dismissed"
    kept = cli.step("interview-2@globex.io")
    assert kept["state"] == "drafted" and kept["note"].startswith("stale")
    ((_, left),) = user.drafts().items()
    assert b"the link I promised" in left
