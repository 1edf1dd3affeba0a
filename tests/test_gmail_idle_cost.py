"""A long-running process with drafts waiting pays one history.list per idle pass, not a
drafts.list too (bench/api_cost.py measures it), and still sees every change the user
makes to a draft at the next pass."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from followupd.mailboxes.gmail import GmailMailbox
from followupd.model import DraftRef, DraftState

from support.google_emulator import Emulator
from support.google_emulator.fixtures import emulator, gevent, google_config, signed_in  # noqa: F401 - fixture
from support.mailbox_contract import T0, draft, raw_mail


@pytest.fixture
def gmail(tmp_path: Path, emulator: Emulator) -> Iterator[GmailMailbox]:  # noqa: F811
    config, api = signed_in(google_config(tmp_path, emulator, calendar="ics"), emulator)
    mailbox = GmailMailbox(config, None, api=api)  # type: ignore[arg-type]
    yield mailbox
    mailbox.close()


def a_pass(gmail: GmailMailbox, refs: list[DraftRef], cursor: str | None) -> tuple[list[DraftState], str]:
    """What the engine asks of a mailbox in one pass: every draft's state, then new mail."""
    states = [gmail.draft_state(ref) for ref in refs]
    changes = gmail.changes(cursor, T0)
    assert changes.cursor is not None
    return states, changes.cursor


def test_idle_passes_with_drafts_waiting_cost_one_history_list(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    refs = [gmail.create_draft(draft(n)) for n in range(1, 6)]
    _, cursor = a_pass(gmail, refs, None)
    _, cursor = a_pass(gmail, refs, cursor)  # lists the drafts once more (we wrote some)
    emulator.reset_counts()
    for _ in range(3):
        states, cursor = a_pass(gmail, refs, cursor)
        assert states == [DraftState.UNTOUCHED] * 5
    assert dict(emulator.requests) == {"history.list": 3}


def test_a_draft_changed_between_passes_is_seen_at_the_next(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    refs = [gmail.create_draft(draft(n)) for n in range(1, 5)]
    _, cursor = a_pass(gmail, refs, None)
    _, cursor = a_pass(gmail, refs, cursor)
    emulator.edit_draft(refs[1].message_id, "Hi Jane,\n\nRewritten by me.\n")
    emulator.send_draft(refs[2].message_id, T0 + timedelta(hours=1))
    emulator.delete_draft(refs[3].message_id)
    emulator.deliver(raw_mail(message_id="<news@acme.io>"), T0 + timedelta(hours=1))
    emulator.reset_counts()
    states, cursor = a_pass(gmail, refs, cursor)
    assert states == [DraftState.UNTOUCHED, DraftState.EDITED, DraftState.GONE, DraftState.GONE]
    # The check found changes: the drafts are listed again and new mail is read after it.
    assert emulator.count("drafts.list") == 1 and emulator.count("history.list") == 2
    states, cursor = a_pass(gmail, refs, cursor)
    assert states == [DraftState.UNTOUCHED, DraftState.EDITED, DraftState.GONE, DraftState.GONE]


@pytest.mark.parametrize("change", ["edit", "send", "delete"])
def test_one_change_right_after_the_mail_was_read(emulator: Emulator, gmail: GmailMailbox, change: str) -> None:  # noqa: F811
    ref = gmail.create_draft(draft())
    _, cursor = a_pass(gmail, [ref], None)
    _, cursor = a_pass(gmail, [ref], cursor)
    {
        "edit": lambda: emulator.edit_draft(ref.message_id, "Mine now.\n"),
        "send": lambda: emulator.send_draft(ref.message_id, T0 + timedelta(hours=1)),
        "delete": lambda: emulator.delete_draft(ref.message_id),
    }[change]()
    states, _ = a_pass(gmail, [ref], cursor)
    assert states == [DraftState.EDITED if change == "edit" else DraftState.GONE]


def test_a_different_cursor_is_read_from_gmail_not_from_the_check(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    ref = gmail.create_draft(draft())
    first = gmail.changes(None, T0).cursor
    assert first is not None
    _, cursor = a_pass(gmail, [ref], first)
    emulator.deliver(raw_mail(message_id="<late@acme.io>"), T0 + timedelta(hours=1))
    assert gmail.draft_state(ref) == DraftState.UNTOUCHED
    # e.g. a restored state database hands an older cursor: the mail since then is read
    assert [m.message_id for m in gmail.changes(first, T0).messages] == ["<late@acme.io>"]


def test_daemon_idle_pass_with_drafted_follow_ups(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    """The engine as the daemon holds it: three drafted thank-yous, then idle passes."""
    from followupd.app import opened
    from followupd.clock import FixedClock

    config, api = signed_in(google_config(tmp_path, emulator), emulator)
    api.close()
    start = T0  # Monday 09:00; the windows open Tuesday 10:00
    for n in range(3):
        emulator.put_event(gevent(f"iv{n}", "Backend Engineer interview at Acme", start + timedelta(minutes=n)))
    clock = FixedClock(start + timedelta(days=1, hours=2))
    emulator.now = clock.now
    with opened(config, clock) as (store, engine):
        for minutes in (0, 5, 10):
            clock.set(start + timedelta(days=1, hours=2, minutes=minutes))
            assert engine.run_pass().problems == []
        assert [f.state for f in store.followups() if f.step == "thank-you"] == ["drafted"] * 3
        emulator.reset_counts()
        clock.set(start + timedelta(days=1, hours=2, minutes=15))
        assert engine.run_pass().problems == []
    assert {k: v for k, v in emulator.requests.items() if v and k != "oauth.token"} == {
        "events.list": 1,
        "history.list": 1,
    }
