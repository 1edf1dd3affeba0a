"""What the mailbox's news means for each follow-up: recovered, sent, dismissed,
replied. Facts in (see `MailFacts`), actions out; no I/O and no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from followupd.model import (
    DERIVED,
    DraftRef,
    DraftState,
    FollowUp,
    InterviewRecord,
    Located,
    MessageInfo,
    State,
    by_uid,
)
from followupd.policy.actions import (
    CreateDraft,
    DeleteDraft,
    Key,
    MailAction,
    MailFacts,
    Replied,
    Settings,
    Transition,
    retime,
)
from followupd.policy.away import away
from followupd.policy.plan import Decision
from followupd.policy.replies import recipients, reply_to_interview, senders
from followupd.policy.threads import sent_as

OPEN = frozenset({State.PLANNED, State.DRAFTING, State.DRAFTED, State.NEEDS_CONTACT})
# States a step can be in when its own Sent copy turns up.
_SENDABLE = frozenset({State.DRAFTED, State.DISMISSED, State.PLANNED, State.MISSED, State.CANCELLED})


def active(record: InterviewRecord, followups: Sequence[FollowUp], steps: int) -> bool:
    """Still waiting for something: a reply would change what happens next."""
    if record.replied_at is not None or record.skipped or record.interview.cancelled:
        return False
    return not followups or any(f.state in OPEN for f in followups) or len(followups) < steps


def intent(f: FollowUp, message_id: str) -> Transition:
    """Record the deterministic Message-ID before the draft exists (exactly once)."""
    return Transition(f, f.replace(state=State.DRAFTING, message_id=message_id, note=None), "creating the draft")


def drafted(f: FollowUp, ref: DraftRef, now: datetime, why: str) -> Transition:
    return Transition(
        f,
        f.replace(
            state=State.DRAFTED,
            message_id=ref.message_id,
            draft_key=ref.key,
            draft_fingerprint=ref.fingerprint,
            drafted_at=f.drafted_at or now,
            note=None,
        ),
        why,
    )


def found(f: FollowUp, located: Located, now: datetime, why: str) -> Transition:
    """Where a step's Message-ID was found decides its state; one rule for a crashed
    pass's recovery and for the look-up just before creating a draft. A copy in Sent
    keeps its own time when plausible: not before the step's window opened (the
    draft may be older than this store) and not in the future.

    A draft found in Drafts was written by an earlier pass that did not record it,
    and the user may have edited it since: how it was created is unknown, so it gets
    no fingerprint and is never taken as untouched, hence never deleted."""
    if located.folder == "sent":
        floor = f.drafted_at or f.window_start
        sent = f.replace(state=State.SENT, sent_at=retime(located.arrived, floor, now), note=None)
        return Transition(f, sent, "found already sent")
    assert located.ref is not None
    return drafted(f, DraftRef(located.ref.message_id, located.ref.key, ""), now, why)


def questions(
    followups: Iterable[FollowUp], drafts: Mapping[Key, DraftState], messages: Sequence[MessageInfo]
) -> list[Key]:
    """The drafts that left Drafts and that no Sent copy with their Message-ID explains:
    the engine asks the mailbox `was_sent` about these before calling `reconcile`."""
    sent_ids = {m.message_id for m in messages if m.folder == "sent" and m.message_id}
    return [
        f.key
        for f in followups
        if f.state == State.DRAFTED and drafts.get(f.key) == DraftState.GONE and f.message_id not in sent_ids
    ]


def settle(decisions: Sequence[Decision], followups: Mapping[Key, FollowUp]) -> list[Transition | CreateDraft]:
    """The planner's decisions as transitions of the derived states, then the drafts to make."""
    out: list[Transition | CreateDraft] = []
    for d in decisions:
        old = followups.get((d.uid, d.step))
        if old is not None and old.state not in DERIVED:
            continue  # only the mailbox's news moves a step the mailbox has seen
        new = (old or FollowUp(d.uid, d.step, d.seq, d.state)).replace(
            seq=d.seq,
            state=d.state,
            due_at=d.due_at,
            window_start=d.window_start,
            window_end=d.window_end,
            note=d.note,
        )
        if new != old:
            out.append(Transition(old, new, d.note))
    out.extend(CreateDraft(d.uid, d.step) for d in decisions if d.draft)
    return out


class _Work:
    """The follow-ups as the decisions so far leave them, and those decisions in order."""

    def __init__(self, followups: Iterable[FollowUp]) -> None:
        self.fs = {f.key: f for f in followups}
        self.out: list[MailAction] = []

    def move(self, new: FollowUp, why: str | None) -> None:
        old = self.fs.get(new.key)
        if new != old:
            self.fs[new.key] = new
            self.out.append(Transition(old, new, why))

    def take(self, t: Transition) -> None:
        self.move(t.after, t.why)


def reconcile(
    records: Sequence[InterviewRecord],
    followups: Iterable[FollowUp],
    facts: MailFacts,
    settings: Settings,
    now: datetime,
) -> list[MailAction]:
    """Decide what the mailbox's news of this pass does to every follow-up.

    In order: steps a crashed pass left in `drafting`; Sent copies (ours by Message-ID,
    or mail to the same people written after the draft); replies; drafts that left
    Drafts; drafts of interviews that got a reply.
    """
    w = _Work(followups)
    recovered: set[Key] = set()
    for key, f in list(w.fs.items()):
        if f.state != State.DRAFTING:
            continue
        located = facts.located.get(key)
        if located is None:
            # Nothing was written: plan it again (it is re-drafted if still due).
            w.move(f.replace(state=State.PLANNED), "the last attempt did not finish")
        else:
            w.take(found(f, located, now, "found in Drafts after an interrupted pass"))
            recovered.add(key)

    grouped = by_uid(w.fs.values())
    waiting = [r for r in records if active(r, grouped.get(r.uid, []), len(settings.steps))]
    contacts = {r.uid: {c.email for c in r.interview.contacts} for r in records}
    replied = {r.uid for r in records if r.replied_at is not None}
    for message in facts.messages:
        if message.folder == "sent":
            _sent_copy(w, message, contacts, now)
            continue
        for record in waiting:
            if record.uid not in replied and reply_to_interview(
                message, record.interview, settings.me, settings.free_mail
            ):
                replied.add(record.uid)
                sender = (senders(message) or ["?"])[0]
                w.out.append(Replied(record.uid, message.when or now, sender, message.header("subject")))

    if facts.away_texts:
        w.out += away(waiting, facts.messages, facts.away_texts, settings.languages)

    for key, state in facts.drafts.items():
        f = w.fs[key]
        if f.state != State.DRAFTED:
            continue
        if state == DraftState.GONE:
            _gone(w, f, facts.verdicts.get(key), settings, now)
        elif f.missing_since is not None:
            w.move(f.replace(missing_since=None, note=None), "back in Drafts")
    for f in list(w.fs.values()):
        # A draft recovered just now is there, as created or not: we cannot tell.
        state = facts.drafts.get(f.key, DraftState.EDITED if f.key in recovered else DraftState.GONE)
        if f.state != State.DRAFTED or state == DraftState.GONE:
            continue  # gone and not yet judged: nothing to stop or to call stale
        if f.uid in replied:
            _stop_draft(w, f, state, settings)
        elif f.stale_at is None and f.window_end is not None and now > f.window_end:
            _stale(w, f, state, settings, now)
    return w.out


def _sent_copy(w: _Work, message: MessageInfo, contacts: Mapping[str, set[str]], now: datetime) -> None:
    to = set(recipients(message))
    mid = message.message_id
    # The Sent copy of one of our drafts is evidence for that draft only, not for
    # another draft to the same people.
    ours = mid is not None and any(f.message_id == mid for f in w.fs.values())
    when = message.when
    for f in list(w.fs.values()):
        if mid is not None and mid == f.message_id and f.state in _SENDABLE:
            # Our own Message-ID in Sent: sent, whatever the store thought (a draft
            # written by a pass that died before recording it, say).
            sent_at = retime(when, f.drafted_at or f.window_start, now)
            w.move(sent_as(f, message).replace(state=State.SENT, sent_at=sent_at, note=None), "sent by you")
            continue
        if f.state not in (State.DRAFTED, State.DISMISSED) or f.drafted_at is None:
            continue
        related = not ours and bool(to & contacts.get(f.uid, set())) and when is not None and when >= f.drafted_at
        if not related:
            continue
        sent_at = retime(when, f.drafted_at, now)
        if f.state == State.DISMISSED:
            w.move(sent_as(f, message).replace(state=State.SENT, sent_at=sent_at, note=None), "sent by you")
        elif f.sent_evidence_at is None:
            # A message to them after the draft was made: if our draft leaves Drafts,
            # this is what became of it (Gmail gives the sent copy a new Message-ID).
            w.move(sent_as(f, message).replace(sent_evidence_at=sent_at), None)


WAITING = "left Drafts; waiting to see it in Sent"
STALE = "stale: still unsent after its window closed"


def _gone(w: _Work, f: FollowUp, verdict: datetime | bool | None, settings: Settings, now: datetime) -> None:
    if verdict is True or isinstance(verdict, datetime):
        when = verdict if isinstance(verdict, datetime) else None
        w.move(f.replace(state=State.SENT, sent_at=retime(when, f.drafted_at, now), note=None), "sent by you")
    elif verdict is None and f.sent_evidence_at is not None:
        w.move(f.replace(state=State.SENT, sent_at=f.sent_evidence_at, note=None), "sent by you")
    elif f.missing_since is None or now <= f.missing_since:
        # Sync tools move Drafts and Sent at different times: a Sent copy may follow.
        w.move(f.replace(missing_since=now, note=WAITING), None)
    elif now >= f.missing_since + settings.dismiss_after:
        note = "you deleted the draft; it will not be re-created"
        w.move(f.replace(state=State.DISMISSED, note=note), "draft deleted by you")


def _stale(w: _Work, f: FollowUp, state: DraftState, settings: Settings, now: datetime) -> None:
    """Its window closed and the draft is still there, unsent: say so, once."""
    kept = Transition(f, f.replace(stale_at=now, note=STALE), "stale")
    if settings.on_stale == "delete-untouched" and state == DraftState.UNTOUCHED and f.draft_fingerprint:
        note = "stale: its window closed before you sent it; the untouched draft was removed"
        done = Transition(f, f.replace(state=State.DISMISSED, stale_at=now, note=note), "stale")
        w.fs[f.key] = done.after
        w.out.append(DeleteDraft(f.ref, done, kept))
    else:
        w.take(kept)


def _stop_draft(w: _Work, f: FollowUp, state: DraftState, settings: Settings) -> None:
    edited = "they replied first; your edited draft was kept"
    if not f.draft_fingerprint:
        edited = "they replied first; the draft was kept (it may have been edited before followupd recorded it)"
    if settings.on_reply == "delete-untouched" and state == DraftState.UNTOUCHED and f.draft_fingerprint:
        removed = "they replied first; your untouched draft was removed"
        done = Transition(f, f.replace(state=State.REPLIED, note=removed), removed)
        kept = Transition(f, f.replace(state=State.REPLIED, note=edited), edited)
        w.fs[f.key] = done.after
        w.out.append(DeleteDraft(f.ref, done, kept))
        return
    note = edited if state == DraftState.EDITED else 'they replied first; the draft was kept (on_reply = "keep")'
    w.move(f.replace(state=State.REPLIED, note=note), note)
