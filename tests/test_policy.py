"""The decision core, rule by rule, with plain values: no store, no mailbox, no clock."""

from __future__ import annotations

import ast
import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

from followupd import policy
from followupd.model import DraftState, FollowUp, InterviewRecord, Located, State
from followupd.policy import DeleteDraft, MailFacts, Transition

from support.policy_facts import DRAFTED, INTERVIEW, RECORD, REF, SETTINGS, T


def run(f: FollowUp, now: datetime, settings: policy.Settings = SETTINGS, **facts: object) -> list[object]:
    return list(policy.reconcile([RECORD], [f], MailFacts(**facts), settings, now))  # type: ignore[arg-type]


def test_found_in_sent_gets_one_time_at_creation_and_at_recovery() -> None:
    planned = DRAFTED.replace(
        state=State.PLANNED, message_id=None, draft_key=None, draft_fingerprint=None, drafted_at=None
    )
    intent = policy.intent(planned, REF.message_id).after
    sent = Located("sent", None, T + timedelta(minutes=3))
    now = T + timedelta(hours=2)
    at_creation = policy.found(intent, sent, now, "draft created").after
    (at_recovery,) = run(intent, now, located={intent.key: sent})
    assert isinstance(at_recovery, Transition)
    assert at_creation.sent_at == at_recovery.after.sent_at == T + timedelta(minutes=3)
    # Before the window opened or in the future: the pass's own time.
    for implausible in (T - timedelta(days=3), now + timedelta(hours=1)):
        assert policy.found(intent, Located("sent", None, implausible), now, "").after.sent_at == now


def test_a_vanished_draft_waits_then_is_dismissed() -> None:
    gone = {DRAFTED.key: DraftState.GONE}
    (first,) = run(DRAFTED, T + timedelta(minutes=5), drafts=gone)
    assert isinstance(first, Transition) and first.new_state == State.DRAFTED and not first.moved
    waiting = first.after
    assert (
        waiting.missing_since == T + timedelta(minutes=5) and waiting.note == "left Drafts; waiting to see it in Sent"
    )
    assert run(waiting, T + timedelta(minutes=19), drafts=gone) == []
    (verdict,) = run(waiting, T + timedelta(minutes=20), drafts=gone)
    assert isinstance(verdict, Transition) and verdict.new_state == State.DISMISSED
    # A was_sent verdict of "sent" wins at once, and so does the Sent copy's evidence.
    (sent,) = run(waiting, T + timedelta(minutes=6), drafts=gone, verdicts={DRAFTED.key: T + timedelta(minutes=1)})
    assert isinstance(sent, Transition) and sent.new_state == State.SENT


def test_stale_edited_draft_is_never_deleted() -> None:
    late = T + timedelta(hours=25)
    settings = dataclasses.replace(SETTINGS, on_stale="delete-untouched")
    (edited,) = run(DRAFTED, late, settings, drafts={DRAFTED.key: DraftState.EDITED})
    assert isinstance(edited, Transition) and edited.after.stale_at == late
    (untouched,) = run(DRAFTED, late, settings, drafts={DRAFTED.key: DraftState.UNTOUCHED})
    assert isinstance(untouched, DeleteDraft) and untouched.fingerprint == "fp1"
    assert untouched.done.new_state == State.DISMISSED and untouched.kept.new_state == State.DRAFTED
    # Said once: a draft already noted stale is left alone.
    assert run(edited.after, late + timedelta(hours=1), settings, drafts={DRAFTED.key: DraftState.UNTOUCHED}) == []


def test_a_reply_never_deletes_an_edited_draft() -> None:
    reply = policy.reconcile(
        [InterviewRecord(INTERVIEW, replied_at=T)],
        [DRAFTED],
        MailFacts(drafts={DRAFTED.key: DraftState.EDITED}),
        SETTINGS,
        T + timedelta(hours=1),
    )
    assert [type(a) for a in reply] == [Transition]
    assert reply[0].after.state == State.REPLIED and "edited" in (reply[0].after.note or "")  # type: ignore[union-attr]


def test_clean_ups_stop_a_sequence_only_before_its_first_draft() -> None:
    records = {"iv": RECORD}
    complete = (T - timedelta(days=5), T + timedelta(days=60))
    before = policy.calendar(records, {}, [], (), complete, SETTINGS)
    assert [type(a).__name__ for a in before] == ["CancelInterview"]
    after = policy.calendar(records, {"iv": [DRAFTED]}, [], (), complete, SETTINGS)
    assert [type(a).__name__ for a in after] == ["KeepInterview"]
    told = InterviewRecord(INTERVIEW, cancel_reason=after[0].reason)  # type: ignore[union-attr]
    assert (
        policy.calendar({"iv": told}, {"iv": [DRAFTED]}, [], ("iv",), complete, SETTINGS)[0].reason
        != told.cancel_reason
    )  # type: ignore[union-attr]
    assert policy.calendar({"iv": told}, {"iv": [DRAFTED]}, [], (), complete, SETTINGS) == []


IO = {"sqlite3", "fcntl", "socket", "subprocess", "os", "pathlib", "io", "shutil", "tempfile", "time", "threading"}
CORE_MAY_USE = {"followupd.model", "followupd.policy"}


def test_the_core_does_no_io_and_reads_no_clock() -> None:
    core = Path(policy.__file__).parent
    for path in sorted(core.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in IO, f"{path.name} imports {name}"
                if name.startswith("followupd"):
                    assert any(name == m or name.startswith(m + ".") for m in CORE_MAY_USE), f"{path.name}: {name}"
        for clock in (".now(", "utcnow(", ".today(", "time.time"):
            assert clock not in source, f"{path.name} reads the clock ({clock})"
