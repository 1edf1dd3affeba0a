"""The pieces `note` and `status` rest on: the one description parser, short ids,
and the core's overlay of the user's notes and its interview-ended decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
