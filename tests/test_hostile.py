"""Hostile and broken input: generated calendar events full of control characters, bidi
overrides, NULs, huge and empty fields, and malformed messages in INBOX.

The promise: no header injection, no crashed pass, the other interviews still handled,
and nothing counted as a reply by mistake. FOLLOWUPD_HOSTILE_EXAMPLES scales the run.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import icalendar
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from followupd import config as config_module
from followupd.calendars import TimeRange
from followupd.calendars.ical import events_in
from followupd.calendars.memory import MemoryCalendar
from followupd.clock import FixedClock
from followupd.engine import Engine
from followupd.mailboxes.memory import MemoryMailbox
from followupd.model import Attendee, Cutype, Event, Partstat, ThreadHint
from followupd.store import Store

from support.harness import Cli, write_config
from support.ics import calendar, vevent
from support.maildir_user import deliver, drafts

EXAMPLES = int(os.environ.get("FOLLOWUPD_HOSTILE_EXAMPLES", "60"))
EVENTS_PER_EXAMPLE = 20
START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
ALLOWED_HEADERS = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "content-type",
    "content-transfer-encoding",
    "mime-version",
}

nasty_chars = st.sampled_from(
    [
        "\r",
        "\n",
        "\r\n",
        "\x00",
        "\x07",
        "\x1b[31m",
        "\u202e",
        "\u2066",
        "\u200b",
        "\u2028",
        "\ufeff",
        "\udcff"[:0],
        ":",
        ";",
        ",",
        "<",
        ">",
        '"',
        "\\",
        "=?utf-8?b?QmNjOiB0aGllZkBldmlsLmV4YW1wbGU=?=",
        "Bcc: thief@evil.example",
        "\r\nBcc: thief@evil.example",
        "\nSubject: pwned",
        "%0d%0aBcc:",
        "ä",
        "日本語",
        "🙂",
        " ",
    ]
)
nasty_text = st.one_of(
    st.lists(st.one_of(nasty_chars, st.text(max_size=20)), max_size=30).map("".join),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200),
    st.just(""),
    st.integers(1000, 20000).map(lambda n: "x" * n),
)
nasty_address = st.one_of(
    st.builds(
        lambda local, domain: f"{local}@{domain}",
        st.from_regex(r"[a-z0-9.+_-]{1,20}", fullmatch=True),
        st.sampled_from(["acme.io", "globex.example", "gmail.com", "evil.example"]),
    ),
    nasty_text,
)


@st.composite
def hostile_event(draw, n: int) -> Event:  # type: ignore[no-untyped-def]
    start = START + timedelta(minutes=draw(st.integers(-600, 600)))
    people = tuple(
        Attendee(
            draw(nasty_address),
            draw(st.one_of(st.none(), nasty_text)),
            draw(st.sampled_from(list(Partstat))),
            draw(st.sampled_from(list(Cutype))),
        )
        for _ in range(draw(st.integers(0, 4)))
    )
    me = Attendee("ada@example.org", "Ada", draw(st.sampled_from(list(Partstat))))
    return Event(
        uid=f"hostile-{n}-" + draw(st.text(max_size=30)),
        recurrence_id=None,
        summary=draw(st.sampled_from(["Interview ", "Phone screen: ", "", "Onsite "])) + draw(nasty_text),
        description=draw(st.sampled_from(["", "Notes: ", "Role: "])) + draw(nasty_text),
        start=start,
        end=start + timedelta(minutes=draw(st.integers(0, 600))),
        status=draw(st.sampled_from(["confirmed", "tentative", "cancelled"])),
        organizer=draw(st.one_of(st.none(), st.builds(Attendee, nasty_address, st.one_of(st.none(), nasty_text)))),
        attendees=(*people, me) if draw(st.booleans()) else people,
        location=draw(nasty_text),
    )


@dataclass
class _Recording(MemoryMailbox):
    """Keeps every draft as the bytes a mail client would read."""

    raw: list[bytes] = field(default_factory=list)

    def create_draft(self, message: EmailMessage, thread: ThreadHint | None = None):  # type: ignore[no-untyped-def]
        self.raw.append(message.as_bytes())
        return super().create_draft(message, thread)


@contextlib.contextmanager
def _memory_engine(tmp_path: Path, events: Iterable[Event]) -> Iterator[tuple[Engine, Store, FixedClock, _Recording]]:
    """The real engine over a MemoryCalendar of `events` and a recording mailbox, in a
    state dir of its own (hypothesis runs every example in the one tmp_path)."""
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    config = config_module.load(write_config(root, 'kind = "ics"\npath = "/dev/null"', 'kind = "maildir"\npath = "/x"'))
    clock = FixedClock(START - timedelta(hours=12))
    store = Store.open(root / "state", clock.now())
    source = MemoryCalendar()
    for event in events:
        source.put(event)
    mailbox = _Recording()
    engine = Engine(config, store, clock, calendar=lambda: source, mailbox=lambda: mailbox)
    try:
        yield engine, store, clock, mailbox
    finally:
        engine.close()
        store.close()


def _check_draft(raw: bytes) -> None:
    head = raw.split(b"\r\n\r\n", 1)[0]
    names = {line.split(b":", 1)[0].decode().lower() for line in head.split(b"\r\n") if line[:1] not in (b" ", b"\t")}
    assert names <= ALLOWED_HEADERS, names
    assert b"thief@evil.example" not in head or b"To:" in head  # only ever as a real, parsed recipient
    parsed = message_from_bytes(raw, policy=default)
    for address in parsed["To"].addresses:
        assert "\n" not in address.addr_spec and "\r" not in address.addr_spec
    body = parsed.get_body(("plain",)).get_content()
    assert not any(ch in body for ch in "\x00\x07\u202e\u2066\ufeff\x1b")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    events=st.lists(st.integers(), min_size=EVENTS_PER_EXAMPLE, max_size=EVENTS_PER_EXAMPLE).flatmap(
        lambda ns: st.tuples(*[hostile_event(i) for i in range(len(ns))])
    )
)
def test_generated_hostile_events_never_break_a_pass(tmp_path: Path, events: tuple[Event, ...]) -> None:
    good = Event(
        "good",
        None,
        "Interview: Engineer at Acme",
        "",
        START,
        START + timedelta(hours=1),
        organizer=Attendee("jane@acme.io", "Jane Doe", Partstat.ACCEPTED),
        attendees=(Attendee("ada@example.org", "Ada", Partstat.ACCEPTED),),
    )
    with _memory_engine(tmp_path, (*events, good)) as (engine, store, clock, mailbox):
        for at in (START - timedelta(hours=12), DUE, DUE + timedelta(hours=30)):
            clock.set(at)
            report = engine.run_pass()
            assert [p for p in report.problems if p[0] == "error"] == [], report.problems
        assert store.followup("good", "thank-you").state == "drafted"  # type: ignore[union-attr]
        for raw in mailbox.raw:
            _check_draft(raw)


@settings(max_examples=max(EXAMPLES // 2, 10), deadline=None)
@given(fields=st.lists(st.tuples(nasty_text, nasty_text, nasty_text), min_size=1, max_size=10))
def test_hostile_ics_text_parses_or_is_reported(fields: list[tuple[str, str, str]]) -> None:
    """Through the real iCalendar writer and reader: what survives becomes events, the
    rest becomes problems, and nothing raises."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//hostile//")
    cal.add("version", "2.0")
    for n, (summary, description, name) in enumerate(fields):
        event = icalendar.Event()
        event.add("uid", f"h{n}")
        event.add("dtstart", START)
        event.add("dtend", START + timedelta(hours=1))
        event.add("summary", summary)
        event.add("description", description)
        organizer = icalendar.vCalAddress("mailto:jane@acme.io")
        organizer.params["cn"] = icalendar.vText(name.replace('"', "").replace("\r", "").replace("\n", ""))
        event.add("organizer", organizer)
        cal.add_component(event)
    raw = cal.to_ical()
    from followupd.calendars.ical import parse_calendar

    parsed = parse_calendar(raw, "hostile.ics")
    events, problems = events_in(
        [parsed], TimeRange(START - timedelta(days=1), START + timedelta(days=1)), UTC, "hostile.ics"
    )
    assert len(events) + len(problems) == len(fields)


# ---------------------------------------------------------------- malformed INBOX messages

MALFORMED = {
    "broken-mime": b'From: jane@acme.io\r\nContent-Type: multipart/mixed; boundary="b"\r\nDate: Thu, 05 Nov 2026 16:00:00 +0000\r\n'
    b"Subject: Out of office\r\n\r\n--b\r\nContent-Type: text/plain; charset=klingon\r\n\r\n\xff\xfe\r\n--b",
    "undecodable": b"From: =?x-unknown?q?J=FCrgen?= <juergen@globex.example>\r\nSubject: =?utf-8?b?////?=\r\n"
    b"Date: Thu, 05 Nov 2026 16:00:00 +0000\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n\xc3\x28\xa0\xa1",
    "no-from-no-date": b"Subject: hello\r\n\r\nno sender at all",
    "garbage": b"\x00\x01\x02 this is not an email \xff\xfe\r\n\r\n\r\n",
    "header-only": b"From: <<<>>>@@@\r\nTo: ;;;\r\nDate: 32 Foo 99999 99:99:99 +9999",
    "huge": b"From: Newsletter <news@globex.example>\r\nSubject: Big\r\nDate: Thu, 05 Nov 2026 16:00:00 +0000\r\n"
    b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: application/octet-stream\r\n\r\n"
    + b"A" * (20 * 1024 * 1024)
    + b"\r\n--zz--\r\n",
}


def test_malformed_inbox_messages_are_skipped_not_replies(ics_cli: Cli) -> None:
    (ics_cli.home / "calendar.ics").write_text(calendar(vevent("a", START, START + timedelta(hours=1))))
    maildir = ics_cli.home / "Mail"
    ics_cli.run((START + timedelta(hours=2)).isoformat())
    for n, raw in enumerate(MALFORMED.values()):
        deliver(maildir, raw, START + timedelta(hours=3, minutes=n))
    result = ics_cli.run(DUE.isoformat())
    assert "Traceback" not in result.stderr
    assert ics_cli.step("a")["state"] == "drafted"  # none of them was taken for Jane's reply
    assert len(drafts(maildir)) == 1


# ---------------------------------------------------------------- RFC 2047 encoded-words (issue 16 §1)

ATTACKER = "attacker.io"
# What an attacker hides inside an encoded-word: a CRLF and a header, an early end of
# the header block, a NUL, a second From, and display names that look like addresses
# (ASCII, fullwidth ＠ U+FF20, small ﹫ U+FE6B, Cyrillic а in the domain).
PAYLOADS = [
    f"Jane\r\nBcc: evil@{ATTACKER}\r\nX-Y:",
    "J\r\n\r\nbody",
    f"Jane\nFrom: boss@{ATTACKER}",
    "Jane\x00Doe",
    f"Jane Doe <jane@{ATTACKER}>,",
    f"Jane Doe jane\uff20{ATTACKER}",
    f"Jane\ufe6b{ATTACKER}",
    "Jane Doe <jane@\u0430cme.io>",
    f"\r\nSubject: pwned\r\nBcc: x@{ATTACKER}",
]


def _q(text: str) -> str:
    raw = text.encode("utf-8")
    return "=?utf-8?q?" + "".join(chr(b) if chr(b).isalnum() else f"={b:02X}" for b in raw) + "?="


def _b(text: str) -> str:
    import base64

    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode() + "?="


encoded_word = st.builds(
    lambda payload, encode, before, after: before + encode(payload) + after,
    st.sampled_from(PAYLOADS),
    st.sampled_from([_q, _b]),
    st.sampled_from(["", "Jane ", "Interview: "]),
    st.sampled_from(["", " Doe", " =?utf-8?q?x?="]),
)


@st.composite
def encoded_event(draw, n: int) -> Event:  # type: ignore[no-untyped-def]
    """An accepted interview whose every header-bound field may carry an encoded-word."""
    text = st.one_of(encoded_word, st.just(""))
    role = draw(text)
    company = draw(text)
    return Event(
        uid=f"enc-{n}-" + draw(st.one_of(encoded_word, st.just("plain"))),
        recurrence_id=None,
        summary="Interview " + draw(text),
        description=f"Role: {role}\nCompany: {company}\nNotes: " + draw(text),
        start=START,
        end=START + timedelta(hours=1),
        organizer=Attendee("jane.doe@acme.io", draw(st.one_of(st.none(), encoded_word)), Partstat.ACCEPTED),
        attendees=(
            Attendee("jane.doe@acme.io", draw(st.one_of(st.none(), encoded_word)), Partstat.ACCEPTED),
            Attendee("tom@acme.io", draw(st.one_of(st.none(), encoded_word)), Partstat.ACCEPTED),
            Attendee("ada@example.org", "Ada", Partstat.ACCEPTED),
        ),
    )


def _check_strict(raw: bytes) -> None:
    """The draft as a mail client reads it: one of each header, nothing added."""
    parsed = message_from_bytes(raw, policy=default)
    names = [name.lower() for name in parsed]
    assert set(names) <= ALLOWED_HEADERS, names
    for one in ("from", "to", "subject", "message-id"):
        assert names.count(one) == 1, (one, names)
    assert "bcc" not in names and "cc" not in names
    for address in parsed["To"].addresses:
        assert ATTACKER not in address.addr_spec and address.domain == "acme.io", address
        # A display name never carries an address the user would take for the recipient.
        assert not any(ch in address.display_name for ch in "@\uff20\ufe6b"), address
    assert ATTACKER not in str(parsed["From"])


@settings(
    max_examples=max(EXAMPLES // 3, 10),
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # the failing example is report enough; no shrinking
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(events=st.tuples(*[encoded_event(i) for i in range(5)]))
def test_encoded_words_in_every_header_field_never_add_a_header(tmp_path: Path, events: tuple[Event, ...]) -> None:
    with _memory_engine(tmp_path, events) as (engine, _, clock, mailbox):
        for at in (START - timedelta(hours=12), DUE):
            clock.set(at)
            engine.run_pass()
        assert len(mailbox.raw) == len(events)  # each an accepted interview: none went undrafted, unchecked
        for raw in mailbox.raw:
            _check_strict(raw)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_reported_injections_through_a_real_ics_file_and_maildir(ics_cli: Cli, payload: str) -> None:
    """Issue 16's reproductions, end to end: ICS file → `run --once` → the draft file."""
    word = _q(payload)
    extra = f'ATTENDEE;CN="{word}";PARTSTAT=ACCEPTED:mailto:tom@acme.io'
    event = vevent("enc@acme.io", START, START + timedelta(hours=1), f"Interview {word}", extra=extra)
    (ics_cli.home / "calendar.ics").write_text(calendar(event))
    ics_cli.run((START + timedelta(hours=2)).isoformat())
    ics_cli.run(DUE.isoformat())
    found = drafts(ics_cli.home / "Mail")
    assert len(found) == 1, found
    path, _ = found[0]
    _check_strict(path.read_bytes())
    # Exactly once holds: the draft is found again by its Message-ID on the next pass.
    ics_cli.run((DUE + timedelta(hours=1)).isoformat())
    assert len(drafts(ics_cli.home / "Mail")) == 1
