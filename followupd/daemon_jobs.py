"""The daemon's scheduler jobs: derived from the store after every pass, never stored.

One date job per planned follow-up at its `due_at`, one at the end of each interview
whose user is to be told to add notes, plus the periodic sync and a retry after a
transient failure. The store stays the single source of truth: `due_jobs` is a
pure function of its follow-ups, and `DueJobs.apply` makes the scheduler match it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from followupd.model import State

if TYPE_CHECKING:
    from followupd.store import FollowUp

log = logging.getLogger(__name__)

SYNC_JOB = "sync"
RETRY_JOB = "retry"
DUE_JOB = "due "  # + "<uid> <step>"
ENDED_JOB = "ended "  # + "<uid>": the interview-ended nudge
RETRY_FIRST = timedelta(seconds=15)


def due_jobs(
    followups: Iterable[FollowUp], now: datetime, ends: Mapping[str, datetime] | None = None
) -> dict[str, datetime]:
    """Job id → run time, one per planned follow-up not yet due at `now`, and one per
    interview end in `ends` (policy.say.ending) still to come."""
    jobs = {
        f"{DUE_JOB}{f.uid} {f.step}": f.due_at
        for f in followups
        if f.state == State.PLANNED and f.due_at is not None and f.due_at > now
    }
    jobs.update({f"{ENDED_JOB}{uid}": at for uid, at in (ends or {}).items() if at > now})
    return jobs


def backoff(failures: int, poll: timedelta) -> timedelta | None:
    """How long to wait before retrying after `failures` passes in a row hit a transient
    problem: 15 s, 30 s, 1 min… or None once that reaches the poll interval, which then
    does the retrying."""
    delay = RETRY_FIRST * 2 ** min(max(failures - 1, 0), 20)
    return delay if delay < poll else None


class DueJobs:
    """Keeps the scheduler's date and retry jobs in step with what the store says."""

    def __init__(self, scheduler: Any, request: Callable[[str], None]) -> None:
        self.scheduler = scheduler
        self.request = request
        self._due: dict[str, datetime] = {}
        self.failures = 0

    def apply(self, wanted: dict[str, datetime]) -> None:
        for job_id in self._due.keys() - wanted.keys():
            with contextlib.suppress(Exception):  # a job that has fired is gone already
                self.scheduler.remove_job(job_id)
        for job_id, at in wanted.items():
            if self._due.get(job_id) != at:
                why = "an interview ended" if job_id.startswith(ENDED_JOB) else f"{job_id.rsplit(' ', 1)[1]} due"
                self.scheduler.add_job(self.request, "date", run_date=at, id=job_id, args=[why], replace_existing=True)
        self._due = wanted

    def retry(self, now: datetime, poll: timedelta, failing: bool) -> None:
        """After a pass: count failures in a row and schedule the next retry, or drop it."""
        self.failures = self.failures + 1 if failing else 0
        delay = backoff(self.failures, poll) if failing else None
        if delay is None:
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(RETRY_JOB)
            return
        log.debug("retrying in %s", span(delay))
        self.scheduler.add_job(
            self.request, "date", run_date=now + delay, id=RETRY_JOB, args=["retry"], replace_existing=True
        )


def span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
