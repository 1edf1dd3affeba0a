"""The store as the core's recorder: a schema-1 database migrates in place with its
rows intact (read by column name), and every state change leaves a transition row,
an interview's own changes (skip, reply, cancel) included."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from followupd.model import Contact, FollowUp, Interview, State
from followupd.policy import CancelInterview, Replied, Transition
from followupd.store import MIGRATIONS, Store

NOW = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
INTERVIEW = Interview("iv", "Interview", NOW - timedelta(days=1), NOW - timedelta(hours=23), (Contact("jane@acme.io"),))


def test_a_schema_1_database_is_migrated_with_its_rows(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.executescript(MIGRATIONS[0])
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute("INSERT INTO meta VALUES ('created_at', ?)", (NOW.isoformat(),))
    db.execute(
        "INSERT INTO interviews (uid, event_uid, title, start_at, end_at, contacts, first_seen, updated_at)"
        " VALUES ('iv', 'iv', 'Interview', ?, ?, '[[\"jane@acme.io\", null]]', ?, ?)",
        (INTERVIEW.start.isoformat(), INTERVIEW.end.isoformat(), NOW.isoformat(), NOW.isoformat()),
    )
    db.execute(
        "INSERT INTO followups (uid, step, seq, state, message_id, drafted_at, note, updated_at)"
        " VALUES ('iv', 'thank-you', 0, 'drafted', '<followupd.x@example.org>', ?, 'a note', ?)",
        (NOW.isoformat(), NOW.isoformat()),
    )
    db.commit()
    db.close()
    store = Store.open(tmp_path, NOW)
    try:
        assert store.schema_version == len(MIGRATIONS)
        (f,) = store.followups()
        assert (f.state, f.message_id, f.drafted_at, f.note) == (
            State.DRAFTED,
            "<followupd.x@example.org>",
            NOW,
            "a note",
        )
        assert f.missing_since is None and f.stale_at is None
        store.save_followup(f.replace(missing_since=NOW), NOW)
        assert store.followup("iv", "thank-you") == f.replace(missing_since=NOW)
    finally:
        store.close()


def test_every_change_leaves_a_transition_row(tmp_path: Path) -> None:
    store = Store.open(tmp_path, NOW)
    try:
        store.save_interview(INTERVIEW, NOW)
        planned = FollowUp("iv", "thank-you", 0, State.PLANNED)
        store.record([Transition(None, planned, "planned")], NOW)
        store.set_skipped("iv", True, NOW)
        store.set_skipped("iv", False, NOW)
        store.record(
            [Replied("iv", NOW, "jane@acme.io", "Re: hi"), Transition(planned, planned.replace(state=State.REPLIED))],
            NOW,
        )
        store.record([Replied("iv", NOW, "jane@acme.io", "again")], NOW)  # the first reply counts, once
        store.record([CancelInterview("iv", "the event was cancelled")], NOW)
        rows = [(step, old, new, detail) for _, _, step, old, new, detail in store.transitions("iv")]
        assert rows == [
            ("thank-you", None, "planned", "planned"),
            ("", None, "skipped", "by you"),
            ("", None, "resumed", "by you"),
            ("", None, "replied", "reply from jane@acme.io"),
            ("thank-you", "planned", "replied", None),
            ("", None, "cancelled", "the event was cancelled"),
        ]
    finally:
        store.close()
