"""An idle pass on IMAP costs the same few commands however many drafts are waiting
(bench/api_cost.py measures it): the drafts' states come from one listing of Drafts,
not one download per draft."""

from __future__ import annotations

import imaplib
from pathlib import Path
from typing import Any

import pytest

from followupd.model import DraftRef, DraftState

from support.imap_mailbox import ImapHarness
from support.mailbox_contract import T0, draft
from support.servers import ImapAccount


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """A tag for each IMAP command sent (imaplib tags every command, imapclient's too)."""
    tags: list[bytes] = []
    real = imaplib.IMAP4._new_tag

    def tagging(self: Any) -> bytes:
        tags.append(real(self))
        return tags[-1]

    monkeypatch.setattr(imaplib.IMAP4, "_new_tag", tagging)
    return tags


def idle_pass(harness: ImapHarness, refs: list[DraftRef], cursor: str | None) -> tuple[list[DraftState], str]:
    states = [harness.mailbox.draft_state(ref) for ref in refs]
    changes = harness.mailbox.changes(cursor, T0)
    assert changes.cursor is not None
    return states, changes.cursor


@pytest.mark.parametrize("waiting", [1, 8])
def test_idle_pass_commands_do_not_grow_with_drafts(
    imap_account: ImapAccount, tmp_path: Path, commands: list[bytes], waiting: int
) -> None:
    harness = ImapHarness(imap_account, tmp_path / "home")
    try:
        refs = [harness.mailbox.create_draft(draft(n)) for n in range(1, waiting + 1)]
        _, cursor = idle_pass(harness, refs, None)
        commands.clear()
        states, cursor = idle_pass(harness, refs, cursor)
        assert states == [DraftState.UNTOUCHED] * waiting
        # EXAMINE Drafts + UID SEARCH, then EXAMINE INBOX and Sent
        assert len(commands) == 4
    finally:
        harness.close()


def test_changed_drafts_are_still_told_apart(imap_account: ImapAccount, tmp_path: Path) -> None:
    harness = ImapHarness(imap_account, tmp_path / "home")
    try:
        refs = [harness.mailbox.create_draft(draft(n)) for n in range(1, 5)]
        _, cursor = idle_pass(harness, refs, None)
        harness.edit_draft(refs[1].message_id, "Hi Jane,\n\nMine now.\n", expunge=False)
        harness.send_draft(refs[2].message_id, T0)
        harness.delete_draft(refs[3].message_id, expunge=False)
        states, _ = idle_pass(harness, refs, cursor)
        assert states == [DraftState.UNTOUCHED, DraftState.EDITED, DraftState.GONE, DraftState.GONE]
    finally:
        harness.close()
