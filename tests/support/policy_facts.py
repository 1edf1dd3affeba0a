"""Plain values the core's tests share: a time, settings, one interview and its drafted thank-you."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from followupd import policy
from followupd.model import Contact, DraftRef, FollowUp, Interview, InterviewRecord, State

T = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)


class _Step:
    def __init__(self, name: str, after: timedelta, before: timedelta) -> None:
        self.name, self.after, self.before = name, after, before
        self.per_person = False


SETTINGS = policy.Settings(
    steps=(
        _Step("thank-you", timedelta(hours=24), timedelta(hours=48)),
        _Step("check-in", timedelta(days=7), timedelta(days=9)),
    ),
    schedule=policy.Schedule(UTC, (time(9), time(18)), (0, 1, 2, 3, 4)),
    me=frozenset({"ada@example.org"}),
    started=T - timedelta(days=10),
)
INTERVIEW = Interview("iv", "Interview", T - timedelta(hours=25), T - timedelta(hours=24), (Contact("jane@acme.io"),))
RECORD = InterviewRecord(INTERVIEW)
REF = DraftRef("<followupd.x@example.org>", "k1", "fp1")
DRAFTED = FollowUp(
    "iv",
    "thank-you",
    0,
    State.DRAFTED,
    due_at=T,
    window_start=T,
    window_end=T + timedelta(hours=24),
    message_id=REF.message_id,
    draft_key=REF.key,
    draft_fingerprint=REF.fingerprint,
    drafted_at=T,
)
