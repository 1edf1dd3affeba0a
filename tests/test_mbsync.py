"""followupd on a Maildir that real mbsync (or offlineimap) keeps in step with a real
Dovecot, in both layouts mbsync writes (README "With mbsync / offlineimap"): the draft reaches the
server, is edited there as a client does, is sent there, and the mail that arrives is
judged by when it really arrived, not by when mbsync downloaded it.

The sync tools stamp files with the real clock, so the interview is placed relative to it and
followupd runs `--now` the real time.
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from followupd.config import Me
from followupd.model import Contact, Interview
from followupd.policy.replies import reply_to_interview

from support.harness import Cli, round_the_clock, write_config
from support.ics import calendar, vevent
from support.imap_mailbox import make_mailbox
from support.mbsync import Mbsync, Offlineimap
from support.servers import ImapAccount

UID = "mbsync-1@acme.io"


def iso(at: datetime) -> str:
    return at.isoformat()


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)


class Server:
    """The user's mail client and the recruiter, acting on the IMAP server."""

    def __init__(self, account: ImapAccount) -> None:
        self.client = account.connect()

    def messages(self, folder: str) -> dict[int, EmailMessage]:
        self.client.select_folder(folder)
        uids = self.client.search(["NOT", "DELETED"])
        found = self.client.fetch(uids, [b"BODY.PEEK[]"]) if uids else {}
        return {
            uid: email.message_from_bytes(data[b"BODY[]"], policy=email.policy.default)  # type: ignore[misc]
            for uid, data in found.items()
        }

    def only(self, folder: str) -> tuple[int, EmailMessage]:
        found = self.messages(folder)
        assert len(found) == 1, [str(m["Subject"]) for m in found.values()]
        return next(iter(found.items()))

    def replace(self, folder: str, uid: int, message: EmailMessage, into: str, flags: tuple[bytes, ...]) -> None:
        """Store `message` in `into`, then remove `uid` from `folder`: how a client saves
        an edited draft (a new message, same Message-ID) or files a sent one."""
        self.client.append(into, message.as_bytes(policy=message.policy.clone(linesep="\r\n")), flags=flags)
        self.client.select_folder(folder)
        self.client.add_flags([uid], [b"\\Deleted"])
        self.client.expunge()

    def receive(self, raw: str, internal_date: datetime) -> None:
        self.client.append("INBOX", raw.replace("\n", "\r\n").encode(), msg_time=internal_date)


def recruiter_mail(message_id: str, date: datetime, received: datetime | None = None) -> str:
    stamp = (
        f"Received: from mail.acme.io (mail.acme.io [203.0.113.7]) by imap.example.org with ESMTPS id 4Qx;"
        f" {format_datetime(received)}\n"
        if received
        else ""
    )
    return (
        f"{stamp}From: Jane Doe <jane.doe@acme.io>\nTo: Ada Lovelace <ada@example.org>\n"
        f"Subject: Re: Thank you\nDate: {format_datetime(date)}\nMessage-ID: {message_id}\n\nThanks Ada!\n"
    )


def local_drafts(maildir: Path, layout: str) -> list[Path]:
    folder = maildir / ("Drafts" if layout == "verbatim" else ".Drafts")
    return sorted(p for sub in ("cur", "new") for p in (folder / sub).iterdir())


@pytest.mark.parametrize(
    ("tool", "layout"),
    [(Mbsync, "verbatim"), (Mbsync, "maildir++"), (Offlineimap, "verbatim")],
    ids=lambda value: value.__name__.lower() if isinstance(value, type) else value,
)
def test_the_sequence_through_a_sync_tool(tmp_path: Path, imap_account: ImapAccount, tool: type, layout: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    maildir = home / "Mail" / "work"
    mbsync = tool(tmp_path, imap_account, layout, maildir)
    mbsync.write()
    mbsync.sync()  # the first sync creates the local folders from the server's

    start = now() - timedelta(hours=26)
    (home / "calendar.ics").write_text(calendar(vevent(UID, start, start + timedelta(hours=1))))
    cli = Cli(
        home,
        write_config(
            home,
            f'kind = "ics"\npath = "{home / "calendar.ics"}"',
            f'kind = "maildir"\npath = "{maildir}"',
            round_the_clock("24h", "48h"),
        ),
    )
    assert f"{layout.replace('maildir++', 'Maildir++')} layout" in cli("check").stdout
    server = Server(imap_account)

    # The draft is written locally and reaches the server's Drafts.
    cli.run(iso(now()))
    assert cli.step(UID)["state"] == "drafted"
    (path,) = local_drafts(maildir, layout)
    mbsync.sync()
    uid, draft = server.only("Drafts")
    message_id = str(draft["Message-ID"])
    assert message_id.startswith("<followupd.")
    assert ",U=" in local_drafts(maildir, layout)[0].name  # the sync tool renamed our file

    # Edited in a client on another machine: a new message with the same Message-ID.
    draft.set_content("Hi Jane,\n\nThank you; I rewrote this myself.\n\nAda\n")
    server.replace("Drafts", uid, draft, "Drafts", (b"\\Draft", b"\\Seen"))
    mbsync.sync()
    (edited,) = local_drafts(maildir, layout)
    assert edited != path and b"rewrote this myself" in edited.read_bytes()
    cli.run(iso(now()))
    assert cli.step(UID)["state"] == "drafted"
    mbsync.sync()
    assert len(server.messages("Drafts")) == 1, "kept, and not drafted twice"

    # Sent from that client: the draft leaves Drafts and a copy lands in Sent.
    uid, draft = server.only("Drafts")
    del draft["Date"]
    draft["Date"] = format_datetime(now())
    server.replace("Drafts", uid, draft, "Sent", (b"\\Seen",))
    mbsync.sync()
    assert local_drafts(maildir, layout) == []
    cli.run(iso(now()))
    assert cli.step(UID)["state"] == "sent"
    assert cli.step(UID, "check-in")["state"] == "planned"

    # A mail the recruiter wrote before the interview, downloaded only now (as after a
    # laptop was offline, or a first full sync): its file time is today, but it is old.
    old = start - timedelta(days=3)
    server.receive(recruiter_mail("<old@acme.io>", old, received=old + timedelta(seconds=4)), old)
    server.receive(recruiter_mail("<old-unstamped@acme.io>", old), old)
    mbsync.sync()
    cli.run(iso(now()))
    assert cli.step(UID, "check-in")["state"] == "planned"

    # A real reply stops the sequence.
    server.receive(recruiter_mail("<reply@acme.io>", now(), received=now()), now())
    mbsync.sync()
    cli.run(iso(now()))
    assert cli.step(UID, "check-in")["state"] == "replied"


def test_an_old_mail_appended_late_over_imap_keeps_its_old_arrival(tmp_path: Path, imap_account: ImapAccount) -> None:
    """A migration tool (or a client moving mail between accounts) APPENDs without the
    original INTERNALDATE: the server's time is today, the mail is not."""
    server = Server(imap_account)
    old = datetime(2026, 10, 30, 9, 0, tzinfo=UTC)
    server.receive(recruiter_mail("<stamped@acme.io>", old + timedelta(minutes=1), received=old), now())
    server.receive(recruiter_mail("<dated@acme.io>", old), now())
    messages = make_mailbox(imap_account, tmp_path / "home").changes(None, old - timedelta(days=1)).messages
    assert {m.message_id: m.arrived for m in messages} == {"<stamped@acme.io>": old, "<dated@acme.io>": old}
    interview = Interview(
        "u", "Interview", old + timedelta(days=1), old + timedelta(days=1, hours=1), (Contact("jane.doe@acme.io"),)
    )
    me = Me(name="Ada", email="ada@example.org").addresses
    assert not any(reply_to_interview(m, interview, me) for m in messages)
