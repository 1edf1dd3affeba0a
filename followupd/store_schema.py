"""The state database's schema, as the migrations that build it: each entry is one
version, applied in order in one transaction; `schema_version` is how many ran.
Add, never edit: a database in the field has run the old ones."""

from __future__ import annotations

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
    # 2: a draft's vanishing is judged after a grace period; stale drafts are noted once
    """
    ALTER TABLE followups ADD COLUMN missing_since TEXT;
    ALTER TABLE followups ADD COLUMN stale_at TEXT;
    """,
    # 3: the user's say: notes kept outside
    # the calendar, the interview-ended nudge sent once, the events seen and not
    # followed (for `status --all`), and the user's track/skip corrections.
    """
    CREATE TABLE user_notes (
        uid TEXT PRIMARY KEY,
        role TEXT,
        company TEXT,
        notes TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE nudges (uid TEXT NOT NULL, event TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (uid, event));
    CREATE TABLE ignored_events (
        key TEXT PRIMARY KEY,
        event_uid TEXT NOT NULL,
        title TEXT NOT NULL,
        start_at TEXT NOT NULL,
        end_at TEXT NOT NULL,
        reason TEXT NOT NULL,
        seen_at TEXT NOT NULL
    );
    CREATE TABLE corrections (key TEXT PRIMARY KEY, decision TEXT NOT NULL, at TEXT NOT NULL);
    """,
    # 4: threads: the Sent copy a next step answers; an
    # auto-reply's return date; the conversations seen in scanned mail (for mailboxes
    # that cannot search: Maildir)
    """
    ALTER TABLE followups ADD COLUMN sent_message_id TEXT;
    ALTER TABLE followups ADD COLUMN sent_references TEXT;
    ALTER TABLE followups ADD COLUMN sent_subject TEXT;
    ALTER TABLE followups ADD COLUMN sent_thread_id TEXT;
    ALTER TABLE interviews ADD COLUMN away_until TEXT;
    ALTER TABLE interviews ADD COLUMN away_from TEXT;
    CREATE TABLE conversations (
        address TEXT NOT NULL,
        at TEXT NOT NULL,
        message_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        refs TEXT NOT NULL,
        PRIMARY KEY (address, message_id)
    );
    CREATE INDEX conversations_at ON conversations(address, at);
    """,
)
