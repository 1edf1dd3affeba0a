"""Is this message a real reply from the people behind an interview?

See DESIGN.md "What counts as a reply": auto-replies, calendar RSVPs and bounces
never count, nor does anything the user sent.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from email.utils import getaddresses

from followupd.detect import FREE_MAIL
from followupd.model import Interview, MessageInfo

_AUTO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto:|away from (the )?office"
    r"|abwesenheitsnotiz|r[ée]ponse automatique|respuesta autom[áa]tica)",
    re.IGNORECASE,
)
_RSVP_SUBJECT = re.compile(
    r"^\s*(accepted|declined|tentative|tentatively accepted|updated response|new time proposed)\s*:",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliverable|undelivered mail|delivery status notification|mail delivery failed"
    r"|returned mail|delivery failure|failure notice)",
    re.IGNORECASE,
)
_BOUNCE_SENDER = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)


def addresses(*values: str) -> list[str]:
    """Lower-case addresses from header values such as `"Doe, Jane" <jane@acme.io>`."""
    return [addr.lower() for _, addr in getaddresses(list(values)) if "@" in addr]


def senders(message: MessageInfo) -> list[str]:
    return addresses(*message.headers.get("from", ()), *message.headers.get("reply-to", ()))


def recipients(message: MessageInfo) -> list[str]:
    return addresses(*message.headers.get("to", ()), *message.headers.get("cc", ()))


def not_a_reply(message: MessageInfo) -> str | None:
    """Why this message can never be a human reply (auto-reply, RSVP, bounce), or None."""
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
        if lowered.startswith("text/calendar") and "method=reply" in lowered:
            return "a calendar RSVP (text/calendar; method=REPLY)"
        if lowered.startswith("multipart/report") and "delivery-status" in lowered:
            return "a delivery status report (bounce)"
    if _RSVP_SUBJECT.search(subject):
        return "a calendar RSVP subject"
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
    when = message.when
    if message.folder != "inbox" or when is None or when < interview.start:
        return False
    from_ = addresses(*message.headers.get("from", ()))
    if not from_ or any(a in me for a in from_):
        return False
    people = {c.email for c in interview.contacts}
    own_domains = {a.rsplit("@", 1)[1] for a in me}
    companies = {
        c.domain
        for c in interview.contacts
        if c.domain not in FREE_MAIL and c.domain not in extra_free_mail and c.domain not in own_domains
    }
    for sender in senders(message):
        domain = sender.rsplit("@", 1)[1]
        if sender in people or any(domain == c or domain.endswith("." + c) for c in companies):
            return not_a_reply(message) is None
    return False
