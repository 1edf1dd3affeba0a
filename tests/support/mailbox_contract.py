"""One contract every Mailbox backend passes: subclass MailboxContract and give it
a `harness` fixture. A behaviour difference between backends is a bug in one of them.

The harness plays the mail server and the user's mail client; the tests call only
the Mailbox interface on `harness.mailbox`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from typing import Protocol

from followupd.mailboxes import Mailbox
from followupd.model import DraftState

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class MailboxHarness(Protocol):
    mailbox: Mailbox

    def deliver(self, raw: bytes, arrived: datetime, folder: str = "inbox") -> None:
        """A message arrives (folder "inbox") or the user's client files one in Sent."""

    def send_draft(self, message_id: str, at: datetime) -> None:
        """The user sends the draft: it leaves Drafts and a copy lands in Sent."""

    def delete_draft(self, message_id: str) -> None:
        """The user deletes the draft in their client."""

    def edit_draft(self, message_id: str, body: str) -> None:
        """The user edits and saves the draft."""

    def draft_count(self) -> int:
        """How many messages are in Drafts."""


def draft(n: int = 1, body: str = "Hi Jane,\n\nThank you for your time.\n\nAda\n") -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = "Ada Lovelace <ada@example.org>"
    message["To"] = "Jane Doe <jane.doe@acme.io>"
    message["Subject"] = "Thank you – Backend Engineer interview"
    message["Date"] = "Mon, 02 Nov 2026 09:00:00 +0000"
    message["Message-ID"] = f"<followupd.contract{n}@example.org>"
    message.set_content(body)
    return message


def raw_mail(
    sender: str = "Jane Doe <jane.doe@acme.io>",
    subject: str = "Re: Thank you",
    message_id: str = "<r1@acme.io>",
    to: str = "ada@example.org",
    extra: str = "",
    body: str = "Thanks Ada!",
    date: str | None = None,
) -> bytes:
    # No Date header unless asked: a message's arrival is the earliest of its Date and its
    # delivery, so a fixed Date would make every later delivery an old message.
    dated = f"Date: {date}\r\n" if date else ""
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n{dated}Message-ID: {message_id}\r\n{extra}\r\n{body}\r\n"
    ).encode()


class MailboxContract:
    reads_bodies = True  # False: a backend whose auto_reply_text is the interface's None

    def test_create_then_locate_in_drafts(self, harness: MailboxHarness) -> None:
        ref = harness.mailbox.create_draft(draft())
        assert ref.message_id == "<followupd.contract1@example.org>"
        found = harness.mailbox.locate(ref.message_id)
        assert found is not None and found.folder == "drafts"
        assert found.ref is not None and found.ref.message_id == ref.message_id
        assert harness.mailbox.draft_state(found.ref) == DraftState.UNTOUCHED
        assert harness.draft_count() == 1

    def test_locate_unknown_is_none(self, harness: MailboxHarness) -> None:
        harness.mailbox.create_draft(draft())
        assert harness.mailbox.locate("<nobody@example.org>") is None

    def test_draft_states(self, harness: MailboxHarness) -> None:
        untouched = harness.mailbox.create_draft(draft(1))
        edited = harness.mailbox.create_draft(draft(2))
        gone = harness.mailbox.create_draft(draft(3))
        harness.edit_draft(edited.message_id, "Hi Jane,\n\nI rewrote this myself.\n\nAda\n")
        harness.delete_draft(gone.message_id)
        assert harness.mailbox.draft_state(untouched) == DraftState.UNTOUCHED
        assert harness.mailbox.draft_state(edited) == DraftState.EDITED
        assert harness.mailbox.draft_state(gone) == DraftState.GONE

    def test_delete_draft_is_idempotent(self, harness: MailboxHarness) -> None:
        ref = harness.mailbox.create_draft(draft())
        assert harness.mailbox.delete_draft(ref) is True
        assert harness.mailbox.draft_state(ref) == DraftState.GONE
        assert harness.mailbox.delete_draft(ref) is True
        assert harness.draft_count() == 0

    def test_delete_draft_only_as_created(self, harness: MailboxHarness) -> None:
        # The one delete rule: the fingerprint taken at creation must still match when
        # the delete runs, whatever an earlier look at the draft said.
        edited = harness.mailbox.create_draft(draft(1))
        untouched = harness.mailbox.create_draft(draft(2))
        assert harness.mailbox.draft_state(edited) == DraftState.UNTOUCHED
        harness.edit_draft(edited.message_id, "Hi Jane,\n\nMy own words about the system design.\n\nAda\n")
        assert harness.mailbox.delete_draft(edited) is False
        assert harness.mailbox.draft_state(edited) == DraftState.EDITED
        assert harness.mailbox.delete_draft(untouched) is True
        assert harness.mailbox.draft_state(untouched) == DraftState.GONE
        assert harness.draft_count() == 1

    def test_sent_draft_is_located_in_sent(self, harness: MailboxHarness) -> None:
        ref = harness.mailbox.create_draft(draft())
        harness.send_draft(ref.message_id, T0 + timedelta(hours=1))
        assert harness.mailbox.draft_state(ref) == DraftState.GONE
        found = harness.mailbox.locate(ref.message_id)
        assert found is not None and found.folder == "sent"

    def test_changes_first_scan_respects_since(self, harness: MailboxHarness) -> None:
        harness.deliver(raw_mail(message_id="<old@acme.io>"), T0 - timedelta(days=3))
        harness.deliver(raw_mail(message_id="<new@acme.io>"), T0 + timedelta(hours=1))
        changes = harness.mailbox.changes(None, T0)
        ids = [m.message_id for m in changes.messages if m.folder == "inbox"]
        assert ids == ["<new@acme.io>"]

    def test_changes_are_incremental(self, harness: MailboxHarness) -> None:
        harness.deliver(raw_mail(message_id="<a@acme.io>"), T0 + timedelta(hours=1))
        first = harness.mailbox.changes(None, T0)
        assert [m.message_id for m in first.messages] == ["<a@acme.io>"]
        idle = harness.mailbox.changes(first.cursor, T0)
        assert idle.messages == []
        harness.deliver(raw_mail(message_id="<b@acme.io>"), T0 + timedelta(hours=2))
        second = harness.mailbox.changes(idle.cursor, T0)
        assert [m.message_id for m in second.messages] == ["<b@acme.io>"]
        assert harness.mailbox.changes(second.cursor, T0).messages == []

    def test_changes_report_headers_and_arrival(self, harness: MailboxHarness) -> None:
        arrived = T0 + timedelta(hours=5)
        harness.deliver(
            raw_mail(subject="Out of Office: Re: Thank you", extra="Auto-Submitted: auto-replied\r\n"), arrived
        )
        (message,) = harness.mailbox.changes(None, T0).messages
        assert message.folder == "inbox"
        assert message.header("from") == "Jane Doe <jane.doe@acme.io>"
        assert message.header("auto-submitted") == "auto-replied"
        assert message.header("subject") == "Out of Office: Re: Thank you"
        assert message.arrived is not None and abs(message.arrived - arrived) < timedelta(seconds=2)

    def test_the_text_of_an_html_auto_reply_is_read_as_its_reader_sees_it(self, harness: MailboxHarness) -> None:
        # Outlook's auto-replies are HTML only: a <style> block first, entities between the words.
        html = (
            "<html><head><style>p { margin: 0 }</style></head>"
            "<body><p>I am out of the office until 14&nbsp;December.</p></body></html>"
        )
        extra = "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
        harness.deliver(raw_mail(subject="Automatic reply: Thank you", extra=extra, body=html), T0 + timedelta(hours=1))
        (message,) = harness.mailbox.changes(None, T0).messages
        text = harness.mailbox.auto_reply_text(message)
        if not self.reads_bodies:
            assert text is None
            return
        assert text is not None and "margin" not in text
        assert "I am out of the office until 14 December." in text

    def test_sent_copies_are_reported(self, harness: MailboxHarness) -> None:
        cursor = harness.mailbox.changes(None, T0).cursor
        ref = harness.mailbox.create_draft(draft())
        harness.send_draft(ref.message_id, T0 + timedelta(hours=1))
        sent = [m for m in harness.mailbox.changes(cursor, T0).messages if m.folder == "sent"]
        assert len(sent) == 1
        assert "jane.doe@acme.io" in sent[0].header("to")

    def test_malformed_messages_do_not_break_the_scan(self, harness: MailboxHarness) -> None:
        broken = (
            b"From: =?bogus-charset?q?J=E9r=F4me?= <<<>>>\r\nSubject: =?utf-8?b?!!!?=\r\n"
            b'Content-Type: multipart/mixed; boundary="never"\r\nDate: yesterday-ish\r\n\r\n\xff\xfe garbage'
        )
        harness.deliver(broken, T0 + timedelta(hours=1))
        harness.deliver(raw_mail(message_id="<fine@acme.io>"), T0 + timedelta(hours=2))
        changes = harness.mailbox.changes(None, T0)
        assert "<fine@acme.io>" in [m.message_id for m in changes.messages]
        assert len(changes.messages) + len(changes.skipped) == 2
