"""The SQLite store: the single source of truth for interviews, follow-ups and cursors.

Every state change is one short transaction. The schema has a version and real
migrations, so an upgrade never asks the user to delete their state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from followupd.errors import FollowupdError, TransientError
from followupd.model import Contact, Interview, State

log = logging.getLogger(__name__)

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE interviews (
        uid TEXT PRIMARY KEY,
        event_uid TEXT NOT NULL,
        recurrence_id TEXT,
        title TEXT NOT NULL,
        start_at TEXT NOT NULL,
        end_at TEXT NOT NULL,
        contacts TEXT NOT NULL,
        company TEXT,
        role TEXT,
        notes TEXT,
        cancelled INTEGER NOT NULL DEFAULT 0,
        cancel_reason TEXT,
        skipped INTEGER NOT NULL DEFAULT 0,
        replied_at TEXT,
        reply_from TEXT,
        first_seen TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE followups (
        uid TEXT NOT NULL REFERENCES interviews(uid),
        step TEXT NOT NULL,
        seq INTEGER NOT NULL,
        state TEXT NOT NULL,
        due_at TEXT,
        window_start TEXT,
        window_end TEXT,
        message_id TEXT,
        draft_key TEXT,
        draft_fingerprint TEXT,
        drafted_at TEXT,
        sent_at TEXT,
        sent_evidence_at TEXT,
        note TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (uid, step)
    );
    CREATE INDEX followups_state ON followups(state);
    CREATE TABLE cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE transitions (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        uid TEXT NOT NULL,
        step TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        detail TEXT
    );
    CREATE TABLE health (
        component TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        problem TEXT NOT NULL,
        since TEXT NOT NULL
    );
    """,
)


@dataclass(frozen=True)
class InterviewRecord:
    interview: Interview
    skipped: bool = False
    cancel_reason: str | None = None
    replied_at: datetime | None = None
    reply_from: str | None = None
    first_seen: datetime | None = None

    @property
    def uid(self) -> str:
        return self.interview.uid


@dataclass(frozen=True)
class FollowUp:
    uid: str
    step: str
    seq: int
    state: State
    due_at: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    message_id: str | None = None
    draft_key: str | None = None
    draft_fingerprint: str | None = None
    drafted_at: datetime | None = None
    sent_at: datetime | None = None
    sent_evidence_at: datetime | None = None
    note: str | None = None

    def replace(self, **changes: object) -> FollowUp:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Health:
    component: str
    kind: str  # "auth" | "transient" | "error"
    problem: str
    since: datetime


class StoreError(FollowupdError):
    """The state database cannot be opened or read."""


class StoreWriteError(StoreError, TransientError):
    """The state database cannot be written (disk full, read-only, locked). Nothing is
    lost: the transaction was rolled back, and the next pass after the cause is gone
    carries on from the last committed state."""


def _write_error(path: Path, exc: sqlite3.Error | OSError) -> StoreWriteError:
    text = str(exc).lower()
    if "i/o" in text and _no_space(path.parent):
        text = "full"  # SQLite reports a failed WAL write on a full disk as an I/O error
    if "full" in text or "no space" in text:
        why = "the disk is full; free some space"
    elif "readonly" in text or "read-only" in text:
        why = "it is read-only; make it writable"
    elif "locked" in text or "busy" in text:
        why = "another program holds it locked"
    else:
        why = f"{exc}"
    return StoreWriteError(
        f"cannot write the state database {path}: {why}. Nothing is lost; followupd carries on when it can write again"
    )


def _no_space(directory: Path) -> bool:
    try:
        return os.statvfs(directory).f_bavail == 0
    except OSError:
        return False


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)


def _private_file(path: Path) -> None:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


class Store:
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
                _private_dir(state_dir)
                _private_file(path)
                db = sqlite3.connect(path, isolation_level=None, timeout=30)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.row_factory = sqlite3.Row
        except sqlite3.OperationalError as exc:
            raise _write_error(path, exc) from None
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the state database {path}: {exc}") from None
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.ENOSPC, errno.EDQUOT):
                raise _write_error(path, exc) from None
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
            version = row[0] if row else 0
            if version > len(MIGRATIONS):
                raise StoreError(f"{self.path} was written by a newer followupd (schema {version}); upgrade followupd")
            for number in range(version, len(MIGRATIONS)):
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
        return self.db.execute("SELECT version FROM schema_version").fetchone()[0]

    @property
    def created_at(self) -> datetime:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'created_at'").fetchone()
        return datetime.fromisoformat(row[0])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _write_error(self.path, exc) from None
        try:
            yield self.db
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise _write_error(self.path, exc) from None
        except BaseException:
            self._rollback()
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise _write_error(self.path, exc) from None

    def _rollback(self) -> None:
        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                log.debug("rollback failed", exc_info=True)

    # ------------------------------------------------------------ interviews

    def interviews(self) -> list[InterviewRecord]:
        rows = self.db.execute("SELECT * FROM interviews ORDER BY start_at, uid").fetchall()
        return [self._interview(row) for row in rows]

    def interview(self, uid: str) -> InterviewRecord | None:
        row = self.db.execute("SELECT * FROM interviews WHERE uid = ?", (uid,)).fetchone()
        return self._interview(row) if row else None

    def _interview(self, r: sqlite3.Row) -> InterviewRecord:
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
        )

    def save_interview(self, interview: Interview, now: datetime, cancel_reason: str | None = None) -> None:
        """Insert or update what the calendar says; user decisions (skip, reply) stay."""
        contacts = json.dumps([[c.email, c.name] for c in interview.contacts])
        values = (
            interview.event_uid,
            _ts(interview.recurrence_id),
            interview.title,
            _ts(interview.start),
            _ts(interview.end),
            contacts,
            interview.company,
            interview.role,
            interview.notes,
            int(interview.cancelled),
            cancel_reason if interview.cancelled else None,
            _ts(now),
        )
        with self.transaction() as db:
            db.execute(
                """INSERT INTO interviews (event_uid, recurrence_id, title, start_at, end_at, contacts,
                       company, role, notes, cancelled, cancel_reason, updated_at, uid, first_seen)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (uid) DO UPDATE SET event_uid = excluded.event_uid,
                       recurrence_id = excluded.recurrence_id, title = excluded.title,
                       start_at = excluded.start_at, end_at = excluded.end_at,
                       contacts = excluded.contacts, company = excluded.company, role = excluded.role,
                       notes = excluded.notes, cancelled = excluded.cancelled,
                       cancel_reason = excluded.cancel_reason, updated_at = excluded.updated_at""",
                (*values, interview.uid, _ts(now)),
            )

    def mark_cancelled(self, uid: str, reason: str, now: datetime) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE interviews SET cancelled = 1, cancel_reason = ?, updated_at = ? WHERE uid = ?",
                (reason, _ts(now), uid),
            )

    def set_skipped(self, uid: str, skipped: bool, now: datetime) -> None:
        with self.transaction() as db:
            db.execute("UPDATE interviews SET skipped = ?, updated_at = ? WHERE uid = ?", (int(skipped), _ts(now), uid))

    def record_reply(self, uid: str, at: datetime, sender: str, now: datetime) -> None:
        with self.transaction() as db:
            db.execute(
                """UPDATE interviews SET replied_at = ?, reply_from = ?, updated_at = ?
                   WHERE uid = ? AND replied_at IS NULL""",
                (_ts(at), sender, _ts(now), uid),
            )

    # ------------------------------------------------------------ follow-ups

    def followups(self, uid: str | None = None) -> list[FollowUp]:
        query = "SELECT * FROM followups"
        rows = (
            self.db.execute(query + " WHERE uid = ? ORDER BY seq", (uid,))
            if uid is not None
            else self.db.execute(query + " ORDER BY uid, seq")
        ).fetchall()
        return [self._followup(row) for row in rows]

    def followup(self, uid: str, step: str) -> FollowUp | None:
        row = self.db.execute("SELECT * FROM followups WHERE uid = ? AND step = ?", (uid, step)).fetchone()
        return self._followup(row) if row else None

    def _followup(self, row: sqlite3.Row) -> FollowUp:
        (uid, step, seq, state, due, ws, we, mid, key, fp, drafted, sent, evidence, note, _updated) = tuple(row)
        return FollowUp(
            uid=uid,
            step=step,
            seq=seq,
            state=State(state),
            due_at=_dt(due),
            window_start=_dt(ws),
            window_end=_dt(we),
            message_id=mid,
            draft_key=key,
            draft_fingerprint=fp,
            drafted_at=_dt(drafted),
            sent_at=_dt(sent),
            sent_evidence_at=_dt(evidence),
            note=note,
        )

    def save_followup(self, new: FollowUp, now: datetime, detail: str | None = None) -> None:
        """Write one follow-up and, if its state changed, the transition; one transaction."""
        with self.transaction() as db:
            row = db.execute("SELECT state FROM followups WHERE uid = ? AND step = ?", (new.uid, new.step)).fetchone()
            old_state = row[0] if row else None
            db.execute(
                """INSERT OR REPLACE INTO followups VALUES
                   (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    new.uid,
                    new.step,
                    new.seq,
                    str(new.state),
                    _ts(new.due_at),
                    _ts(new.window_start),
                    _ts(new.window_end),
                    new.message_id,
                    new.draft_key,
                    new.draft_fingerprint,
                    _ts(new.drafted_at),
                    _ts(new.sent_at),
                    _ts(new.sent_evidence_at),
                    new.note,
                    _ts(now),
                ),
            )
            if old_state != str(new.state):
                db.execute(
                    "INSERT INTO transitions (at, uid, step, from_state, to_state, detail) VALUES (?, ?, ?, ?, ?, ?)",
                    (_ts(now), new.uid, new.step, old_state, str(new.state), detail),
                )

    def transitions(self, uid: str | None = None) -> list[tuple[datetime, str, str, str | None, str, str | None]]:
        query = "SELECT at, uid, step, from_state, to_state, detail FROM transitions"
        rows = (
            self.db.execute(query + " WHERE uid = ? ORDER BY id", (uid,))
            if uid
            else self.db.execute(query + " ORDER BY id")
        ).fetchall()
        return [(datetime.fromisoformat(r[0]), *r[1:]) for r in rows]

    # ------------------------------------------------------------ cursors and health

    def cursor(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_cursor(self, name: str, value: str | None) -> None:
        with self.transaction() as db:
            if value is None:
                db.execute("DELETE FROM cursors WHERE name = ?", (name,))
            else:
                db.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)", (name, value))

    def health(self) -> list[Health]:
        rows = self.db.execute("SELECT component, kind, problem, since FROM health ORDER BY since").fetchall()
        return [Health(c, k, p, datetime.fromisoformat(s)) for c, k, p, s in rows]

    def set_health(self, component: str, kind: str, problem: str, now: datetime) -> bool:
        """Record a problem; return True if it is news: a new problem, or a different one
        for the same component (so an outage is logged once, not every pass)."""
        with self.transaction() as db:
            row = db.execute("SELECT kind, problem FROM health WHERE component = ?", (component,)).fetchone()
            if row is not None and tuple(row) == (kind, problem):
                return False
            db.execute(
                "INSERT OR REPLACE INTO health VALUES (?, ?, ?, COALESCE((SELECT since FROM health WHERE component = ? AND kind = ?), ?))",
                (component, kind, problem, component, kind, _ts(now)),
            )
            return True

    def clear_health(self, component: str) -> bool:
        """Forget a problem; return True if there was one (so recovery is logged once)."""
        with self.transaction() as db:
            return db.execute("DELETE FROM health WHERE component = ?", (component,)).rowcount > 0


class PassLock:
    """An exclusive lock on the state dir, so two processes never run a pass at once."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "lock"
        self._fd: int | None = None

    def acquire(self, wait: bool = True) -> bool:
        try:
            _private_dir(self.path.parent)
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.ENOSPC, errno.EDQUOT):
                raise _write_error(self.path, exc) from None
            raise StoreError(f"cannot use the state directory {self.path.parent}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                os.close(fd)
                return False
            log.info("another followupd pass is running; waiting for it to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> PassLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
