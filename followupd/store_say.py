"""The store's tables for the user's say (migration 3 in store_schema.py): their notes, the
nudges given, the events seen and not followed, and their track/skip corrections."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


def _ts(value: datetime) -> str:
    return value.isoformat()


def interview_event(db: sqlite3.Connection, now: datetime, uid: str, to_state: str, detail: str | None) -> None:
    """A change of the whole interview (cancelled, replied, skipped, notes), beside its steps' rows."""
    db.execute(
        "INSERT INTO transitions (at, uid, step, from_state, to_state, detail) VALUES (?, ?, '', NULL, ?, ?)",
        (_ts(now), uid, to_state, detail),
    )


def _put_ignored(db: sqlite3.Connection, i: Ignored, now: datetime) -> None:
    db.execute(
        "INSERT OR REPLACE INTO ignored_events VALUES (?, ?, ?, ?, ?, ?, ?)",
        (i.key, i.event_uid, i.title, _ts(i.start), _ts(i.end), i.reason, _ts(now)),
    )


@dataclass(frozen=True)
class UserNotes:
    """What the user told `followupd note`; a field left None keeps the event's."""

    uid: str
    role: str | None
    company: str | None
    notes: str | None


@dataclass(frozen=True)
class Ignored:
    """An event seen in the read span and not followed, with the detector's reason."""

    key: str
    event_uid: str
    title: str
    start: datetime
    end: datetime
    reason: str


class SayStore:
    """Mixed into Store; uses its connection and transactions."""

    db: sqlite3.Connection

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    # ------------------------------------------------------------ the user's say

    def user_notes(self, uid: str | None = None) -> dict[str, UserNotes]:
        rows = (
            self.db.execute("SELECT * FROM user_notes WHERE uid = ?", (uid,))
            if uid is not None
            else self.db.execute("SELECT * FROM user_notes")
        ).fetchall()
        return {r["uid"]: UserNotes(r["uid"], r["role"], r["company"], r["notes"]) for r in rows}

    def set_user_notes(self, notes: UserNotes | None, uid: str, now: datetime) -> None:
        """Store (or with None, remove) the user's notes for one interview."""
        with self.transaction() as db:
            if notes is None:
                if db.execute("DELETE FROM user_notes WHERE uid = ?", (uid,)).rowcount:
                    interview_event(db, now, uid, "notes", "your notes removed")
                return
            db.execute(
                "INSERT OR REPLACE INTO user_notes (uid, role, company, notes, updated_at) VALUES (?, ?, ?, ?, ?)",
                (uid, notes.role, notes.company, notes.notes, _ts(now)),
            )
            interview_event(db, now, uid, "notes", "your notes saved")

    def nudged(self, event: str) -> set[str]:
        return {r["uid"] for r in self.db.execute("SELECT uid FROM nudges WHERE event = ?", (event,))}

    def record_nudges(self, uids: Iterable[str], event: str, now: datetime) -> None:
        """Remember a nudge was given (before it is given: at most once, never twice)."""
        with self.transaction() as db:
            for uid in uids:
                db.execute("INSERT OR IGNORE INTO nudges (uid, event, at) VALUES (?, ?, ?)", (uid, event, _ts(now)))

    def ignored(self) -> list[Ignored]:
        rows = self.db.execute("SELECT * FROM ignored_events ORDER BY start_at, key").fetchall()
        return [
            Ignored(
                r["key"],
                r["event_uid"],
                r["title"],
                datetime.fromisoformat(r["start_at"]),
                datetime.fromisoformat(r["end_at"]),
                r["reason"],
            )
            for r in rows
        ]

    def save_ignored(
        self, seen: Iterable[Ignored], gone: Iterable[str], span: tuple[datetime, datetime] | None, now: datetime
    ) -> None:
        """Replace what one fetch said about events not followed: `seen` are ignored now,
        `gone` (keys followed now, or removed) are not; with `span` (a complete fetch),
        an ignored event of that span not in `seen` is forgotten."""
        seen = list(seen)
        with self.transaction() as db:
            if span is not None:
                keep = {i.key for i in seen}
                for r in db.execute(
                    "SELECT key FROM ignored_events WHERE end_at >= ? AND start_at <= ?", (_ts(span[0]), _ts(span[1]))
                ).fetchall():
                    if r["key"] not in keep:
                        db.execute("DELETE FROM ignored_events WHERE key = ?", (r["key"],))
            for key in gone:
                db.execute("DELETE FROM ignored_events WHERE key = ?", (key,))
            for i in seen:
                _put_ignored(db, i, now)

    def untrack(self, ignored: Iterable[Ignored], now: datetime) -> list[str]:
        """Undo what `track` made of events the detector does not follow: each of them
        that has no draft yet stops being an interview and is listed as ignored again;
        one with a draft stays (the user has it in their mailbox). The keys undone."""
        undone = []
        with self.transaction() as db:
            for i in ignored:
                drafted = db.execute(
                    "SELECT 1 FROM followups WHERE uid = ? AND message_id IS NOT NULL", (i.key,)
                ).fetchone()
                if drafted is not None:
                    continue
                db.execute("DELETE FROM followups WHERE uid = ?", (i.key,))
                if db.execute("DELETE FROM interviews WHERE uid = ?", (i.key,)).rowcount:
                    interview_event(db, now, i.key, "untracked", i.reason)
                    undone.append(i.key)
                _put_ignored(db, i, now)
        return undone

    def corrections(self) -> dict[str, str]:
        """The user's `track`/`skip` decisions: event key (or series UID) → decision."""
        return {r["key"]: r["decision"] for r in self.db.execute("SELECT key, decision FROM corrections")}

    def set_correction(self, key: str, decision: str | None, now: datetime) -> None:
        with self.transaction() as db:
            if decision is None:
                db.execute("DELETE FROM corrections WHERE key = ?", (key,))
            else:
                db.execute("INSERT OR REPLACE INTO corrections VALUES (?, ?, ?)", (key, decision, _ts(now)))
