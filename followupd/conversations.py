"""The store's conversation index: real messages exchanged with each address, as the
mailbox scans found them. A Maildir cannot be searched, so the conversation a thank-you
joins is looked up here, never by re-reading the folder for each draft."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

from followupd.model import ThreadHint

Row = tuple[str, str, str, str, str]


def rows(entries: Iterable[tuple[str, datetime, ThreadHint]]) -> list[Row]:
    # Times in UTC, so that the text order of the column is the time order.
    return [
        (address, at.astimezone(UTC).isoformat(), hint.in_reply_to, hint.subject, json.dumps(list(hint.references)))
        for address, at, hint in entries
    ]


def insert(db: sqlite3.Connection, found: list[Row]) -> None:
    db.executemany("INSERT OR REPLACE INTO conversations VALUES (?, ?, ?, ?, ?)", found)


def latest(db: sqlite3.Connection, addresses: Iterable[str], before: datetime) -> ThreadHint | None:
    """The latest indexed message exchanged with any of `addresses` before `before`."""
    wanted = sorted({a.lower() for a in addresses})
    if not wanted:
        return None
    row = db.execute(
        f"""SELECT message_id, subject, refs FROM conversations
            WHERE address IN ({", ".join("?" * len(wanted))}) AND at < ? ORDER BY at DESC LIMIT 1""",
        (*wanted, before.astimezone(UTC).isoformat()),
    ).fetchone()
    if row is None:
        return None
    return ThreadHint(row[1], row[0], tuple(json.loads(row[2])))
