"""Mail of a recruiting conversation, for the thread and out-of-office tests.

Shapes follow public documentation, not followupd's code: a Google Calendar invitation
is multipart/mixed with a `text/calendar; method=REQUEST` part (RFC 6047 section 2.4,
Google's "Invitation:" subject); an Exchange/Outlook automatic reply carries
`Auto-Submitted: auto-generated` (RFC 3834 section 5) and `X-Auto-Response-Suppress: All`
with the subject "Automatic reply: …" (Microsoft's [MS-OXCMAIL] 2.2.3.2.14); a list
message carries `List-Id` (RFC 2919) and `Precedence: bulk`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from followupd.mailboxes.parse import message_info
from followupd.model import MessageInfo

RECRUITER = "Jane Doe <jane.doe@acme.io>"
ME = "Ada Lovelace <ada@example.org>"


def message(
    subject: str,
    message_id: str,
    date: str,
    *,
    sender: str = RECRUITER,
    to: str = ME,
    extra: str = "",
    body: str = "Hello",
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: {message_id}\r\n"
        f"{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def scheduling(date: str) -> bytes:
    """The recruiter's last real message before the interview, itself a reply."""
    return message(
        "Interview for the Backend Engineer role",
        "<sched@acme.io>",
        date,
        extra="In-Reply-To: <intro@acme.io>\r\nReferences: <intro@acme.io>\r\n",
        body="Hi Ada, would Tuesday work for you? Best, Jane",
    )


def invitation(date: str) -> bytes:
    """A calendar invitation, later than the real message: never the one answered."""
    return (
        f"From: {RECRUITER}\r\nTo: {ME}\r\nSubject: Invitation: Backend Engineer interview\r\nDate: {date}\r\n"
        "Message-ID: <invite-1@google.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYou have been invited\r\n"
        "--b1\r\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\r\n"
        "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n--b1--\r\n"
    ).encode()


def newsletter(date: str) -> bytes:
    return message(
        "Acme engineering digest",
        "<digest-7@lists.acme.io>",
        date,
        to="Jane Doe <jane.doe@acme.io>",
        extra="List-Id: <eng.lists.acme.io>\r\nPrecedence: bulk\r\nCc: ada@example.org\r\n",
    )


def auto_reply(date: str, text: str, message_id: str = "<ooo-1@acme.io>") -> bytes:
    return message(
        "Automatic reply: Thank you – Backend Engineer interview",
        message_id,
        date,
        extra="Auto-Submitted: auto-generated\r\nX-Auto-Response-Suppress: All\r\n",
        body=text,
    )


JANE = ["jane@acme.io"]


def info(raw: bytes, at: datetime, folder: str = "inbox", thread_id: str | None = None) -> MessageInfo:
    return replace(message_info(raw, folder, at), key="k", thread_id=thread_id)


def jane(raw: bytes) -> bytes:
    return raw.replace(b"jane.doe@acme.io", b"jane@acme.io")
