"""The pieces `note` and `status` rest on: the one description parser, short ids,
and the core's overlay of the user's notes and its interview-ended decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from followupd.detect import read_fields
from followupd.errors import FollowupdError
from followupd.model import Contact, FollowUp, Interview, InterviewRecord, State
from followupd.policy.say import ended, overlay
from followupd.status import ellipsis, resolve, short_ids

START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)


def test_read_fields_is_the_description_convention() -> None:
    text = "Role: Staff Engineer\nCompany: Acme\nNotes: their move to event sourcing\nand on-call"
    fields = read_fields(text)
    assert (fields.role, fields.company, fields.notes) == (
        "Staff Engineer",
        "Acme",
        "their move to event sourcing\nand on-call",
    )
    assert read_fields("we talked about billing", unlabelled_is_notes=True).notes == "we talked about billing"
    assert read_fields("we talked about billing").notes is None  # a description without a label has no notes
    assert read_fields("Notizen: Kubernetes-Migration").notes == "Kubernetes-Migration"


def test_short_ids_are_unique_prefixes() -> None:
    ids = short_ids(["abcdefgh1@x", "abcdefgh2@x", "zz@x", "q"])
    assert ids == {"abcdefgh1@x": "abcdefgh1", "abcdefgh2@x": "abcdefgh2", "zz@x": "zz@x", "q": "q"}
    assert resolve("abcdefgh2", ids) == "abcdefgh2@x"
    with pytest.raises(FollowupdError, match="start of several ids"):
        resolve("abc", ids)
    assert resolve("series-uid", ids, series=["series-uid"]) == "series-uid"


def test_short_ids_read_as_words_and_dates() -> None:
    """A word of the UID, an occurrence's local date, a hash where only 40 shared hex
    digits in (Outlook's global object ids) would tell two apart."""
    outlook = "040000008200E00074C5B7101A82E00800000000B0A1C2D3E4F5A6010000000000000000100000"
    keys = [
        "hooli-onsite-2026@hooli.com",
        "sync@initech.com#20261104T010000Z",  # 17:00 on Tuesday the 3rd in Los Angeles
        "sync@initech.com#20261111T010000Z",
        "standup#20251104T160000Z",
        "standup#20261104T160000Z",
        f"{outlook}AAA",
        f"{outlook}BBB",
    ]
    ids = short_ids(keys, ZoneInfo("America/Los_Angeles"))
    assert ids["hooli-onsite-2026@hooli.com"] == "hooli"
    assert (ids["sync@initech.com"], ids["sync@initech.com#20261104T010000Z"]) == ("sync", "sync#1103")
    assert ids["standup#20261104T160000Z"] == "standup#20261104"  # the year tells them apart
    assert ids[f"{outlook}AAA"].startswith("040000~") and len(ids[f"{outlook}AAA"]) == 11
    assert len(set(ids.values())) == len(ids)
    occurrences = [k for k in keys if "#" in k]
    assert resolve("sync#1110", occurrences, shown=ids) == "sync@initech.com#20261111T010000Z"
    assert resolve("sync", occurrences, series=["sync@initech.com"], shown=ids) == "sync@initech.com"
    with pytest.raises(FollowupdError, match="recurring series; name one occurrence .sync#1103, sync#1110"):
        resolve("sync", occurrences, shown=ids)  # `note` wants one interview
    assert ellipsis("a\nmulti-line\tproblem", 12) == "a multi-lin…"


def test_overlay_and_ended() -> None:
    iv = Interview("u", "Interview", START, START + timedelta(hours=1), (Contact("j@acme.io"),), "Acme", "SRE", None)
    assert overlay(iv, None, "Acme Corp", "billing") == Interview(
        "u", "Interview", START, START + timedelta(hours=1), (Contact("j@acme.io"),), "Acme Corp", "SRE", "billing"
    )
    record = InterviewRecord(iv)
    planned = {"u": [FollowUp("u", "thank-you", 0, State.PLANNED)]}
    assert ended([record], planned, set(), START) == []  # not over yet
    assert ended([record], planned, set(), START + timedelta(hours=1)) == ["u"]
    assert ended([record], planned, {"u"}, START + timedelta(hours=2)) == []  # once
    drafted = {"u": [FollowUp("u", "thank-you", 0, State.DRAFTED, message_id="<m@x>")]}
    assert ended([record], drafted, set(), START + timedelta(hours=2)) == []  # too late for notes
