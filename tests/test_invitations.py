"""Invitation shapes as real tools write them (tests/data/invitations/corpus.toml):
for each, the role, company and greeting a person would write, and a draft with no
debris — in process, and through the CLI on an ICS file and a Maildir."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from followupd.calendars import TimeRange
from followupd.calendars.ical import events_in, parse_calendar
from followupd.compose import Composer, message_id
from followupd.config import Detect, Me, ResolvedStep
from followupd.detect import Detector

from support.harness import Cli, make_maildir
from support.ics import calendar, vevent
from support.maildir_user import drafts

CORPUS = Path(__file__).parent / "data" / "invitations" / "corpus.toml"
SHAPES: list[dict[str, Any]] = tomllib.loads(CORPUS.read_text(encoding="utf-8"))["shape"]
ME = Me(
    name="Maya Schneider",
    email="maya@example.org",
    aliases=("maya.schneider@gmail.com",),
    timezone=ZoneInfo("Europe/London"),
)
START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
DUE = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
THANKS = ResolvedStep("thank-you", "thank-you.txt.j2", timedelta(hours=24), timedelta(hours=48))
CHECKIN = ResolvedStep("check-in", "check-in.txt.j2", timedelta(days=7), timedelta(days=9))

_CONFERENCING = re.compile(
    r"(?i)zoom|teams\.microsoft|microsoft teams|meet\.google|google meet|webex|passcode|meeting id|dial|\bpin\b"
    r"|conference id|join (?:with|on|by)|https?://|calendly|greenhouse|lever\.co|ashby|goodtime|modernloop"
)
_DEBRIS = re.compile(r"\||<>|\(\s*\)|\[|\]|\s[-—:]\s|\s,|,,|\.\.|\s{2,}|^\W|\(|\)|\b(?:None|null|undefined)\b")
_MARKUP = re.compile(r"<[^>]*>|&[a-zA-Z]+;|&#\d+;|\{\{|\}\}|\{%")


def shape_event(shape: dict[str, Any], uid: str | None = None) -> str:
    organizer = shape.get("organizer", "")
    partstat = shape.get("my_partstat", "ACCEPTED")
    mine = f'ATTENDEE;CN="Maya Schneider";PARTSTAT={partstat}:mailto:maya@example.org' if partstat else ""
    return vevent(
        uid or shape["id"],
        START,
        END,
        shape["title"],
        description=shape.get("description", ""),
        organizer=organizer or None,
        attendees=list(shape.get("attendees", [])),
        my_partstat=None,
        extra=mine,
    )


def hygiene(shape: dict[str, Any], subject: str, body: str) -> None:
    """What must never reach a draft, whatever the invitation looked like."""
    lines = body.rstrip().split("\n")
    assert lines[-1] == "Maya Schneider"  # the signature: the one place for the candidate's name
    text = "\n".join(lines[:-1])
    for part, label in ((subject, "subject"), (text, "body")):
        assert not _MARKUP.search(part), (label, part)
        assert not _CONFERENCING.search(part), (label, part)
        assert not re.search(r"(?i)maya|schneider", part), (label, part)
        for line in part.split("\n"):
            assert not _DEBRIS.search(line.replace(" – ", " ").replace("I'", "I")), (label, line)
        for absent in shape.get("absent", []):
            assert absent.lower() not in part.lower(), (label, absent, part)
    assert len(body.split()) <= 150
    assert body.lower().count("enjoyed") <= 1


def check_draft(shape: dict[str, Any], subject: str, body: str) -> None:
    greeting = shape["greeting"]
    assert body.split("\n", 1)[0] == greeting, body
    role, company = shape["role"], shape["company"]
    if role:
        assert f"the {role} role" in body and role in subject
    else:
        assert " role" not in body.split("\n\n")[1], body  # "the position", never a guessed role
    if company:
        assert company in body
    if "point" in shape:
        assert shape["point"] in " ".join(body.split()), body
    hygiene(shape, subject, body)


def detect(shape: dict[str, Any]) -> Any:
    cal = parse_calendar(calendar(shape_event(shape)), "corpus")
    span = TimeRange(START - timedelta(days=1), START + timedelta(days=1))
    events, problems = events_in([cal], span, ME.timezone, "corpus")
    assert not problems and len(events) == 1
    detection = Detector(ME, Detect()).detect(events[0])
    assert detection.interview is not None, detection.reason
    assert not detection.interview.cancelled, detection.reason
    return detection.interview


def test_the_corpus_is_broad() -> None:
    tools = {s["tool"] for s in SHAPES}
    assert len(SHAPES) >= 60
    for tool in (
        "Greenhouse",
        "Lever",
        "Ashby",
        "Workday",
        "GoodTime",
        "ModernLoop",
        "Calendly",
        "Google Calendar",
        "Microsoft Teams",
        "Outlook",
        "Zoom",
        "German",
        "French",
        "Spanish",
    ):
        assert tool in tools
    assert len({s["id"] for s in SHAPES}) == len(SHAPES)
    assert all(s.get("source") for s in SHAPES)


@pytest.mark.parametrize("shape", SHAPES, ids=[s["id"] for s in SHAPES])
def test_role_company_and_greeting(shape: dict[str, Any]) -> None:
    interview = detect(shape)
    assert (interview.role, interview.company) == (shape["role"] or None, shape["company"] or None)
    composer = Composer(ME, ME.timezone, None)
    for step in (THANKS, CHECKIN):
        message = composer.compose(step, interview, DUE if step is THANKS else DUE + timedelta(days=8))
        subject, body = str(message["Subject"]), message.get_body(("plain",)).get_content()
        if step is THANKS:
            check_draft(shape, subject, body)
        else:
            assert body.split("\n", 1)[0] == shape["greeting"]
            hygiene({**shape, "absent": []}, subject, body)
    robots = ("no-reply", "noreply", "notifications@", "greenhouse", "lever.co", "ashbyhq", "calendly", "goodtime")
    addresses = " ".join(c.email for c in interview.contacts)
    assert interview.contacts and not any(r in addresses for r in robots)


def test_every_shape_through_the_cli(home: Path) -> None:
    maildir = make_maildir(home / "Mail")
    (home / "calendar.ics").write_text(calendar(*(shape_event(s) for s in SHAPES)), encoding="utf-8")
    config = home / "config.toml"
    config.write_text(
        f"""
[me]
name = "Maya Schneider"
email = "maya@example.org"
aliases = ["maya.schneider@gmail.com"]
timezone = "Europe/London"

[calendar]
kind = "ics"
path = "{home / "calendar.ics"}"

[mailbox]
kind = "maildir"
path = "{maildir}"

[state]
dir = "{home / "state"}"
""",
        encoding="utf-8",
    )
    cli = Cli(home, config)
    cli.run(DUE.isoformat())
    made = {str(m["Message-ID"]): m for _, m in drafts(maildir)}
    assert len(made) == len(SHAPES)
    for shape in SHAPES:
        message = made[message_id(shape["id"], "thank-you", ME)]
        assert len(message.get_all("To")) == 1 and message.get_all("Bcc") is None
        check_draft(shape, str(message["Subject"]), message.get_body(("plain",)).get_content())


def test_the_readme_example_drafts_are_current() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"<!-- example-draft: ([\w-]+) -->\n```text\n(.*?)```", readme, re.DOTALL)
    assert len(examples) == 2
    composer = Composer(ME, ME.timezone, None)
    for shape_id, shown in examples:
        shape = next(s for s in SHAPES if s["id"] == shape_id)
        message = composer.compose(THANKS, detect(shape), DUE)
        made = f"To: {message['To']}\nSubject: {message['Subject']}\n\n{message.get_body(('plain',)).get_content()}"
        assert shown == made, f"README example {shape_id} is out of date; it now reads:\n{made}"
