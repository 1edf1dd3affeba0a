"""The SQLite store: the single source of truth for interviews, follow-ups and cursors.

Every state change is one short transaction. The schema has a version and real
migrations, so an upgrade never asks the user to delete their state.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from followupd import conversations
from followupd.model import Contact, FollowUp, Interview, InterviewRecord, State, ThreadHint
from followupd.policy.actions import Away, CancelInterview, KeepInterview, Replied, SaveInterview, Transition
from followupd.statedir import PassLock, StoreError, StoreWriteError, private_dir, private_file, write_error
from followupd.store_say import Ignored, SayStore, UserNotes, interview_event
from followupd.store_schema import MIGRATIONS

__all__ = [
    "MIGRATIONS",
    "FollowUp",
    "Ignored",
    "InterviewRecord",
    "PassLock",
    "Store",
    "StoreError",
    "StoreWriteError",
    "UserNotes",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Health:
    component: str
    kind: str  # "auth" | "transient" | "error"
    problem: str
    since: datetime


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class Store(SayStore):
    """Open with `Store.open(state_dir, now)`; `now` stamps a new store's creation."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, state_dir: Path, now: datetime, *, readonly: bool = False) -> Store:
        path = state_dir / "state.sqlite3"
        try:
            if readonly:
                if not path.exists():
                    raise StoreError(f"no state yet in {state_dir}; run `followupd run --once` first")
                db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=30)
            else:
                private_dir(state_dir)
                private_file(path)
                db = sqlite3.connect(path, isolation_level=None, timeout=30)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.row_factory = sqlite3.Row
        except sqlite3.OperationalError as exc:
            raise write_error(path, exc) from None
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the state database {path}: {exc}") from None
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.ENOSPC, errno.EDQUOT):
                raise write_error(path, exc) from None
            raise StoreError(f"cannot use the state directory {state_dir}: {exc.strerror}") from None
        store = cls(db, path)
        if not readonly:
            store._migrate(now)
        return store

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ schema

    def _migrate(self, now: datetime) -> None:
        with self.transaction():
            self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = self.db.execute("SELECT version FROM schema_version").fetchone()
            version = row["version"] if row else 0
            if version > len(MIGRATIONS):
                raise StoreError(f"{self.path} was written by a newer followupd (schema {version}); upgrade followupd")
            if version == 0:
                log.info("creating the state database in %s (schema %d)", self.path.parent, len(MIGRATIONS))
            for number in range(version, len(MIGRATIONS)):
                if version > 0:
                    log.info("migrating the state database to schema %d", number + 1)
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
            if version == 0:
                self.db.execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS),))
                self.db.execute("INSERT INTO meta VALUES ('created_at', ?)", (_ts(now),))
            elif version < len(MIGRATIONS):
                self.db.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("SELECT version FROM schema_version").fetchone()["version"])

    @property
    def created_at(self) -> datetime:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'created_at'").fetchone()
        return datetime.fromisoformat(row["value"])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise write_error(self.path, exc) from None
        try:
            yield self.db
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise write_error(self.path, exc) from None
        except BaseException:
            self._rollback()
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise write_error(self.path, exc) from None

    def _rollback(self) -> None:
        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                log.debug("rollback failed", exc_info=True)

    # ------------------------------------------------------------ interviews

    def interviews(self) -> list[InterviewRecord]:
        rows = self.db.execute("SELECT * FROM interviews ORDER BY start_at, uid").fetchall()
        return [_interview(row) for row in rows]

    def interview(self, uid: str) -> InterviewRecord | None:
        row = self.db.execute("SELECT * FROM interviews WHERE uid = ?", (uid,)).fetchone()
        return _interview(row) if row else None

    def save_interview(self, interview: Interview, now: datetime, cancel_reason: str | None = None) -> None:
        """Insert or update what the calendar says; user decisions (skip, reply) stay."""
        with self.transaction() as db:
            _save_interview(db, interview, cancel_reason, now)

    def set_skipped(self, uid: str, skipped: bool, now: datetime) -> None:
        with self.transaction() as db:
            db.execute("UPDATE interviews SET skipped = ?, updated_at = ? WHERE uid = ?", (int(skipped), _ts(now), uid))
            interview_event(db, now, uid, "skipped" if skipped else "resumed", "by you")

    def record(self, actions: Iterable[object], now: datetime) -> None:
        """Write what the core decided, in one transaction: interviews found, changed,
        cancelled or answered, and follow-up transitions. Each state change leaves a row
        in `transitions` (an interview's own changes with step "")."""
        with self.transaction() as db:
            for action in actions:
                if isinstance(action, Transition):
                    _write_followup(db, action.after, now, action.why)
                elif isinstance(action, SaveInterview):
                    old = db.execute(
                        "SELECT cancelled FROM interviews WHERE uid = ?", (action.interview.uid,)
                    ).fetchone()
                    _save_interview(db, action.interview, action.reason, now)
                    if action.interview.cancelled and (old is None or not old["cancelled"]):
                        interview_event(db, now, action.interview.uid, "cancelled", action.reason)
                elif isinstance(action, CancelInterview):
                    db.execute(
                        "UPDATE interviews SET cancelled = 1, cancel_reason = ?, updated_at = ? WHERE uid = ?",
                        (action.reason, _ts(now), action.uid),
                    )
                    interview_event(db, now, action.uid, "cancelled", action.reason)
                elif isinstance(action, KeepInterview):
                    # cancelled stays 0: the reason is kept as a note, and to be told only once
                    db.execute(
                        "UPDATE interviews SET cancel_reason = ?, updated_at = ? WHERE uid = ?",
                        (action.reason, _ts(now), action.uid),
                    )
                    interview_event(db, now, action.uid, "kept", action.reason)
                elif isinstance(action, Replied):
                    changed = db.execute(
                        """UPDATE interviews SET replied_at = ?, reply_from = ?, updated_at = ?
                           WHERE uid = ? AND replied_at IS NULL""",
                        (_ts(action.at), action.sender, _ts(now), action.uid),
                    ).rowcount
                    if changed:
                        interview_event(db, now, action.uid, "replied", f"reply from {action.sender}")
                elif isinstance(action, Away):
                    db.execute(
                        "UPDATE interviews SET away_until = ?, away_from = ?, updated_at = ? WHERE uid = ?",
                        (_ts(action.until), action.sender, _ts(now), action.uid),
                    )
                    interview_event(db, now, action.uid, "away", f"{action.sender} is away until {action.until.date()}")
                else:
                    raise TypeError(f"not something the store records: {action!r}")

    # ------------------------------------------------------------ conversations

    def index_conversations(self, entries: Iterable[tuple[str, datetime, ThreadHint]]) -> None:
        """Remember real messages exchanged with each address (see conversations.py)."""
        rows = conversations.rows(entries)
        if rows:
            with self.transaction() as db:
                conversations.insert(db, rows)

    def conversation(self, addresses: Iterable[str], before: datetime) -> ThreadHint | None:
        return conversations.latest(self.db, addresses, before)

    # ------------------------------------------------------------ follow-ups

    def followups(self, uid: str | None = None) -> list[FollowUp]:
        query = "SELECT * FROM followups"
        rows = (
            self.db.execute(query + " WHERE uid = ? ORDER BY seq", (uid,))
            if uid is not None
            else self.db.execute(query + " ORDER BY uid, seq")
        ).fetchall()
        return [_followup(row) for row in rows]

    def followup(self, uid: str, step: str) -> FollowUp | None:
        row = self.db.execute("SELECT * FROM followups WHERE uid = ? AND step = ?", (uid, step)).fetchone()
        return _followup(row) if row else None

    def save_followup(self, new: FollowUp, now: datetime, detail: str | None = None) -> None:
        """Write one follow-up and, if its state changed, the transition; one transaction."""
        with self.transaction() as db:
            _write_followup(db, new, now, detail)

    def transitions(self, uid: str | None = None) -> list[tuple[datetime, str, str, str | None, str, str | None]]:
        query = "SELECT at, uid, step, from_state, to_state, detail FROM transitions"
        rows = (
            self.db.execute(query + " WHERE uid = ? ORDER BY id", (uid,))
            if uid
            else self.db.execute(query + " ORDER BY id")
        ).fetchall()
        return [
            (datetime.fromisoformat(r["at"]), r["uid"], r["step"], r["from_state"], r["to_state"], r["detail"])
            for r in rows
        ]

    # ------------------------------------------------------------ cursors and health

    def cursor(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return row["value"] if row else None

    def set_cursor(self, name: str, value: str | None) -> None:
        with self.transaction() as db:
            if value is None:
                db.execute("DELETE FROM cursors WHERE name = ?", (name,))
            else:
                db.execute("INSERT OR REPLACE INTO cursors (name, value) VALUES (?, ?)", (name, value))

    def health(self) -> list[Health]:
        rows = self.db.execute("SELECT component, kind, problem, since FROM health ORDER BY since").fetchall()
        return [Health(r["component"], r["kind"], r["problem"], datetime.fromisoformat(r["since"])) for r in rows]

    def set_health(self, component: str, kind: str, problem: str, now: datetime) -> bool:
        """Record a problem; return True if it is news: a new problem, or a different one
        for the same component (so an outage is logged once, not every pass)."""
        with self.transaction() as db:
            row = db.execute("SELECT kind, problem FROM health WHERE component = ?", (component,)).fetchone()
            if row is not None and (row["kind"], row["problem"]) == (kind, problem):
                return False
            db.execute(
                "INSERT OR REPLACE INTO health (component, kind, problem, since) VALUES (?, ?, ?, COALESCE((SELECT since FROM health WHERE component = ? AND kind = ?), ?))",
                (component, kind, problem, component, kind, _ts(now)),
            )
            return True

    def clear_health(self, component: str) -> bool:
        """Forget a problem; return True if there was one (so recovery is logged once)."""
        with self.transaction() as db:
            return db.execute("DELETE FROM health WHERE component = ?", (component,)).rowcount > 0


def _interview(r: sqlite3.Row) -> InterviewRecord:
    interview = Interview(
        uid=r["uid"],
        title=r["title"],
        start=datetime.fromisoformat(r["start_at"]),
        end=datetime.fromisoformat(r["end_at"]),
        contacts=tuple(Contact(e, n) for e, n in json.loads(r["contacts"])),
        company=r["company"],
        role=r["role"],
        notes=r["notes"],
        cancelled=bool(r["cancelled"]),
        event_uid=r["event_uid"],
        recurrence_id=_dt(r["recurrence_id"]),
    )
    return InterviewRecord(
        interview=interview,
        skipped=bool(r["skipped"]),
        cancel_reason=r["cancel_reason"],
        replied_at=_dt(r["replied_at"]),
        reply_from=r["reply_from"],
        first_seen=_dt(r["first_seen"]),
        away_until=_dt(r["away_until"]),
        away_from=r["away_from"],
    )


def _save_interview(db: sqlite3.Connection, interview: Interview, cancel_reason: str | None, now: datetime) -> None:
    values = {
        "uid": interview.uid,
        "event_uid": interview.event_uid,
        "recurrence_id": _ts(interview.recurrence_id),
        "title": interview.title,
        "start_at": _ts(interview.start),
        "end_at": _ts(interview.end),
        "contacts": json.dumps([[c.email, c.name] for c in interview.contacts]),
        "company": interview.company,
        "role": interview.role,
        "notes": interview.notes,
        "cancelled": int(interview.cancelled),
        "cancel_reason": cancel_reason if interview.cancelled else None,
        "updated_at": _ts(now),
        "first_seen": _ts(now),
    }
    keep = {"uid", "first_seen"}  # set once, when first seen
    db.execute(
        f"""INSERT INTO interviews ({", ".join(values)}) VALUES ({", ".join(":" + k for k in values)})
            ON CONFLICT (uid) DO UPDATE SET {", ".join(f"{k} = excluded.{k}" for k in values if k not in keep)}""",
        values,
    )


def _followup(row: sqlite3.Row) -> FollowUp:
    return FollowUp(
        uid=row["uid"],
        step=row["step"],
        seq=row["seq"],
        state=State(row["state"]),
        due_at=_dt(row["due_at"]),
        window_start=_dt(row["window_start"]),
        window_end=_dt(row["window_end"]),
        message_id=row["message_id"],
        draft_key=row["draft_key"],
        draft_fingerprint=row["draft_fingerprint"],
        drafted_at=_dt(row["drafted_at"]),
        sent_at=_dt(row["sent_at"]),
        sent_evidence_at=_dt(row["sent_evidence_at"]),
        note=row["note"],
        missing_since=_dt(row["missing_since"]),
        stale_at=_dt(row["stale_at"]),
        sent_message_id=row["sent_message_id"],
        sent_references=tuple(json.loads(row["sent_references"] or "[]")),
        sent_subject=row["sent_subject"],
        sent_thread_id=row["sent_thread_id"],
    )


def _write_followup(db: sqlite3.Connection, new: FollowUp, now: datetime, detail: str | None) -> None:
    row = db.execute("SELECT state FROM followups WHERE uid = ? AND step = ?", (new.uid, new.step)).fetchone()
    old_state = row["state"] if row else None
    values = {
        "uid": new.uid,
        "step": new.step,
        "seq": new.seq,
        "state": str(new.state),
        "due_at": _ts(new.due_at),
        "window_start": _ts(new.window_start),
        "window_end": _ts(new.window_end),
        "message_id": new.message_id,
        "draft_key": new.draft_key,
        "draft_fingerprint": new.draft_fingerprint,
        "drafted_at": _ts(new.drafted_at),
        "sent_at": _ts(new.sent_at),
        "sent_evidence_at": _ts(new.sent_evidence_at),
        "note": new.note,
        "missing_since": _ts(new.missing_since),
        "stale_at": _ts(new.stale_at),
        "sent_message_id": new.sent_message_id,
        "sent_references": json.dumps(list(new.sent_references)) if new.sent_references else None,
        "sent_subject": new.sent_subject,
        "sent_thread_id": new.sent_thread_id,
        "updated_at": _ts(now),
    }
    db.execute(
        f"INSERT OR REPLACE INTO followups ({', '.join(values)}) VALUES ({', '.join(':' + k for k in values)})", values
    )
    if old_state != str(new.state):
        db.execute(
            "INSERT INTO transitions (at, uid, step, from_state, to_state, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (_ts(now), new.uid, new.step, old_state, str(new.state), detail),
        )
