"""The user's say: their notes over the calendar's, the nudge when an interview ends,
and their track/skip corrections. Values in, values out; no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime

from followupd.model import FollowUp, Interview, InterviewRecord, State

ENDED = "interview-ended"


def overlay(interview: Interview, role: str | None, company: str | None, notes: str | None) -> Interview:
    """The interview as the user told it: each field they gave wins over the event's."""
    return dataclasses.replace(
        interview,
        role=role if role is not None else interview.role,
        company=company if company is not None else interview.company,
        notes=notes if notes is not None else interview.notes,
    )


def ended(
    records: Iterable[InterviewRecord],
    followups: Mapping[str, Sequence[FollowUp]],
    nudged: Collection[str],
    now: datetime,
) -> list[str]:
    """Interviews that have ended and whose user has not been nudged to write notes yet:
    only while no draft of it exists yet and a step is planned (notes are for the
    drafts to come; a nudge for history, a skipped or a cancelled interview would be
    noise)."""
    return [r.uid for r in records if r.interview.end <= now and _nudge_due(r, followups, nudged)]


def ending(
    records: Iterable[InterviewRecord],
    followups: Mapping[str, Sequence[FollowUp]],
    nudged: Collection[str],
    now: datetime,
) -> dict[str, datetime]:
    """The interviews not over yet that `ended` will name when they end, and when: the
    daemon runs a pass then, so the nudge does not wait for the next poll."""
    return {r.uid: r.interview.end for r in records if r.interview.end > now and _nudge_due(r, followups, nudged)}


def _nudge_due(record: InterviewRecord, followups: Mapping[str, Sequence[FollowUp]], nudged: Collection[str]) -> bool:
    if record.uid in nudged or record.interview.cancelled or record.skipped:
        return False
    steps = followups.get(record.uid, ())
    return all(f.message_id is None for f in steps) and any(f.state == State.PLANNED for f in steps)


def tracked(key: str, event_uid: str, corrections: Mapping[str, str]) -> bool:
    """Whether the user said this event (or its whole series) is an interview."""
    return corrections.get(key) == "track" or corrections.get(event_uid) == "track"


def skips(records: Iterable[InterviewRecord], corrections: Mapping[str, str]) -> list[str]:
    """Interviews to mark skipped because the user skipped their whole series (an
    occurrence found after `followupd skip SERIES-UID` is skipped too)."""
    return [
        r.uid
        for r in records
        if not r.skipped
        and (corrections.get(r.interview.event_uid or "") == "skip" or corrections.get(r.uid) == "skip")
    ]
