"""End to end through the CLI (`run --once --now`), on a Maildir and on IMAP-on-Dovecot:
the thank-you joins the recruiter's conversation, the check-in answers the thank-you as
it was sent, and an out-of-office reply with a return date moves the check-in.

The interview: Tuesday 10 November 2026, 10:00-11:00 in London (UTC in November), with
Jane Doe. The thank-you is due Wednesday 11:00; sent at 14:00, the check-in is due a
week later, Wednesday 18 November 14:00.
"""

from __future__ import annotations

import email
import email.policy
import os
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from followupd.secrets import SecretStore

from support.harness import Cli, write_config
from support.ics import calendar, vevent
from support.maildir_user import deliver
from support.servers import ImapAccount
from support.thread_mail import auto_reply, invitation, newsletter, scheduling

START = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
END = datetime(2026, 11, 10, 11, 0, tzinfo=UTC)
UID = "interview-1@acme.io"
SENT_AT = datetime(2026, 11, 11, 14, 0, tzinfo=UTC)
NEW_ID = "<CAsent-1@mail.example.org>"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def resent(raw: bytes, new_id: str, when: datetime) -> bytes:
    """What a client that gives the sent message its own Message-ID files in Sent (its
    Date is the sending time too)."""
    message = parse(raw)
    message.replace_header("Message-ID", new_id)
    message.replace_header("Date", format_datetime(when))
    return message.as_bytes()


class MaildirUser:
    def __init__(self, root: Path) -> None:
        self.root = root

    def receive(self, raw: bytes, when: datetime) -> None:
        deliver(self.root, raw, when)

    def drafts(self) -> list[tuple[Path, EmailMessage]]:
        found = []
        for sub in ("cur", "new"):
            for path in sorted((self.root / ".Drafts" / sub).iterdir()):
                found.append((path, parse(path.read_bytes())))
        return found

    def send_only_draft(self, when: datetime, new_id: str | None = None) -> None:
        ((path, message),) = self.drafts()
        raw = path.read_bytes()
        if new_id:  # the client gives the sent message a Message-ID of its own
            raw = resent(raw, new_id, when)
        path.unlink()
        target = self.root / ".Sent" / "cur" / f"{int(when.timestamp())}.sent.test:2,S"
        target.write_bytes(raw)
        os.utime(target, (when.timestamp(), when.timestamp()))


class ImapUser:
    def __init__(self, account: ImapAccount) -> None:
        self.client = account.connect()

    def receive(self, raw: bytes, when: datetime) -> None:
        self.client.append("INBOX", raw, msg_time=when)

    def _drafts(self) -> dict[int, dict[bytes, Any]]:
        self.client.select_folder("Drafts")
        uids = self.client.search(["NOT", "DELETED"])
        return self.client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}

    def drafts(self) -> list[tuple[int, EmailMessage]]:
        return [(uid, parse(data[b"BODY[]"])) for uid, data in sorted(self._drafts().items())]

    def send_only_draft(self, when: datetime, new_id: str | None = None) -> None:
        ((uid, data),) = self._drafts().items()
        raw = bytes(data[b"BODY[]"])
        if new_id:
            raw = resent(raw, new_id, when)
        self.client.append("Sent", raw, flags=[b"\\Seen"], msg_time=when)
        self.client.select_folder("Drafts")
        self.client.add_flags([uid], [b"\\Deleted"])
        self.client.expunge()


def _calendar(home: Path) -> str:
    (home / "calendar.ics").write_text(calendar(vevent(UID, START, END, description="Notes: their event sourcing")))
    return f'kind = "ics"\npath = "{home / "calendar.ics"}"'


@pytest.fixture(params=["maildir", "imap"])
def backend(request: pytest.FixtureRequest, home: Path) -> tuple[Cli, Any]:
    if request.param == "maildir":
        root: Path = request.getfixturevalue("maildir")
        config = write_config(home, _calendar(home), f'kind = "maildir"\npath = "{root}"')
        return Cli(home, config), MaildirUser(root)
    account: ImapAccount = request.getfixturevalue("imap_account")
    config = write_config(home, _calendar(home), account.mailbox_toml(), extra='[secrets]\nbackend = "file"')
    SecretStore("file", home / "state").set("imap", account.username, account.password)
    return Cli(home, config), ImapUser(account)


def test_thank_you_joins_the_conversation_and_the_check_in_answers_it_as_sent(backend: tuple[Cli, Any]) -> None:
    cli, user = backend
    user.receive(scheduling("Fri, 06 Nov 2026 09:00:00 +0000"), at("2026-11-06T09:00:00+00:00"))
    user.receive(invitation("Sat, 07 Nov 2026 10:00:00 +0000"), at("2026-11-07T10:00:00+00:00"))
    user.receive(newsletter("Sun, 08 Nov 2026 08:00:00 +0000"), at("2026-11-08T08:00:00+00:00"))
    cli.run("2026-11-09T12:00:00+00:00")
    cli.run("2026-11-11T11:05:00+00:00")
    ((_, thanks),) = user.drafts()
    # The latest real message, not the later invitation or newsletter.
    assert thanks["In-Reply-To"] == "<sched@acme.io>"
    assert thanks["References"] == "<intro@acme.io> <sched@acme.io>"
    assert thanks["Subject"] == "Re: Interview for the Backend Engineer role"

    user.send_only_draft(SENT_AT, new_id=NEW_ID)
    cli.run("2026-11-11T15:00:00+00:00")
    assert cli.step(UID)["state"] == "sent"
    assert cli.step(UID, "check-in")["due_at"] == "2026-11-18T14:00:00+00:00"
    cli.run("2026-11-18T14:05:00+00:00")
    ((_, check_in),) = user.drafts()
    assert check_in["In-Reply-To"] == NEW_ID  # the Sent copy's, not the draft's
    assert check_in["References"] == f"<intro@acme.io> <sched@acme.io> {NEW_ID}"
    assert check_in["Subject"] == "Re: Interview for the Backend Engineer role"


def test_check_in_answers_a_thank_you_with_no_earlier_conversation(backend: tuple[Cli, Any]) -> None:
    cli, user = backend
    cli.run("2026-11-11T11:05:00+00:00")
    ((_, thanks),) = user.drafts()
    assert thanks["In-Reply-To"] is None and not str(thanks["Subject"]).startswith("Re:")
    user.send_only_draft(SENT_AT)
    cli.run("2026-11-11T15:00:00+00:00")
    cli.run("2026-11-18T14:05:00+00:00")
    ((_, check_in),) = user.drafts()
    assert check_in["In-Reply-To"] == thanks["Message-ID"]
    assert check_in["References"] == thanks["Message-ID"]
    assert check_in["Subject"] == f"Re: {thanks['Subject']}"


def test_out_of_office_moves_the_check_in_to_after_their_return(backend: tuple[Cli, Any]) -> None:
    cli, user = backend
    cli.run("2026-11-11T11:05:00+00:00")
    user.send_only_draft(SENT_AT)
    cli.run("2026-11-11T15:00:00+00:00")
    user.receive(
        auto_reply(
            "Thu, 12 Nov 2026 09:00:00 +0000",
            "Thank you for your message. I am out of the office until Monday 23 November "
            "with limited access to email.\r\nFor urgent matters contact talent@acme.io.",
        ),
        at("2026-11-12T09:00:00+00:00"),
    )
    cli.run("2026-11-12T10:00:00+00:00")
    check_in = cli.step(UID, "check-in")
    assert check_in["state"] == "planned"
    # The first business day after Monday 23: Tuesday 24 November, 09:00 (business hours).
    assert check_in["due_at"] == "2026-11-24T09:00:00+00:00"
    assert check_in["note"] == "Jane is away until Mon 23 Nov"
    assert "Jane is away until Mon 23 Nov" in cli("status").stdout
    cli.run("2026-11-18T14:05:00+00:00")
    assert user.drafts() == []
    cli.run("2026-11-24T09:05:00+00:00")
    assert len(user.drafts()) == 1
    assert cli.step(UID, "check-in")["state"] == "drafted"


def test_an_auto_reply_without_a_date_changes_nothing(backend: tuple[Cli, Any]) -> None:
    cli, user = backend
    cli.run("2026-11-11T11:05:00+00:00")
    user.send_only_draft(SENT_AT)
    cli.run("2026-11-11T15:00:00+00:00")
    user.receive(
        auto_reply("Thu, 12 Nov 2026 09:00:00 +0000", "I am travelling and will reply when I can."),
        at("2026-11-12T09:00:00+00:00"),
    )
    cli.run("2026-11-12T10:00:00+00:00")
    check_in = cli.step(UID, "check-in")
    assert check_in["due_at"] == "2026-11-18T14:00:00+00:00" and check_in["state"] == "planned"
    cli.run("2026-11-18T14:05:00+00:00")
    assert cli.step(UID, "check-in")["state"] == "drafted"
