"""The pure decision core: every arrow of the follow-up state machine is decided here.

`plan` derives each step from the interview and the clock; `calendar` reads a
calendar fetch; `reconcile` reads the mailbox's news; `settle` turns the plan into
transitions and drafts to make. Facts come in as frozen values, actions go out as
frozen values (see `actions`). Nothing in this package does I/O or reads a clock:
the engine gathers the facts from the ports, calls the core and applies the result.
"""

from __future__ import annotations

from followupd.policy.actions import (
    CalendarAction,
    CancelInterview,
    CreateDraft,
    DeleteDraft,
    IgnoreEvent,
    KeepInterview,
    Key,
    MailAction,
    MailFacts,
    Replied,
    SaveInterview,
    Seen,
    Settings,
    Transition,
)
from followupd.policy.calendar import calendar, span
from followupd.policy.plan import Decision, Schedule, StepWindow, plan
from followupd.policy.reconcile import active, drafted, found, intent, questions, reconcile, settle

__all__ = [
    "CalendarAction",
    "CancelInterview",
    "CreateDraft",
    "Decision",
    "DeleteDraft",
    "IgnoreEvent",
    "KeepInterview",
    "Key",
    "MailAction",
    "MailFacts",
    "Replied",
    "SaveInterview",
    "Schedule",
    "Seen",
    "Settings",
    "StepWindow",
    "Transition",
    "active",
    "calendar",
    "drafted",
    "found",
    "intent",
    "plan",
    "questions",
    "reconcile",
    "settle",
    "span",
]
