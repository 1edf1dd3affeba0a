"""The values that flow through the pipeline. Plain frozen data, no I/O."""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

# Every Message-ID followupd makes starts with this; it tells our drafts from the user's mail.
MESSAGE_ID_PREFIX = "<followupd."


class State(enum.StrEnum):
    PLANNED = "planned"
    DRAFTING = "drafting"
    DRAFTED = "drafted"
    SENT = "sent"
    DISMISSED = "dismissed"
    REPLIED = "replied"
    MISSED = "missed"
    CANCELLED = "cancelled"
    NEEDS_CONTACT = "needs_contact"


# States the planner recomputes on every pass from the interview and the clock; the
# others record what happened in the mailbox, and only the engine moves them.
DERIVED = frozenset({State.PLANNED, State.CANCELLED, State.NEEDS_CONTACT, State.MISSED})


class Partstat(enum.StrEnum):
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"
    NEEDS_ACTION = "needs-action"
    DELEGATED = "delegated"
    UNKNOWN = "unknown"


class Cutype(enum.StrEnum):
    INDIVIDUAL = "individual"
    GROUP = "group"
    RESOURCE = "resource"
    ROOM = "room"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str | None = None
    partstat: Partstat = Partstat.UNKNOWN
    cutype: Cutype = Cutype.INDIVIDUAL
    is_self: bool = False  # the source knows this is the calendar's owner (Google's `self`)


@dataclass(frozen=True)
class Event:
    """One calendar occurrence, normalised by a CalendarSource. Times are aware UTC."""

    uid: str
    recurrence_id: datetime | None
    summary: str
    description: str
    start: datetime
    end: datetime
    status: str = "confirmed"  # confirmed | tentative | cancelled
    organizer: Attendee | None = None
    attendees: tuple[Attendee, ...] = ()
    location: str = ""
    all_day: bool = False  # dates, not times: from midnight to midnight in the user's zone

    @property
    def key(self) -> str:
        return event_key(self.uid, self.recurrence_id)


def event_key(uid: str, recurrence_id: datetime | None) -> str:
    """The interview id users see: the event UID, plus the occurrence for recurring events."""
    if recurrence_id is None:
        return uid
    return f"{uid}#{recurrence_id.strftime('%Y%m%dT%H%M%SZ')}"


@dataclass(frozen=True)
class Contact:
    email: str
    name: str | None = None

    @property
    def first_name(self) -> str | None:
        if self.name:
            name = self.name.strip().strip('"')
            if "," in name:  # "Doe, Jane"
                name = name.split(",", 1)[1]
            parts = [p for p in name.split() if p.rstrip(".").lower() not in _HONORIFICS]
            if parts:
                return parts[0]
        local = self.email.split("@", 1)[0]
        pieces = re.split(r"[._-]", local)
        # Only "jane.doe" style local parts carry a usable first name; "jdoe" does not.
        if len(pieces) >= 2 and pieces[0].isalpha() and len(pieces[0]) > 1:
            return pieces[0].capitalize()
        return None

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[-1].lower()


_HONORIFICS = {"mr", "mrs", "ms", "mx", "dr", "prof"}


@dataclass(frozen=True)
class Interview:
    uid: str
    title: str
    start: datetime
    end: datetime
    contacts: tuple[Contact, ...]
    company: str | None = None
    role: str | None = None
    notes: str | None = None
    cancelled: bool = False
    event_uid: str = ""
    recurrence_id: datetime | None = None


@dataclass(frozen=True)
class MessageInfo:
    """What the reply and sent detectors need to know about one message.

    `headers` holds decoded header values by lower-case name; `part_types` the full
    Content-Type of every MIME part (with parameters) when the backend knows them.
    """

    folder: str  # "inbox" or "sent"
    message_id: str | None
    headers: dict[str, tuple[str, ...]]
    arrived: datetime | None  # delivery time (INTERNALDATE, internalDate, file time)
    date: datetime | None  # the Date header
    part_types: tuple[str, ...] = ()
    key: str = ""  # backend's id for logs
    thread_id: str | None = None  # the backend's conversation id, where it has one (Gmail)

    def header(self, name: str) -> str:
        values = self.headers.get(name.lower(), ())
        return values[0] if values else ""

    @property
    def when(self) -> datetime | None:
        return self.arrived or self.date


@dataclass(frozen=True)
class DraftRef:
    message_id: str
    key: str  # backend handle: Maildir file name, IMAP "uidvalidity:uid", Gmail draft id
    fingerprint: str  # compared to tell an untouched draft from an edited one


class DraftState(enum.StrEnum):
    UNTOUCHED = "untouched"
    EDITED = "edited"
    GONE = "gone"


@dataclass(frozen=True)
class Located:
    """Where a message with our deterministic Message-ID was found."""

    folder: str  # "drafts" or "sent"
    ref: DraftRef | None  # set for drafts
    arrived: datetime | None = None  # for sent copies


@dataclass(frozen=True)
class ThreadHint:
    """An existing conversation a draft should join (In-Reply-To, References, Re: subject)."""

    subject: str
    in_reply_to: str
    references: tuple[str, ...] = ()
    thread_id: str | None = None


@dataclass(frozen=True)
class MailChanges:
    messages: list[MessageInfo]
    cursor: str
    skipped: list[str] = field(default_factory=list)  # one line per unreadable message
    # Messages from before `since` that a first scan read only for the conversation
    # index (Maildir): never replies, never Sent copies, not for the core.
    earlier: list[MessageInfo] = field(default_factory=list)


@dataclass(frozen=True)
class InterviewRecord:
    """An interview as stored, with what the user and their mail said about it."""

    interview: Interview
    skipped: bool = False
    cancel_reason: str | None = None
    replied_at: datetime | None = None
    reply_from: str | None = None
    first_seen: datetime | None = None
    # An auto-reply from one of its people said they are away until this day (the date
    # they are back, in the user's zone, as midnight UTC of that date) and who said it.
    away_until: datetime | None = None
    away_from: str | None = None

    @property
    def uid(self) -> str:
        return self.interview.uid


@dataclass(frozen=True)
class FollowUp:
    """One step of one interview's sequence, as stored."""

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
    missing_since: datetime | None = None  # the pass that first found its draft gone from Drafts, unexplained
    stale_at: datetime | None = None  # when it was found still unsent after its window closed
    # The Sent copy, as sent (a client may give it a new Message-ID): what the next step
    # answers (In-Reply-To, References, Re: subject, and on Gmail its thread).
    sent_message_id: str | None = None
    sent_references: tuple[str, ...] = ()
    sent_subject: str | None = None
    sent_thread_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.uid, self.step)

    @property
    def ref(self) -> DraftRef:
        """The handle of its draft, as it was when created (drafting and later states)."""
        assert self.message_id is not None
        return DraftRef(self.message_id, self.draft_key or "", self.draft_fingerprint or "")

    def replace(self, **changes: object) -> FollowUp:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def by_uid(followups: Iterable[FollowUp]) -> dict[str, list[FollowUp]]:
    """Follow-ups grouped by interview, each group in the order given."""
    grouped: dict[str, list[FollowUp]] = {}
    for f in followups:
        grouped.setdefault(f.uid, []).append(f)
    return grouped
