"""Inbound mail as an attacker writes it (issue 16, sections 3 and 4): replies that are
not, and messages built to stall the parser. Every test here failed before the fix.

The calendar messages follow iMIP (RFC 6047) and iTIP's methods (RFC 5546): an
organiser's REQUEST (a new or updated invitation), CANCEL, COUNTER, ADD; their shape
(multipart/mixed around multipart/alternative with a text/calendar part, and the
same calendar attached as application/ics) is what Google Calendar sends.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followupd.config import Me
from followupd.mailboxes.maildir import MaildirMailbox
from followupd.mailboxes.parse import message_info
from followupd.model import Contact, Interview, MessageInfo
from followupd.policy.replies import not_a_reply, reply_to_interview

from support.harness import make_maildir, write_config
from support.maildir_user import deliver, mail
from support.servers import ImapAccount

ME = Me(name="Ada Lovelace", email="ada@example.org", timezone=ZoneInfo("UTC"))
START = datetime(2026, 11, 4, 14, tzinfo=UTC)
INTERVIEW = Interview("u1", "Interview", START, START + timedelta(hours=1), (Contact("jane.doe@acme.io", "Jane"),))
AFTER = START + timedelta(days=1)
FAST = 1.0  # seconds: "well under a second" per hostile message, with room for a slow CI


def is_reply(raw: str | bytes, arrived: datetime = AFTER) -> bool:
    data = raw.encode() if isinstance(raw, str) else raw
    return reply_to_interview(message_info(data, "inbox", arrived), INTERVIEW, ME.addresses)


# ---------------------------------------------------------------- 3. replies that are not


@pytest.mark.parametrize(
    "sender",
    [
        "Mallory <mallory@gmail.com>",  # free mail
        "mallory@outlook.com",
        "Mallory <mallory@unrelated.example>",  # a company's person, not a relay
    ],
)
def test_reply_to_does_not_speak_for_a_free_mail_or_unrelated_sender(sender: str) -> None:
    assert not is_reply(mail(sender=sender, headers="Reply-To: Jane Doe <jane.doe@acme.io>"))


@pytest.mark.parametrize(
    ("sender", "headers"),
    [
        ("Jane Doe <no-reply@greenhouse.io>", ""),  # an applicant tracking system
        ("Acme Recruiting <notifications@hire.lever.co>", ""),
        ("Jane Doe via Calendly <notifications@calendly.com>", ""),
        ("'Jane Doe' via Hiring <hiring@googlegroups.com>", "List-Id: <hiring.googlegroups.com>"),
    ],
)
def test_reply_to_counts_when_the_sender_is_a_relay(sender: str, headers: str) -> None:
    assert is_reply(mail(sender=sender, headers=f"Reply-To: jane.doe@acme.io\n{headers}"))


def invitation(method: str, subject: str = "Interview: Acme") -> str:
    calendar = (
        f"BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\n"
        f"METHOD:{method}\r\nBEGIN:VEVENT\r\nUID:u1\r\nSEQUENCE:1\r\nDTSTART:20261110T140000Z\r\n"
        f"ORGANIZER;CN=Jane Doe:mailto:jane.doe@acme.io\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    return (
        f"From: Jane Doe <jane.doe@acme.io>\r\nTo: ada@example.org\r\nSubject: {subject}\r\n"
        f"Date: Thu, 05 Nov 2026 16:00:00 +0000\r\nMessage-ID: <inv-{method}@acme.io>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="000000000000outer"\r\n\r\n'
        "--000000000000outer\r\n"
        'Content-Type: multipart/alternative; boundary="000000000000inner"\r\n\r\n'
        "--000000000000inner\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nThe event was changed.\r\n"
        '--000000000000inner\r\nContent-Type: text/html; charset="UTF-8"\r\n\r\n<p>The event was changed.</p>\r\n'
        f"--000000000000inner\r\nContent-Type: text/calendar; charset=UTF-8; method={method}\r\n\r\n{calendar}"
        "--000000000000inner--\r\n"
        "--000000000000outer\r\n"
        f'Content-Type: application/ics; name="invite.ics"\r\nContent-Disposition: attachment\r\n\r\n{calendar}'
        "--000000000000outer--\r\n"
    )


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL", "COUNTER", "ADD"])
def test_an_organisers_calendar_message_is_not_a_reply(method: str) -> None:
    info = message_info(invitation(method).encode(), "inbox", AFTER)
    assert f"text/calendar; charset=UTF-8; method={method}" in info.part_types
    assert not reply_to_interview(info, INTERVIEW, ME.addresses)
    assert "calendar" in (not_a_reply(info) or "")


@pytest.mark.parametrize(
    "subject",
    [
        "Updated invitation: Interview: Acme @ Tue 10 Nov 2026 14:00 - 15:00 (GMT) (ada@example.org)",
        "Updated invitation with note: Interview: Acme @ Tue 10 Nov 2026 14:00 (ada@example.org)",
        "Invitation: Interview: Acme @ Tue 10 Nov 2026 14:00 (ada@example.org)",
        "Canceled event: Interview: Acme @ Tue 10 Nov 2026 14:00 (ada@example.org)",
    ],
)
def test_a_calendar_update_subject_is_not_a_reply_where_parts_are_unknown(subject: str) -> None:
    # Gmail's metadata read tells only the top-level type: the subject must do.
    info = message_info(mail(sender="jane.doe@acme.io", subject=subject).encode(), "inbox", AFTER, part_types=())
    assert not reply_to_interview(info, INTERVIEW, ME.addresses)


def test_calendar_messages_over_imap_are_not_replies(imap_account: ImapAccount, tmp_path: Path) -> None:
    from support.imap_mailbox import make_mailbox

    client = imap_account.connect()
    for method in ("REQUEST", "CANCEL"):
        client.append("INBOX", invitation(method).encode(), msg_time=AFTER)
    mailbox = make_mailbox(imap_account, tmp_path / "home")
    messages = mailbox.changes(None, START).messages
    assert len(messages) == 2
    assert not any(reply_to_interview(m, INTERVIEW, ME.addresses) for m in messages)


# ---------------------------------------------------------------- 4. runaway input


def huge_content_type() -> bytes:
    """A 1 MB Content-Type of RFC 2231 continuations (the stdlib took 742 s on it)."""
    params = "".join(f";\r\n x*{i}*=utf-8''%41%42%43" for i in range(40_000))
    return f"Content-Type: multipart/mixed; boundary=b{params}\r\n".encode()


def huge_from() -> bytes:
    """A 1.5 MB From list (the stdlib took 166 s and 2 GB on it)."""
    return ("From: " + ",\r\n ".join(f'"Name {i}" <user{i}@host{i}.example>' for i in range(45_000)) + "\r\n").encode()


HOSTILE = {
    "content-type": b"From: jane.doe@acme.io\r\nSubject: x\r\nMessage-ID: <ct@x>\r\n" + huge_content_type(),
    "from": b"Subject: x\r\nMessage-ID: <from@x>\r\nContent-Type: text/plain\r\n" + huge_from(),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_huge_header_parses_in_well_under_a_second(name: str) -> None:
    raw = HOSTILE[name] + b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    assert len(raw) > 1_000_000
    began = time.perf_counter()
    info = message_info(raw, "inbox", AFTER)
    assert time.perf_counter() - began < FAST
    assert info.message_id is not None
    not_a_reply(info)


def scan_time(mailbox: object, since: datetime) -> tuple[float, list[MessageInfo]]:
    began = time.perf_counter()
    messages = mailbox.changes(None, since).messages  # type: ignore[attr-defined]
    return time.perf_counter() - began, messages


def test_huge_headers_in_a_maildir_cost_a_bounded_read(tmp_path: Path) -> None:
    from followupd import config as config_module

    root = make_maildir(tmp_path / "Mail")
    for raw in HOSTILE.values():
        deliver(root, raw + b"\r\nbody\r\n", AFTER)
    config = config_module.load(
        write_config(tmp_path, 'kind = "ics"\npath = "/dev/null"', f'path = "{root}"\nkind = "maildir"')
    )
    elapsed, messages = scan_time(MaildirMailbox(config), START)
    assert elapsed < 2 * FAST
    assert sorted(m.message_id or "" for m in messages) == ["<ct@x>", "<from@x>"]


def test_huge_headers_over_imap_are_fetched_bounded(imap_account: ImapAccount, tmp_path: Path) -> None:
    from followupd.mailboxes import imap_fetch

    from support.imap_mailbox import make_mailbox

    assert b"BODY.PEEK[HEADER.FIELDS (FROM " in imap_fetch.HEADER_FIELDS and imap_fetch.HEADER_FIELDS.endswith(
        b"]<0.65536>"
    )
    client = imap_account.connect()
    for raw in HOSTILE.values():
        client.append("INBOX", raw + b"\r\nbody\r\n", msg_time=AFTER)
    mailbox = make_mailbox(imap_account, tmp_path / "home")
    elapsed, messages = scan_time(mailbox, START)
    assert elapsed < 2 * FAST
    assert sorted(m.message_id or "" for m in messages) == ["<ct@x>", "<from@x>"]
