"""Is this message a real reply from the people behind an interview?

See DESIGN.md "What counts as a reply": auto-replies, calendar RSVPs and updates and
bounces never count, nor does anything the user sent, nor anything that arrived before
the interview started (by the earliest trustworthy evidence, see `arrived_at`).

A sender's address cannot be authenticated here: anyone can write `From:
jane.doe@acme.io`. What this module refuses is the cheaper trick: a stranger's own
address in From with the recruiter's in Reply-To. Reply-To speaks for the sender only
when the sender is a relay that writes on someone's behalf (an applicant tracking or
scheduling tool's no-reply address, a mailing list).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from email.utils import getaddresses

from followupd.model import Interview, MessageInfo
from followupd.policy.arrival import arrival
from followupd.policy.domains import FREE_MAIL

_AUTO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto:|away from (the )?office"
    r"|abwesenheitsnotiz|r[ée]ponse automatique|respuesta autom[áa]tica)",
    re.IGNORECASE,
)
_RSVP_SUBJECT = re.compile(
    r"^\s*(accepted|declined|tentative|tentatively accepted|updated response|new time proposed)\s*:",
    re.IGNORECASE,
)
# What calendar tools put before the event's title when the organiser sends or changes
# an invitation (Google: "Invitation:", "Updated invitation:", "Updated invitation with
# note:", "Canceled event:"; Outlook: "Canceled:").
_CALENDAR_SUBJECT = re.compile(
    r"^\s*(invitation|updated invitation|invitation updated|updated event|new event"
    r"|cancell?ed event|event cancell?ed|cancell?ed)(\s+with\s+note)?\s*:",
    re.IGNORECASE,
)
_CALENDAR_METHODS = ("request", "cancel", "counter", "add", "refresh", "declinecounter", "publish")
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliverable|undelivered mail|delivery status notification|mail delivery failed"
    r"|returned mail|delivery failure|failure notice)",
    re.IGNORECASE,
)
_BOUNCE_SENDER = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)
# Local parts of addresses that send on someone else's behalf.
_RELAY_LOCAL = re.compile(
    r"^(no-?reply|do-?not-?reply|donotreply|notifications?|notify|mailer|calendar-notification"
    r"|invitations?|scheduling|scheduler|jobs|careers|talent-?notifications?)([+._-].*)?$",
    re.IGNORECASE,
)
# Applicant tracking and scheduling tools, and list servers, whose mail carries the
# person's address in Reply-To (a domain or any subdomain of it).
RELAY_DOMAINS = frozenset(
    """
    greenhouse.io greenhouse-mail.io lever.co ashbyhq.com workable.com workablemail.com smartrecruiters.com
    myworkday.com workday.com icims.com jobvite.com bamboohr.com recruitee.com teamtailor.com personio.de
    personio.com breezy.hr jazzhr.com applytojob.com pinpointhq.com rippling.com gem.com goodtime.io
    calendly.com cal.com youcanbook.me doodle.com hirevue.com paradox.ai modernhire.com codility.com
    hackerrank.com coderpad.io karat.io linkedin.com
    googlegroups.com groups.io lists.sourceforge.net freelists.org
    """.split()
)


def addresses(*values: str) -> list[str]:
    """Lower-case addresses from header values such as `"Doe, Jane" <jane@acme.io>`."""
    return [addr.lower() for _, addr in getaddresses(list(values)) if "@" in addr]


def senders(message: MessageInfo) -> list[str]:
    """From, then Reply-To: who a message says it is from (for logs and notices)."""
    return addresses(*message.headers.get("from", ()), *message.headers.get("reply-to", ()))


def recipients(message: MessageInfo) -> list[str]:
    return addresses(*message.headers.get("to", ()), *message.headers.get("cc", ()))


def arrived_at(message: MessageInfo) -> datetime | None:
    """When a message arrived, by the earliest trustworthy evidence: the backend's
    `arrived` (already the earliest of delivery time and topmost Received stamp when
    parse.py built it) and the Date header when plausible. A message that a sync tool
    downloaded late, or a migration appended late, keeps its old time."""
    return arrival(message.arrived, message.date, None)


def is_relay(sender: str, message: MessageInfo, extra_free_mail: Collection[str] = ()) -> bool:
    """Whether `sender` (the From address) writes on someone else's behalf, so that the
    message's Reply-To names the real author: an ATS or scheduling tool, a no-reply
    address of a company, a mailing list. Never a free-mail address."""
    local, _, domain = sender.rpartition("@")
    if _is_free(domain, extra_free_mail):
        return False
    if any(domain == d or domain.endswith("." + d) for d in RELAY_DOMAINS):
        return True
    return bool(_RELAY_LOCAL.match(local)) or bool(message.header("list-id"))


def _is_free(domain: str, extra_free_mail: Collection[str]) -> bool:
    return domain in FREE_MAIL or domain in extra_free_mail


def not_a_reply(message: MessageInfo) -> str | None:
    """Why this message can never be a human reply (auto-reply, calendar message,
    bounce), or None."""
    auto = message.header("auto-submitted").strip().lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    if message.header("x-autoreply") or message.header("x-autorespond"):
        return "an X-Autoreply header"
    precedence = message.header("precedence").strip().lower()
    if precedence in ("bulk", "junk", "auto_reply"):
        return f"Precedence: {precedence}"
    subject = message.header("subject")
    if _AUTO_SUBJECT.search(subject):
        return "an auto-reply subject"
    for part in message.part_types:
        lowered = part.lower().replace(" ", "").replace('"', "")
        if lowered.startswith("text/calendar") or lowered.startswith("application/ics"):
            if "method=reply" in lowered:
                return "a calendar RSVP (text/calendar; method=REPLY)"
            method = next((m for m in _CALENDAR_METHODS if f"method={m};" in lowered + ";"), None)
            if method:
                return f"a calendar message from the organiser (text/calendar; method={method.upper()})"
        if lowered.startswith("multipart/report") and "delivery-status" in lowered:
            return "a delivery status report (bounce)"
    if _RSVP_SUBJECT.search(subject):
        return "a calendar RSVP subject"
    if _CALENDAR_SUBJECT.search(subject):
        return "a calendar invitation or update subject"
    if _BOUNCE_SUBJECT.search(subject) or any(_BOUNCE_SENDER.match(s) for s in senders(message)):
        return "a bounce"
    if message.header("return-path").strip() == "<>" and not senders(message):
        return "a bounce (null sender)"
    return None


def reply_to_interview(
    message: MessageInfo,
    interview: Interview,
    me: Collection[str],
    extra_free_mail: Collection[str] = (),
) -> bool:
    """True if `message` is a real reply from this interview's people or company."""
    when = arrived_at(message)
    if message.folder != "inbox" or when is None or when < interview.start:
        return False
    from_ = addresses(*message.headers.get("from", ()))
    if not from_ or any(a in me for a in from_):
        return False
    people = {c.email for c in interview.contacts}
    own_domains = {a.rsplit("@", 1)[1] for a in me}
    companies = {
        c.domain for c in interview.contacts if not _is_free(c.domain, extra_free_mail) and c.domain not in own_domains
    }
    # Reply-To speaks for the author only when From is a relay (see the module doc).
    candidates = list(from_)
    if all(is_relay(sender, message, extra_free_mail) for sender in from_):
        candidates += addresses(*message.headers.get("reply-to", ()))
    for sender in candidates:
        domain = sender.rsplit("@", 1)[1]
        if sender in people or any(domain == c or domain.endswith("." + c) for c in companies):
            return not_a_reply(message) is None
    return False
