"""The core's vocabulary: its settings, the facts it is given and the actions it returns.

All frozen values; the engine builds the facts from the ports and carries out the
actions. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from followupd.model import DraftRef, DraftState, FollowUp, Interview, Located, MessageInfo, State
from followupd.policy.plan import Schedule, StepWindow

Key = tuple[str, str]  # (interview uid, step name)


@dataclass(frozen=True)
class Settings:
    """The user's choices the core decides with, as plain values (see followupd/config)."""

    steps: tuple[StepWindow, ...]
    schedule: Schedule
    me: frozenset[str]
    started: datetime  # when the store was created: windows closed before it are history
    free_mail: tuple[str, ...] = ()
    on_reply: str = "delete-untouched"  # | "keep"
    # A draft gone from Drafts with no Sent copy is taken as deleted only after this
    # long and one more pass: sync tools move Drafts and Sent at different times.
    dismiss_after: timedelta = timedelta(minutes=15)
    on_stale: str = "keep"  # | "delete-untouched"
    languages: tuple[str, ...] = ("en", "de", "fr", "es")  # of auto-replies' return dates


@dataclass(frozen=True)
class MailFacts:
    """What the mailbox said in one pass, gathered by the engine before the core decides.

    `located`: where the Message-ID of each `drafting` step was found (None: nowhere).
    `drafts`: the state of each `drafted` step's draft.
    `messages`: new INBOX and Sent messages since the last pass.
    `verdicts`: `Mailbox.was_sent` for drafts that left Drafts (see `questions`).
    """

    located: Mapping[Key, Located | None] = field(default_factory=dict)
    drafts: Mapping[Key, DraftState] = field(default_factory=dict)
    messages: Sequence[MessageInfo] = ()
    verdicts: Mapping[Key, datetime | bool | None] = field(default_factory=dict)
    # The start of the text of auto-replies from an interview's people (see `away.wanted`),
    # by MessageInfo.key: where they say when they are back.
    away_texts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    """One event of a calendar fetch, as the detector read it."""

    key: str
    interview: Interview | None  # None: not an interview (any more)
    reason: str


# ---------------------------------------------------------------- actions


@dataclass(frozen=True)
class Transition:
    """A follow-up moves (or only its fields change, when the state stays)."""

    before: FollowUp | None
    after: FollowUp
    why: str | None = None

    @property
    def uid(self) -> str:
        return self.after.uid

    @property
    def step(self) -> str:
        return self.after.step

    @property
    def new_state(self) -> State:
        return self.after.state

    @property
    def moved(self) -> bool:
        return self.before is None or self.before.state != self.after.state


@dataclass(frozen=True)
class DeleteDraft:
    """Remove our draft if it is still exactly as created (`ref.fingerprint`); then
    record `done`, or `kept` when the mailbox found it changed and left it."""

    ref: DraftRef
    done: Transition
    kept: Transition

    @property
    def fingerprint(self) -> str:
        return self.ref.fingerprint


@dataclass(frozen=True)
class CreateDraft:
    uid: str
    step: str
    person: str | None = None


@dataclass(frozen=True)
class Replied:
    """A real reply arrived: every later step of the interview stops."""

    uid: str
    at: datetime
    sender: str
    subject: str


@dataclass(frozen=True)
class Away:
    """An auto-reply from one of the interview's people says they are back on `until`
    (midnight UTC of that date): the next step's window opens after it."""

    uid: str
    until: datetime
    sender: str


@dataclass(frozen=True)
class SaveInterview:
    """Store what the calendar says. `kind`: found | changed | cancelled."""

    interview: Interview
    reason: str | None
    kind: str


@dataclass(frozen=True)
class CancelInterview:
    """The interview stops: `kind` is "not-interview" or "cancelled"."""

    uid: str
    reason: str
    kind: str = "cancelled"


@dataclass(frozen=True)
class KeepInterview:
    """The event was cancelled or removed after a draft of its sequence existed: the
    interview happened (people tidy their calendars), so the sequence goes on."""

    uid: str
    reason: str


@dataclass(frozen=True)
class IgnoreEvent:
    """An event seen but not followed: logged, and listed by `status --all`."""

    key: str
    reason: str


CalendarAction = SaveInterview | CancelInterview | KeepInterview | IgnoreEvent
MailAction = Transition | DeleteDraft | Replied | Away


def retime(sent: datetime | None, floor: datetime | None, now: datetime) -> datetime:
    """A Sent copy's time, unless it is before `floor` (the draft existed no earlier) or
    in the future; then `now`, the pass that saw it."""
    if sent is None or floor is None or sent < floor or sent > now:
        return now
    return sent
