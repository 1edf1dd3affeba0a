"""What a pass tells the user: log lines, `[notify]` notices and the pass report.

The core decides; this module only words its decisions (in the user's zone).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from followupd.errors import (
    EXIT_CONFIG,
    EXIT_ERROR,
    EXIT_NOPERM,
    EXIT_OK,
    EXIT_TEMPFAIL,
    AuthError,
    ConfigError,
    TransientError,
)
from followupd.model import FollowUp, Interview, State
from followupd.policy import (
    CalendarAction,
    CancelInterview,
    IgnoreEvent,
    KeepInterview,
    Replied,
    SaveInterview,
    Transition,
)
from followupd.policy.plan import split_step, step_words

log = logging.getLogger(__name__)

_SEVERITY = {"error": EXIT_ERROR, "transient": EXIT_TEMPFAIL, "config": EXIT_CONFIG, "auth": EXIT_NOPERM}


@dataclass(frozen=True)
class Notice:
    """Something the user should hear about (see [notify] in the README)."""

    event: str  # draft-created | interview-ended | replied | stale | needs-contact | reauthorise | problem
    message: str
    uid: str = ""
    subject: str = ""


@dataclass
class PassReport:
    now: datetime
    notices: list[Notice] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (kind, message)
    repeated: list[str] = field(default_factory=list)  # problems already logged by an earlier pass
    drafted: int = 0
    # As the pass left them, for the daemon's due jobs (daemon_jobs.due_jobs):
    followups: list[FollowUp] = field(default_factory=list)
    ending: dict[str, datetime] = field(default_factory=dict)  # uid → end, see policy.say.ending

    @property
    def exit_code(self) -> int:
        codes = [_SEVERITY[kind] for kind, _ in self.problems]
        # Re-authorisation and config problems need the user; say those first.
        for code in (EXIT_NOPERM, EXIT_CONFIG, EXIT_ERROR, EXIT_TEMPFAIL):
            if code in codes:
                return code
        return EXIT_OK


def kind(exc: BaseException) -> str:
    if isinstance(exc, AuthError):
        return "auth"
    if isinstance(exc, TransientError):
        return "transient"
    if isinstance(exc, ConfigError):
        return "config"
    return "error"


def local(at: datetime, zone: tzinfo) -> str:
    return at.astimezone(zone).strftime("%a %d %b %H:%M")


def label(interview: Interview, zone: tzinfo) -> str:
    if interview.company:
        return f"{interview.company} interview, {local(interview.start, zone)}"
    return f"{interview.title!r}, {local(interview.start, zone)}"


def who(interview: Interview) -> str:
    return ", ".join(c.email for c in interview.contacts) or "nobody to write to yet"


class Teller:
    """Words the core's actions for the log and the report's notices."""

    def __init__(self, zone: tzinfo, report: PassReport) -> None:
        self.zone = zone
        self.report = report

    def calendar(self, action: CalendarAction, interview: Interview | None) -> None:
        if isinstance(action, IgnoreEvent):
            log.debug("not following %s: %s", action.key, action.reason)
        elif isinstance(action, SaveInterview):
            name = label(action.interview, self.zone)
            if action.kind == "found":
                log.info("found interview %s with %s", name, who(action.interview))
            elif action.kind == "cancelled":
                log.info("%s: %s; its planned follow-ups are cancelled", name, action.reason)
        elif isinstance(action, KeepInterview) and interview is not None:
            log.info(
                "%s: %s, but its follow-up was already drafted; the sequence goes on",
                label(interview, self.zone),
                action.reason,
            )
        elif isinstance(action, CancelInterview) and interview is not None:
            if action.kind == "not-interview":
                log.info("stopped following %s: %s", label(interview, self.zone), action.reason)
            else:
                log.info("%s: %s; its planned follow-ups are cancelled", label(interview, self.zone), action.reason)

    def replied(self, action: Replied, interview: Interview) -> None:
        name = label(interview, self.zone)
        log.info("reply from %s about %s: its follow-ups stop", action.sender, name)
        message = f"{action.sender} replied about {name}; follow-ups stopped"
        self.report.notices.append(Notice("replied", message, action.uid, action.subject))

    def transition(self, t: Transition, interview: Interview) -> None:
        f, name = t.after, label(interview, self.zone)
        if f.stale_at is not None and (t.before is None or t.before.stale_at is None):
            removed = f.state == State.DISMISSED
            message = f"the {step_words(f.step)} draft for {name} was still unsent when its window closed" + (
                "; it was untouched and has been removed" if removed else "; it is still in Drafts"
            )
            log.warning("%s", message)
            self.report.notices.append(Notice("stale", message, interview.uid))
            return
        if not t.moved:
            return
        if f.state == State.NEEDS_CONTACT:
            message = f"{name} has no address to write to: add the interviewer to the event"
            log.warning("%s", message)
            self.report.notices.append(Notice("needs-contact", message, interview.uid))
        elif f.state == State.MISSED:
            log.warning("the %s for %s was missed: its window closed", step_words(f.step), name)
        elif f.state == State.PLANNED and f.due_at is not None:
            log.info("%s for %s planned for %s", step_words(f.step), name, local(f.due_at, self.zone))
        elif f.state == State.SENT and t.why == "sent by you":
            log.info("you sent the %s for %s", step_words(f.step), name)
        elif f.state == State.DISMISSED:
            log.info("the %s draft for %s was deleted; not re-creating it", step_words(f.step), name)

    def ended(self, interview: Interview, short: str) -> None:
        name = label(interview, self.zone)
        message = (
            f"{name} has ended. While it is fresh, add what you talked about for the thank-you: "
            f'followupd note {short} "Notes: …"'
        )
        log.info("%s", message)
        self.report.notices.append(Notice("interview-ended", message, interview.uid))

    def created(self, f: FollowUp, interview: Interview, subject: str) -> None:
        self.report.drafted += 1
        step, person = split_step(f.step)
        line = f"{step} draft created for {label(interview, self.zone)}, to {person or who(interview)}"
        log.info("%s", line)
        self.report.notices.append(Notice("draft-created", line, interview.uid, subject))
