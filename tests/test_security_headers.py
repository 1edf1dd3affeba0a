"""Issue 16, §1 and §2: text in an invitation must never add a mail header, name a
recipient other than the real one, or decide who gets a draft.

Python 3.11.7 (this machine) lacks the CVE-2024-6923 fix: the first test shows the
stdlib itself folding a decoded CR/LF into a new header, so the later tests are real.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, compat32
from email.utils import getaddresses
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from followupd.compose import Composer
from followupd.config import Detect, Me, ResolvedStep
from followupd.detect import MAX_RECIPIENTS, Detector
from followupd.draft_check import UnsafeDraft, verify
from followupd.model import Attendee, Contact, Event, Interview, Partstat, ThreadHint
from followupd.people import safe_display_name
from followupd.text import clean_line, decode_words

from support.harness import Cli
from support.ics import calendar, vevent
from support.maildir_user import drafts

ME = Me(name="Ada Lovelace", email="ada@example.org", timezone=ZoneInfo("Europe/London"))
START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
DUE = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
THANKS = ResolvedStep("thank-you", "thank-you.txt.j2", timedelta(hours=24), timedelta(hours=48))
HEADERS = ["from", "to", "subject", "date", "message-id", "content-type", "content-transfer-encoding", "mime-version"]

BCC_Q = "=?utf-8?q?Jane=0D=0ABcc=3A_evil=40attacker.io=0D=0AX-Y=3A?="
FROM_B = "=?utf-8?b?SmFuZQ0KRnJvbTogbWFsbG9yeUBldmlsLmV4YW1wbGU=?="  # "Jane\r\nFrom: mallory@evil.example"
END_HEADERS = "=?utf-8?q?J=0D=0A=0D=0Abody?="


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    return [line.split(":", 1)[0].lower() for line in head.split("\r\n") if line and line[:1] not in " \t"]


def test_this_python_folds_a_decoded_crlf_into_a_header() -> None:
    """The attack, with the stdlib alone: why followupd must decode and clean first."""
    message = EmailMessage(policy=SMTP)
    message["To"] = [Address(display_name=BCC_Q, addr_spec="jane.doe@acme.io")]
    message.set_content("x")
    vulnerable = "bcc" in header_names(message.as_bytes())
    if not vulnerable:
        pytest.skip("this Python has the CVE-2024-6923 fix; the guards below still run")


@pytest.mark.parametrize(
    ("word", "text"),
    [
        (BCC_Q, "Jane\r\nBcc: evil@attacker.io\r\nX-Y:"),
        (FROM_B, "Jane\r\nFrom: mallory@evil.example"),
        ("=?utf-8?q?=3D=3Futf-8=3Fq=3FA=3D0D=3D0AB=3F=3D?=", "A\r\nB"),  # nested: decoded again
        ("=?bogus-charset?q?x?=", "= ?bogus-charset?q?x?="),
    ],
)
def test_encoded_words_are_decoded_then_cleaned(word: str, text: str) -> None:
    decoded = decode_words(word)
    assert decoded == text or "= ?" in decoded
    assert "\r" not in clean_line(word) and "\n" not in clean_line(word)
    assert "=?" not in clean_line(word)


def interview(**kw: object) -> Interview:
    options: dict = dict(
        uid="u1",
        title="Interview",
        start=START,
        end=END,
        contacts=(Contact("jane.doe@acme.io", "Jane Doe"),),
        company="Acme",
        role="Backend Engineer",
    )
    options.update(kw)
    return Interview(**options)


@pytest.mark.parametrize("hostile", [BCC_Q, FROM_B, END_HEADERS, "Jane\r\nBcc: x@evil.example"])
def test_composed_drafts_keep_exactly_their_headers(hostile: str) -> None:
    composer = Composer(ME, ME.timezone, None)
    thread = ThreadHint(subject=hostile, in_reply_to=f"<a@b> {hostile}", references=(hostile, "<c@d>"))
    for iv in (
        interview(contacts=(Contact("jane.doe@acme.io", hostile),)),
        interview(role=hostile, company=hostile, notes=hostile, title=hostile),
    ):
        for hint in (None, thread):
            raw = composer.compose(THANKS, iv, DUE, hint).as_bytes()
            names = header_names(raw)
            assert "bcc" not in names and names.count("from") == 1 and names.count("to") == 1
            assert names.count("message-id") == 1 and names.count("subject") == 1
            parsed = message_from_bytes(raw, policy=compat32)
            assert parsed["Message-ID"].startswith("<followupd.")
            assert [a for _, a in getaddresses(parsed.get_all("To"))] == ["jane.doe@acme.io"]


@pytest.mark.parametrize(
    "name",
    [
        "Jane Doe <jane@acme.io>,",
        "Jane Doe jane＠acme.io",
        "jane﹫acme.io",
        "Jane (jane(at)acme.io)",
        "mallory@evil.example",
        "Jane <evil@x.io>",
    ],
)
def test_a_display_name_holding_an_address_is_dropped(name: str) -> None:
    assert safe_display_name(name) == ""
    message = Composer(ME, ME.timezone, None).compose(
        THANKS, interview(contacts=(Contact("jane.doe@acme.io", name),)), DUE
    )
    assert str(message["To"]) == "jane.doe@acme.io"


def test_ordinary_names_are_kept() -> None:
    for name in ("Jane Doe", "Doe, Jane", "Dr. Jane O'Neil", "Lucía Pérez", "J.R. Smith"):
        assert safe_display_name(name) == name


def test_the_guard_refuses_a_draft_that_says_more_than_meant() -> None:
    message = EmailMessage(policy=SMTP)
    message["From"] = "ada@example.org"
    message["To"] = [Address(display_name=BCC_Q, addr_spec="jane.doe@acme.io")]
    message["Subject"] = "Thank you"
    message["Date"] = "Thu, 05 Nov 2026 15:00:00 +0000"
    message["Message-ID"] = "<followupd.x@example.org>"
    message.set_content("x")
    expected = dict(
        interview_uid="evil-event",
        headers=["from", "to", "subject", "date", "message-id"],
        sender="ada@example.org",
        recipients=["jane.doe@acme.io"],
        subject="Thank you",
        message_id="<followupd.x@example.org>",
    )
    if "bcc" in header_names(message.as_bytes()):
        with pytest.raises(UnsafeDraft, match="evil-event.*unexpected headers bcc"):
            verify(message, **expected)  # type: ignore[arg-type]
    # Whatever the Python: a second From, a Bcc, a lost Message-ID, another recipient.
    good = (
        b"From: ada@example.org\r\nTo: jane.doe@acme.io\r\nSubject: Thank you\r\n"
        b"Date: Thu, 05 Nov 2026 15:00:00 +0000\r\nMessage-ID: <followupd.x@example.org>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n"
    )
    verify(message_from_bytes(good + b"\r\nx\r\n", policy=SMTP), **expected)  # type: ignore[arg-type]
    for change, reason in (
        (good + b"From: mallory@evil.example\r\n", "repeated headers from"),
        (good + b"Bcc: x@evil.example\r\n", "unexpected headers bcc"),
        (good.replace(b"Message-ID: <followupd.x@example.org>\r\n", b""), "missing headers message-id"),
        (good.replace(b"To: jane.doe@acme.io", b"To: mallory@evil.example"), "recipients differ"),
        (good.replace(b"Subject: Thank you", b"Subject: Pay now"), "subject differs"),
    ):
        with pytest.raises(UnsafeDraft, match=reason):
            verify(message_from_bytes(change + b"\r\nx\r\n", policy=SMTP), **expected)  # type: ignore[arg-type]


def test_hostile_invitation_through_the_cli_makes_one_clean_draft(ics_cli: Cli) -> None:
    maildir = ics_cli.home / "Mail"
    summary = f"Interview {END_HEADERS} {BCC_Q}"
    event = vevent(
        "evil-1",
        START,
        END,
        summary,
        organizer=None,
        attendees=[],
        extra=f'ATTENDEE;CN="{BCC_Q}";PARTSTAT=ACCEPTED:mailto:jane.doe@acme.io\n'
        f'ATTENDEE;CN="{FROM_B}";PARTSTAT=ACCEPTED:mailto:tom@acme.io',
    )
    (ics_cli.home / "calendar.ics").write_text(calendar(event), encoding="utf-8")
    ics_cli.run(DUE.isoformat())
    found = drafts(maildir)
    assert len(found) == 1
    path, _ = found[0]
    raw = path.read_bytes()
    names = header_names(raw.replace(b"\n", b"\r\n") if b"\r\n" not in raw else raw)
    assert sorted(names) == sorted(HEADERS)
    # A lost state directory: the Message-ID is still there, so no second draft.
    import shutil

    shutil.rmtree(ics_cli.home / "state")
    ics_cli.run((DUE + timedelta(minutes=5)).isoformat())
    assert len(drafts(maildir)) == 1


# ---------------------------------------------------------------- §2: who gets a draft

detector = Detector(ME, Detect())


def event(organizer: Attendee | None, attendees: tuple[Attendee, ...], description: str = "") -> Event:
    return Event("e1", None, "Interview at Acme", description, START, END, organizer=organizer, attendees=attendees)


def test_a_forged_organizer_does_not_outrank_my_own_answer() -> None:
    forged = event(
        Attendee("ada@example.org", "Ada"),
        (Attendee("ada@example.org", "Ada", Partstat.NEEDS_ACTION), Attendee("jane@acme.io", "Jane")),
    )
    found = detector.detect(forged).interview
    assert found is not None and found.cancelled


def test_when_i_appear_twice_the_most_cautious_answer_wins() -> None:
    me = Me(name="Ada Lovelace", email="ada@example.org", aliases=("ada@home.example",), timezone=ZoneInfo("UTC"))
    twice = event(
        Attendee("jane@acme.io", "Jane"),
        (Attendee("ada@example.org", "Ada", Partstat.ACCEPTED), Attendee("ada@home.example", "Ada", Partstat.DECLINED)),
    )
    found = Detector(me, Detect()).detect(twice)
    assert found.interview is not None and found.interview.cancelled and found.reason == "you declined it"


def test_organised_by_me_without_an_answer_of_mine_counts() -> None:
    mine = event(Attendee("ada@example.org", "Ada"), (Attendee("jane@acme.io", "Jane", Partstat.ACCEPTED),))
    assert not detector.detect(mine).interview.cancelled  # type: ignore[union-attr]


def test_no_organizer_and_not_invited_is_my_own_entry() -> None:
    own = event(None, (), "Interviewer: Jane Doe <jane.doe@acme.io>")
    found = detector.detect(own).interview
    assert found is not None and not found.cancelled and [c.email for c in found.contacts] == ["jane.doe@acme.io"]


def test_addresses_never_come_from_html_attributes() -> None:
    hidden = event(None, (), 'Interviewer: <a href="mailto:mallory@evil.example">Jane Doe</a>')
    assert detector.detect(hidden).interview.contacts == ()  # type: ignore[union-attr]
    shown = event(None, (), '<a href="mailto:mallory@evil.example">jane.doe@acme.io</a>')
    assert [c.email for c in detector.detect(shown).interview.contacts] == ["jane.doe@acme.io"]  # type: ignore[union-attr]


def test_robots_are_never_recipients_and_their_invitees_are() -> None:
    robot = event(
        Attendee("no-reply@hire.lever.co", "Lever"),
        (
            Attendee("ada@example.org", "Ada", Partstat.ACCEPTED),
            Attendee("notifications@calendly.com"),
            Attendee("c_abc@group.calendar.google.com", "Acme Candidate Calendar"),
            Attendee("jane@acme.io", "Jane", Partstat.ACCEPTED),
        ),
    )
    assert [c.email for c in detector.detect(robot).interview.contacts] == ["jane@acme.io"]  # type: ignore[union-attr]


def test_recipients_are_capped_and_the_cut_reported(caplog: pytest.LogCaptureFixture) -> None:
    crowd = tuple(Attendee(f"person{i}@acme.io", f"Person {i}", Partstat.ACCEPTED) for i in range(120))
    with caplog.at_level(logging.WARNING):
        found = detector.detect(event(Attendee("jane@acme.io", "Jane"), (Attendee("ada@example.org"), *crowd)))
    assert found.interview is not None and len(found.interview.contacts) == MAX_RECIPIENTS
    assert "121 people" in caplog.text and "first 50" in caplog.text
    big = interview(contacts=tuple(Contact(f"p{i}@acme.io", f"P {i}") for i in range(80)))
    message = Composer(ME, ME.timezone, None).compose(THANKS, big, DUE)
    assert len(message["To"].addresses) == MAX_RECIPIENTS


words = st.sampled_from(
    [BCC_Q, FROM_B, END_HEADERS, "\r\n", "\x00", "Bcc: x@evil.example", "＠", "﹫", "\u202e", "=?", "?=", "<a@b>"]
)
hostile = st.lists(st.one_of(words, st.text(max_size=8)), max_size=6).map("".join)


@settings(max_examples=200, deadline=None)
@given(name=hostile, title=hostile, subject=hostile, reference=hostile)
@example(  # two encoded-words apart by a space: decoding them drops that space (RFC 2047 6.2)
    name="",
    title="",
    subject="0¡" + BCC_Q + "=?\r¡" + BCC_Q + "＠",
    reference="",
)
def test_generated_encoded_words_never_add_a_header(name: str, title: str, subject: str, reference: str) -> None:
    """Encoded-words with CR/LF, NUL and look-alikes inside, in every field that reaches
    a header: a calendar name, the title (role, company), the thread's subject and ids."""
    found = detector.detect(
        Event(
            "e1",
            None,
            f"Interview {title}",
            f"Role: {name}\nCompany: {title}\nNotes: {name}",
            START,
            END,
            organizer=Attendee("jane.doe@acme.io", name, Partstat.ACCEPTED),
            attendees=(Attendee("ada@example.org", "Ada", Partstat.ACCEPTED), Attendee("tom@acme.io", title)),
        )
    ).interview
    assert found is not None
    composer = Composer(ME, ME.timezone, None)
    for thread in (None, ThreadHint(subject or "x", f"<{reference}@acme.io>", (reference, "<c@d>"))):
        raw = composer.compose(THANKS, found, DUE, thread).as_bytes()
        names = header_names(raw)
        assert "bcc" not in names and all(names.count(h) == 1 for h in ("from", "to", "subject", "message-id"))
        assert set(names) <= {*HEADERS, "in-reply-to", "references"}
        parsed = message_from_bytes(raw, policy=compat32)
        assert [a for _, a in getaddresses(parsed.get_all("To"))] == ["jane.doe@acme.io", "tom@acme.io"]
