"""Threads in the core, with plain values: which message a draft answers, and what a Sent
copy leaves for the next step; and the store's part (columns, the conversation index)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from followupd import policy
from followupd.model import DraftState, FollowUp, State, ThreadHint
from followupd.policy import MailFacts, Transition, threads
from followupd.store import Store

from support.policy_facts import DRAFTED, RECORD, SETTINGS, T
from support.thread_mail import JANE, auto_reply, info, invitation, jane, message, newsletter, scheduling


def test_the_latest_real_message_is_answered_not_invitations_auto_replies_or_lists() -> None:
    day = datetime(2026, 11, 1, 9, tzinfo=UTC)
    mail = [
        info(jane(scheduling("Sun, 01 Nov 2026 09:00:00 +0000")), day),
        info(jane(invitation("Mon, 02 Nov 2026 09:00:00 +0000")), day + timedelta(days=1)),
        info(jane(auto_reply("Mon, 02 Nov 2026 10:00:00 +0000", "away")), day + timedelta(days=1, hours=1)),
        info(jane(newsletter("Mon, 02 Nov 2026 11:00:00 +0000")), day + timedelta(days=1, hours=2)),
    ]
    found = threads.latest(mail, JANE, day + timedelta(days=3))
    assert found == ThreadHint("Interview for the Backend Engineer role", "<sched@acme.io>", ("<intro@acme.io>",))
    # Only messages before the interview; none: nothing to join.
    assert threads.latest(mail, JANE, day) is None
    assert threads.latest(mail, ["someone@else.io"], day + timedelta(days=3)) is None


def test_a_message_the_user_sent_them_counts_too() -> None:
    day = datetime(2026, 11, 1, 9, tzinfo=UTC)
    mine = message(
        "Re: Interview", "<mine@example.org>", "Mon, 02 Nov 2026 09:00:00 +0000", sender="ada@example.org", to=JANE[0]
    )
    mail = [info(jane(scheduling("Sun, 01 Nov 2026 09:00:00 +0000")), day), info(mine, day + timedelta(days=1), "sent")]
    assert threads.latest(mail, JANE, day + timedelta(days=2)).in_reply_to == "<mine@example.org>"  # type: ignore[union-attr]
    entries = threads.index_entries(mail, frozenset({"ada@example.org"}))
    assert [(a, h.in_reply_to) for a, _, h in entries] == [
        ("jane@acme.io", "<sched@acme.io>"),
        ("jane@acme.io", "<mine@example.org>"),
    ]


def test_the_sent_copy_with_a_new_message_id_is_what_the_check_in_answers() -> None:
    # A client that gives the sent message a Message-ID of its own: the copy in Sent,
    # to the same people after the draft was made, is recorded when the draft leaves.
    copy = message(
        "Re: Interview for the Backend Engineer role",
        "<CAsent@mail.example.org>",
        "Thu, 05 Nov 2026 16:00:00 +0000",
        sender="ada@example.org",
        to="jane@acme.io",
        extra="In-Reply-To: <sched@acme.io>\r\nReferences: <intro@acme.io> <sched@acme.io>\r\n",
    )
    sent = info(copy, T + timedelta(hours=1), "sent", thread_id="t-42")
    now = T + timedelta(hours=2)
    facts = MailFacts(drafts={DRAFTED.key: DraftState.GONE}, messages=[sent])
    out = list(policy.reconcile([RECORD], [DRAFTED], facts, SETTINGS, now))
    final = [a for a in out if isinstance(a, Transition)][-1].after
    assert final.state == State.SENT
    hint = threads.answer(final)
    assert hint == ThreadHint(
        "Re: Interview for the Backend Engineer role",
        "<CAsent@mail.example.org>",
        ("<intro@acme.io>", "<sched@acme.io>", "<CAsent@mail.example.org>"),
        "t-42",
    )


def test_nothing_to_answer_before_the_previous_step_was_sent() -> None:
    assert threads.answer(None) is None
    assert threads.answer(DRAFTED) is None


def test_the_store_keeps_the_sent_copy_and_the_conversation_index(tmp_path: Path) -> None:
    store = Store.open(tmp_path, T)
    store.save_interview(RECORD.interview, T)
    sent = DRAFTED.replace(
        state=State.SENT,
        sent_at=T,
        sent_message_id="<CAsent@x>",
        sent_references=("<a@x>", "<b@x>"),
        sent_subject="Re: Hi",
        sent_thread_id="t1",
    )
    store.record([Transition(DRAFTED, sent, "sent by you")], T)
    again = Store.open(tmp_path, T).followup("iv", "thank-you")
    assert isinstance(again, FollowUp)
    assert (again.sent_message_id, again.sent_references, again.sent_subject, again.sent_thread_id) == (
        "<CAsent@x>",
        ("<a@x>", "<b@x>"),
        "Re: Hi",
        "t1",
    )
    hint = ThreadHint("Hi", "<m1@acme.io>", ("<m0@acme.io>",))
    store.index_conversations([("jane@acme.io", T - timedelta(days=2), hint)])
    store.index_conversations([("jane@acme.io", T + timedelta(days=2), ThreadHint("Later", "<m2@acme.io>"))])
    assert store.conversation(["Jane@acme.io"], T) == hint
    assert store.conversation(["tom@acme.io"], T) is None


def test_a_database_from_before_threads_is_migrated_with_its_rows(tmp_path: Path) -> None:
    import sqlite3

    from followupd.store import MIGRATIONS

    db = sqlite3.connect(tmp_path / "state.sqlite3")
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    before = [m for m in MIGRATIONS if "sent_message_id" not in m and "conversations" not in m]
    for migration in before:
        db.executescript(migration)
    db.execute("INSERT INTO schema_version VALUES (?)", (len(before),))
    db.execute("INSERT INTO meta VALUES ('created_at', ?)", (T.isoformat(),))
    db.execute(
        "INSERT INTO interviews (uid, event_uid, title, start_at, end_at, contacts, first_seen, updated_at)"
        " VALUES ('iv', 'iv', 'Interview', ?, ?, '[[\"jane@acme.io\", null]]', ?, ?)",
        (RECORD.interview.start.isoformat(), RECORD.interview.end.isoformat(), T.isoformat(), T.isoformat()),
    )
    db.execute(
        "INSERT INTO followups (uid, step, seq, state, message_id, sent_at, updated_at)"
        " VALUES ('iv', 'thank-you', 0, 'sent', '<followupd.x@example.org>', ?, ?)",
        (T.isoformat(), T.isoformat()),
    )
    db.commit()
    db.close()
    store = Store.open(tmp_path, T)
    assert store.schema_version == len(MIGRATIONS)
    (f,) = store.followups()
    assert (f.state, f.sent_message_id, f.sent_references, f.sent_thread_id) == (State.SENT, None, (), None)
    (record,) = store.interviews()
    assert record.away_until is None and record.away_from is None
    assert threads.answer(f) is None  # nothing recorded then: the check-in starts a new thread
    assert store.conversation(["jane@acme.io"], T) is None
