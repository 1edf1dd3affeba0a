"""What a calendar fetch means for the stored interviews: found, changed, cancelled,
or history. Facts in (the detector's reading of each event), actions out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from followupd.model import FollowUp, InterviewRecord
from followupd.policy.actions import (
    CalendarAction,
    CancelInterview,
    IgnoreEvent,
    KeepInterview,
    SaveInterview,
    Seen,
    Settings,
)

HISTORY = "its window had closed before followupd first saw it"


def calendar(
    records: Mapping[str, InterviewRecord],
    followups: Mapping[str, Sequence[FollowUp]],
    seen: Sequence[Seen],
    removed: Sequence[str],
    complete: tuple[datetime, datetime] | None,
    settings: Settings,
) -> list[CalendarAction]:
    """Decide what to store from one fetch.

    `removed`: keys the source says were deleted. `complete`: the span the fetch
    covered in full, if it did (an event of that span it did not return is gone).
    A cancellation or removal stops a sequence only while none of its drafts exist:
    once a draft was made, the interview happened and the sequence goes on.
    """
    out: list[CalendarAction] = []
    cancelled = {uid for uid, r in records.items() if r.interview.cancelled}
    keys: set[str] = set()

    def drafted(uid: str) -> bool:
        return any(f.message_id is not None for f in followups.get(uid, ()))

    def cancel(uid: str, reason: str, kind: str = "cancelled") -> None:
        if uid not in records or uid in cancelled:
            return
        cancelled.add(uid)
        if not drafted(uid):
            out.append(CancelInterview(uid, reason, kind))
        elif records[uid].cancel_reason != reason:
            out.append(KeepInterview(uid, reason))

    first = settings.steps[0].before if settings.steps else None
    for s in seen:
        keys.add(s.key)
        record = records.get(s.key)
        interview = s.interview
        if interview is None:
            if record is None:
                out.append(IgnoreEvent(s.key, s.reason))  # listed by `status --all`
            cancel(s.key, f"no longer an interview: {s.reason}", "not-interview")
            continue
        if record is None:
            if interview.cancelled:
                out.append(IgnoreEvent(s.key, s.reason))
            elif first is None or interview.end + first >= settings.started:
                out.append(SaveInterview(interview, s.reason, "found"))
            else:  # history: its window closed before followupd started
                out.append(IgnoreEvent(s.key, HISTORY))
            continue
        if record.interview == interview and (record.cancel_reason or "") == (s.reason if interview.cancelled else ""):
            continue
        if interview.cancelled and not record.interview.cancelled and drafted(s.key):
            cancel(s.key, s.reason)  # kept, not cancelled; the stub's data is not stored
            continue
        kind = "cancelled" if interview.cancelled and s.key not in cancelled else "changed"
        if interview.cancelled:
            cancelled.add(s.key)
        out.append(SaveInterview(interview, s.reason, kind))
    for key in removed:
        cancel(key, "the event was cancelled or deleted")
    if complete is not None:
        start, end = complete
        for uid, record in records.items():
            iv = record.interview
            if uid not in keys and iv.end >= start and iv.start <= end:
                cancel(uid, "the event is no longer in the calendar")
    return out


def span(last_read: datetime | None, now: datetime, settings: Settings, ahead: timedelta) -> tuple[datetime, datetime]:
    """What to read from the calendar: back to the previous read (so an interview that
    ended while followupd was not running is seen, and listed as missed, however long
    it was off), from a day before the first window could still be open, and `ahead`."""
    since = min(now, last_read) if last_read is not None else now
    back = settings.steps[0].before if settings.steps else timedelta(0)
    return since - back - timedelta(days=1), now + ahead
