"""Who the addresses in an invitation are: robots, role mailboxes, people, companies.

Robots (no-reply senders, scheduling tools' own domains) are never written to. Role
mailboxes (talent@, recruiting@) are written to but never greeted by a "first name".
A company name is read from a mail domain the way people write it.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from followupd.model import Contact
from followupd.policy.domains import FREE_MAIL
from followupd.text import clean_line

MAX_RECIPIENTS = 50  # one draft to more people than this is not a follow-up but a mailing

# Scheduling tools, ATS and conferencing services: their addresses are the tool, not a person.
TOOL_DOMAINS = frozenset(
    """
    greenhouse.io greenhouse-mail.io lever.co ashbyhq.com ashby.com myworkday.com workday.com goodtime.io
    modernloop.io calendly.com zoom.us zoom.com microsoft.com office.com office365.com google.com
    smartrecruiters.com icims.com jobvite.com workable.com recruitee.com personio.de personio.com
    bamboohr.com teamtailor.com gem.com paradox.ai prelude.co interviewschedule.com cal.com savvycal.com
    doodle.com hirevue.com codesignal.com hackerrank.com coderpad.io karat.com successfactors.com
    taleo.net oraclecloud.com breezy.hr jazzhr.com applytojob.com pinpointhq.com join.com
    """.split()
)
_ROBOT_LOCALS = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|notifications?|notify|calendar(?:[-_.]notifications?)?"
    r"|mailer[-_.]daemon|postmaster|bounces?|automated|auto[-_.]?confirm|invitations?)"
    r"(?:[-_.+].*)?$"
)
_ROLE_LOCALS = re.compile(
    r"^(?:talent(?:[-_.]?acquisition)?|recruit(?:ing|ment|ers?)?|sourcing|careers?|jobs?|hr|people(?:[-_.]?ops)?|hiring"
    r"|staffing|candidates?|interviews?|scheduling|scheduler|coordinator|team|info|hello|contact|office|admin|ta|humanresources|personal|rh"
    r"|bewerbung(?:en)?|karriere|empleo|rrhh|recrutement)(?:[-_.+].*)?$"
)
# A role word anywhere among the parts of a local part: eng-hiring@, uk.careers@, jobs-de@.
_ROLE_PART = re.compile(
    r"(?:^|[-_.+])(?:talent|recruit(?:ing|ment|ers?)?|sourcing|careers?|jobs?|hr|hiring|staffing|candidates?|interviews?"
    r"|scheduling|rrhh|recrutement|bewerbung(?:en)?|karriere|empleo)(?:$|[-_.+\d])"
)
_ROLE_WORDS = re.compile(
    r"(?i)\b(?:talent|recruiting|recruitment|careers?|jobs|hr|people\s+(?:team|ops|operations)|hiring\s+team"
    r"|acquisition|scheduling|scheduler|staffing|human\s+resources|team|personalabteilung|recrutement|rrhh)\b"
)
_AT_LOOKALIKES = "@\uff20\ufe6b\u0040"
_DOMAINISH = re.compile(r"[\w-]+\.(?:[a-zA-Z]{2,})\b|\(\s*at\s*\)|\[\s*at\s*\]")
_NAME_CHARS = re.compile(r"^[^\W\d_][^\W\d_'’.-]*$")


@functools.cache
def _extractor():  # type: ignore[no-untyped-def]
    import tldextract

    # The bundled public-suffix snapshot only: never a network fetch, never a cache file.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def registered_domain(domain: str) -> tuple[str, str]:
    """("sunbeam-health", "sunbeam-health.com") for "mail.sunbeam-health.com"."""
    parts = _extractor()(domain.lower())
    if not parts.suffix:
        label = domain.lower().split(".")[0]
        return label, domain.lower()
    return parts.domain, f"{parts.domain}.{parts.suffix}"


# What scheduling tools, ATS and conferencing services call themselves in titles
# ("Workday: Interview Scheduled - …", "Zoom meeting"): never the employer's name.
TOOL_NAMES = frozenset(
    """
    workday myworkday greenhouse lever ashby ashbyhq goodtime modernloop calendly smartrecruiters icims
    jobvite workable recruitee personio bamboohr teamtailor paradox prelude savvycal doodle hirevue codesignal
    hackerrank coderpad karat successfactors taleo breezy jazzhr zoom teams microsoftteams googlemeet meet webex
    """.split()
)


def is_tool_name(text: str) -> bool:
    """Whether a name read from a title is a tool's, not a company's."""
    return re.sub(r"[^a-z]", "", text.lower()) in TOOL_NAMES


def is_tool_domain(domain: str) -> bool:
    domain = domain.lower()
    if domain.endswith(".calendar.google.com") or domain == "calendar.google.com":
        return True
    return registered_domain(domain)[1] in TOOL_DOMAINS or domain in TOOL_DOMAINS


def is_robot(email: str) -> bool:
    """A no-reply sender or a scheduling tool's own address: never a recipient."""
    local, _, domain = email.lower().rpartition("@")
    return bool(_ROBOT_LOCALS.match(local)) or is_tool_domain(domain)


def is_role_mailbox(contact: Contact) -> bool:
    """talent@, recruiting@, or a calendar name such as "Talent Acquisition" or
    "Acme Recruiting": written to, never greeted by a first name."""
    local = contact.email.split("@", 1)[0].lower()
    name = safe_display_name(contact.name)
    if _ROLE_LOCALS.match(local) or _ROLE_PART.search(local):
        # A person's own name over a shared mailbox ("Marta Gil" <rrhh@…>) is that
        # person writing from it (their calendar account): greet them.
        return not _reads_as_person(name, contact.domain)
    if name and _ROLE_WORDS.search(name):
        # "Jane Doe | Talent Acquisition" at jane.doe@ is a person who works in talent;
        # so is a team name over a first.last address.
        if re.match(r"^[^\W\d_]{2,}[._-][^\W\d_]{2,}$", local):
            return False
        first = name.replace(",", " ").split()[0].lower()
        return first not in local
    return False


_NOT_A_SURNAME = frozenset(
    "ag gmbh inc ltd llc plc sa sl sas srl bv nv co corp group grupo gruppe company team"
    " hiring manager coordinator office support admin desk info noreply".split()
)


def _reads_as_person(name: str, domain: str) -> bool:
    """ "Marta Gil", not "Acme Careers" or "Bergmann AG": two or three capitalised words,
    no role word, no company suffix, none of them the mail domain's name."""
    words = name.replace(",", " ").split()
    if not 2 <= len(words) <= 3 or _ROLE_WORDS.search(name):
        return False
    label = domain.split(".")[0].lower()
    return all(
        _NAME_CHARS.match(w) and w[0].isupper() and w.lower() not in _NOT_A_SURNAME and w.lower() not in label
        for w in words
    )


def safe_display_name(name: str | None) -> str:
    """A display name fit for a To: header, or "" when it could mislead: one that holds
    an address (`Jane <jane@acme.io>`, a fullwidth ＠, "jane(at)acme.io") would let the
    visible name differ from the real recipient."""
    text = clean_line(name or "", 80).strip().strip("\"'")
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", text)
    if any(ch in folded or ch in text for ch in _AT_LOOKALIKES) or _DOMAINISH.search(folded):
        return ""
    if any(ch in folded for ch in '<>;:\\"') or "mailto" in folded.lower():
        return ""
    return text


def first_name(contact: Contact) -> str | None:
    """The name to greet someone by, or None (role mailboxes, names we cannot trust)."""
    if is_role_mailbox(contact):
        return None
    name = safe_display_name(contact.name)
    first = Contact(contact.email, name or None).first_name
    if not first:
        return None
    first = first.strip(".,;:'\"()[]|")
    if not _NAME_CHARS.match(first) or len(first) < 2:
        return None
    if first.isupper() or first.islower():
        first = first.capitalize()
    return first


def company_from_domain(domain: str) -> str | None:
    """`sunbeam-health.com` → "Sunbeam Health", `mail.acme.co.uk` → "Acme"; None for
    free-mail and tool domains."""
    domain = domain.lower()
    if domain in FREE_MAIL or is_tool_domain(domain):
        return None
    label, registered = registered_domain(domain)
    if registered in FREE_MAIL or not label:
        return None
    words = [w for w in re.split(r"[-_]+", label) if w]
    return " ".join(w.upper() if len(w) <= 2 else w.capitalize() for w in words) or None


def squash(text: str) -> str:
    """Letters and digits only, lower case: "Redwood Analytics" and "redwoodanalytics" meet here."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text.lower()) if ch.isalnum())


_CAPS_RUN = re.compile(r"\b[A-Z][\w&'’.-]*(?:[ -][A-Z][\w&'’.-]*){0,3}")


def spelling_in(text: str, domain_label: str) -> str | None:
    """How the text spells the company a domain names: "Redwood Analytics" for
    `redwoodanalytics`, when the title, description or a calendar name writes it so."""
    target = squash(domain_label)
    if len(target) < 3:
        return None
    for match in _CAPS_RUN.finditer(text):
        words = match.group(0).split()
        for start in range(len(words)):
            for end in range(len(words), start, -1):
                candidate = " ".join(words[start:end])
                if squash(candidate) == target:
                    return candidate.strip(".,;:")
    return None
