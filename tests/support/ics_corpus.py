"""The real-world ICS corpus (tests/data/ics/): each file read by followupd's ICS source
and detector, and by the independent reader in ics_reference.py.

The corpus files are other projects' test calendars and exported invitations; none
says "interview", so every VEVENT's title gets the keyword here, in the text, before
either reader sees it. Each file is read over its own range: from a day before its
first timed event to 120 days after.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from followupd import config as config_module
from followupd.calendars import TimeRange
from followupd.calendars.ics import IcsSource
from followupd.detect import Detector

from support.harness import write_config
from support.ics_reference import NO_UID, occurrences

CORPUS = Path(__file__).resolve().parent.parent / "data" / "ics"
ZONE = "Europe/London"  # the user's zone, for floating times (write_config's default)
KEYWORD = "Interview"
_SUMMARY = re.compile(r'^(SUMMARY(?:;(?:[^:;"\r\n]|"[^"\r\n]*")*)*:)', re.M | re.I)
_VEVENT = re.compile(r"^BEGIN:VEVENT[ \t]*\r?\n", re.M | re.I)
_EVENT_BLOCK = re.compile(r"^BEGIN:VEVENT.*?^END:VEVENT", re.M | re.S | re.I)
_START = re.compile(r"^DTSTART[^:\r\n]*:[ \t]*(\d{8})T\d{6}", re.M | re.I)


@dataclass(frozen=True)
class Entry:
    file: str
    producer: str
    repository: str
    path: str
    licence: str


def entries() -> list[Entry]:
    with open(CORPUS / "SOURCES.tsv", encoding="utf-8", newline="") as handle:
        return [Entry(**row) for row in csv.DictReader(handle, delimiter="\t")]


def decisions() -> dict[str, dict]:
    """Files where the two readers disagree, decided by reading the file: the expected
    occurrences and why (tests/data/ics/DECISIONS.json)."""
    return json.loads((CORPUS / "DECISIONS.json").read_text("utf-8"))


def with_keyword(text: str) -> str:
    """The calendar text with KEYWORD at the start of every title (and a title for the
    VEVENTs that have none), folding and everything else left as it was."""

    def one(block: re.Match[str]) -> str:
        body = block.group(0)
        if _SUMMARY.search(body):
            return _SUMMARY.sub(lambda m: f"{m.group(1)}{KEYWORD} ", body)
        return _VEVENT.sub(lambda m: f"{m.group(0)}SUMMARY:{KEYWORD}\r\n", body, count=1)

    return _EVENT_BLOCK.sub(one, text)


def span_of(text: str) -> TimeRange:
    days = []
    for block in _EVENT_BLOCK.findall(re.sub(r"\r?\n[ \t]", "", text)):
        days += [m for m in _START.findall(block) if "1900" < m < "2100"]
    first = datetime.strptime(min(days), "%Y%m%d").replace(tzinfo=UTC) if days else datetime(2020, 1, 1, tzinfo=UTC)
    return TimeRange(first - timedelta(days=1), first + timedelta(days=120))


def read_text(entry: Entry) -> str:
    return with_keyword((CORPUS / entry.file).read_bytes().decode("utf-8", "replace"))


def by_followupd(text: str, span: TimeRange, home: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """(UID, start in UTC) of each interview followupd finds, and the problems it reported."""
    home.mkdir(parents=True, exist_ok=True)
    ics = home / "corpus.ics"
    ics.write_text(text, encoding="utf-8", newline="")
    path = write_config(
        home,
        f'kind = "ics"\npath = "{ics}"',
        'kind = "maildir"\npath = "/tmp"',
        extra='[detect]\nkeywords = ["interview"]\nexclude = []\nrequire_accepted = false',
        zone=ZONE,
    )
    config = config_module.load(path)
    detector = Detector(config.me, config.detect)
    source = IcsSource(config, relevant=detector.mentions_keyword)
    changes = source.fetch(None, span)
    found = []
    for event in changes.events:
        interview = detector.detect(event).interview
        if interview is not None and not interview.cancelled:
            uid = NO_UID if event.uid.startswith("followupd-") else event.uid  # made up for a file without one
            found.append((uid, interview.start.astimezone(UTC).isoformat()))
    return sorted(found), [str(p) for p in changes.problems]


def by_reference(text: str, span: TimeRange) -> list[tuple[str, str]]:
    return occurrences(text, span.start, span.end, ZoneInfo(ZONE))
