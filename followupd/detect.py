"""Which calendar events are job interviews, and who to write to about them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from followupd.config import Detect, Me
from followupd.model import Attendee, Contact, Cutype, Event, Interview, Partstat
from followupd.text import clean_block, clean_line

FREE_MAIL = frozenset(
    """
    gmail.com googlemail.com outlook.com hotmail.com hotmail.co.uk live.com msn.com yahoo.com
    yahoo.co.uk ymail.com aol.com icloud.com me.com mac.com proton.me protonmail.com pm.me
    gmx.com gmx.de gmx.net web.de mail.com zoho.com yandex.com yandex.ru fastmail.com
    hey.com tutanota.com tuta.io mailbox.org posteo.de qq.com 163.com
    """.split()
)
_SERVICE_DOMAINS = (".calendar.google.com",)  # rooms, resources and group calendars
_SERVICE_LOCALS = re.compile(r"^(no-?reply|do-?not-?reply|calendar-notification|notifications?|mailer-daemon)$")
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_FOLD = re.compile(r"\r?\n[ \t]")  # RFC 5545 line folding
_NEWLINE = re.compile(r"\\[nN]")  # an escaped newline inside a TEXT value
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SEPARATORS = re.compile(r"\s+[-–—|:/]\s+|:\s+")


@dataclass(frozen=True)
class Detection:
    interview: Interview | None  # None: not an interview at all
    reason: str = ""  # why it does not count, for logs and status


class Detector:
    def __init__(self, me: Me, settings: Detect) -> None:
        self.me = me
        self.settings = settings
        self._keywords = _phrases(settings.keywords)
        self._exclude = _phrases(settings.exclude)
        self._needles = tuple(max(re.split(r"\W+", k.lower()), key=len) for k in settings.keywords)

    def detect(self, event: Event) -> Detection:
        summary = clean_line(event.summary)
        description = clean_block(event.description)
        if not self._keywords or not (self._keywords.search(summary) or self._keywords.search(description)):
            return Detection(None, "no interview keyword")
        if self._exclude and self._exclude.search(summary):
            return Detection(None, "an exclude word is in the title")
        cancelled, reason = self._participation(event)
        contacts = self._contacts(event, description)
        role, company = _role_and_company(summary, description, self._keywords, contacts)
        interview = Interview(
            uid=event.key,
            title=summary or "(untitled interview)",
            start=event.start,
            end=event.end,
            contacts=contacts,
            company=company,
            role=role,
            notes=_notes(description),
            cancelled=cancelled,
            event_uid=event.uid,
            recurrence_id=event.recurrence_id,
        )
        return Detection(interview, reason)

    def mentions_keyword(self, ical_text: str) -> bool:
        """Whether one VEVENT's raw iCalendar text could hold a keyword: a cheap test
        that lets a source skip parsing events that cannot be interviews. It errs on
        the side of yes (it reads every property, not just the title and description)."""
        if self._keywords is None:
            return False
        text = _FOLD.sub("", ical_text)
        text = _NEWLINE.sub("\n", text).replace("\\", "")
        if text.isascii() and not _CONTROL.search(text):
            # Cleaning would not change a letter here: a keyword needs its longest word
            # to appear as plain text, which a substring test rules out cheaply.
            lower = text.lower()
            return any(word in lower for word in self._needles) and bool(self._keywords.search(text))
        # Characters that cleaning removes can hide a keyword (a zero-width space
        # inside "interview", say): search what the detector will see.
        return bool(self._keywords.search(clean_block(text, limit=len(text) + 1)))

    def _mine(self, who: Attendee) -> bool:
        return who.is_self or who.email.lower() in self.me.addresses

    def _participation(self, event: Event) -> tuple[bool, str]:
        """(cancelled, reason): whether this event must not produce follow-ups."""
        if event.status == "cancelled":
            return True, "the event is cancelled"
        if event.organizer is not None and self._mine(event.organizer):
            return False, ""
        me = [a for a in event.attendees if self._mine(a)]
        if me:
            status = me[0].partstat
            if status == Partstat.DECLINED:
                return True, "you declined it"
            if status in (Partstat.ACCEPTED, Partstat.TENTATIVE):
                return False, ""
            if self.settings.require_accepted:
                return True, "you have not accepted the invitation"
            return False, ""
        if event.organizer is None and not event.attendees:
            return False, ""  # an entry in the user's own calendar
        if event.organizer is None:
            return False, ""  # no organiser recorded: the user put it there
        if self.settings.require_accepted:
            return True, "you are not among its attendees (someone else's invitation)"
        return False, ""

    def _contacts(self, event: Event, description: str) -> tuple[Contact, ...]:
        found: dict[str, Contact] = {}
        people = ([event.organizer] if event.organizer else []) + list(event.attendees)
        for who in people:
            if self._mine(who) or not _person(who) or who.partstat == Partstat.DECLINED:
                continue
            email = who.email.lower()
            name = clean_line(who.name or "", 80) or None
            if name and "@" in name:
                name = None  # Outlook often puts the address itself in CN
            if email not in found or (name and not found[email].name):
                found[email] = Contact(email, name)
        if not found:
            for name, email in _addresses_in(description):
                if email not in self.me.addresses and email not in found:
                    found[email] = Contact(email, name)
        return tuple(found.values())


def _person(who: Attendee) -> bool:
    if who.cutype in (Cutype.ROOM, Cutype.RESOURCE, Cutype.GROUP):
        return False
    email = who.email.lower()
    if not _ADDRESS.match(email):
        return False
    local, _, domain = email.rpartition("@")
    return not domain.endswith(_SERVICE_DOMAINS) and not _SERVICE_LOCALS.match(local)


_ANGLED = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+)\s*>")
# The look-behind makes every match start at the beginning of a run of address
# characters, so hostile text (a 4,000-character word, say) is scanned in linear time.
_BARE = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")


def _addresses_in(text: str) -> list[tuple[str | None, str]]:
    """`Name <addr>` and bare addresses written in free text, in order of appearance."""
    found: list[tuple[int, str | None, str]] = []
    taken: list[tuple[int, int]] = []
    for match in _ANGLED.finditer(text):
        before = text[max(0, match.start() - 120) : match.start()]
        name = re.split(r"[,;:\n>(]", before)[-1]
        found.append((match.start(), _trailing_name(name), match.group(1)))
        taken.append(match.span())
    for match in _BARE.finditer(text):
        if not any(start <= match.start() < end for start, end in taken):
            found.append((match.start(), None, match.group(0)))
    result = []
    for _, name, email in sorted(found, key=lambda f: f[0]):
        email = email.strip().strip(".").lower()
        if _ADDRESS.match(email) and _person(Attendee(email)):
            result.append((name, email))
    return result


def _trailing_name(text: str) -> str | None:
    """ "Call with Sam Smith" → "Sam Smith": free text before an address ends with the name."""
    words = clean_line(text, 80).split()
    name: list[str] = []
    for word in reversed(words):
        if not word[:1].isupper() or len(name) == 4:
            break
        name.insert(0, word)
    return " ".join(name) or None


def _phrases(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    parts = [r"\s+".join(re.escape(w) for w in word.split()) for word in words]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def _notes(description: str) -> str | None:
    match = re.search(r"^\s*notes?\s*:(.*)", description, re.IGNORECASE | re.MULTILINE | re.DOTALL)
    if not match:
        return None
    notes = match.group(1).strip()
    return notes or None


def _field(description: str, *names: str) -> str | None:
    for name in names:
        match = re.search(rf"^\s*{name}\s*:\s*(.+)$", description, re.IGNORECASE | re.MULTILINE)
        if match and match.group(1).strip():
            return clean_line(match.group(1), 100)
    return None


def _role_and_company(
    summary: str, description: str, keywords: re.Pattern[str] | None, contacts: tuple[Contact, ...]
) -> tuple[str | None, str | None]:
    role = _field(description, "role", "position")
    company = _field(description, "company", "employer")
    domains = [c.domain for c in contacts if c.domain not in FREE_MAIL]
    from_domain = _company_from_domain(domains[0]) if domains else None
    if role is None or company is None:
        guess_role, guess_company = _from_summary(summary, keywords, company or from_domain)
        role = role or guess_role
        company = company or guess_company
    return role, company or from_domain


def _from_summary(
    summary: str, keywords: re.Pattern[str] | None, company_hint: str | None
) -> tuple[str | None, str | None]:
    def strip_keywords(text: str) -> str:
        if keywords is not None:
            text = keywords.sub(" ", text)
        text = re.sub(r"(?i)\b(for|the|a|an|round|call|\d+(st|nd|rd|th)?)\b", " ", text)
        return " ".join(text.replace("(", " ").replace(")", " ").split()).strip(" -–—:|,")

    def plausible(text: str) -> str | None:
        if not text or re.search(r"(?i)\bwith\b", text) or len(text) > 60:
            return None
        return text

    match = re.match(r"(?i)^(.*?)\s+at\s+(.+)$", summary)
    if match:
        return plausible(strip_keywords(match.group(1))), plausible(strip_keywords(match.group(2)))
    parts = _SEPARATORS.split(summary, maxsplit=1)
    if len(parts) == 2:
        left, right = parts
        left_kw = bool(keywords and keywords.search(left))
        right_kw = bool(keywords and keywords.search(right))
        if right_kw and not left_kw:  # "Acme — Backend Engineer interview"
            left, right = right, left
        elif not left_kw or right_kw:
            return None, None
        # "Phone screen: Acme" or "Interview: Backend Engineer": the part beside the
        # keyword is a company if it names the contacts' company, else a role.
        label, other = plausible(strip_keywords(left)), plausible(strip_keywords(right))
        if label is None and other is not None:
            if company_hint and company_hint.lower() in other.lower():
                return None, other
            return other, None
        return label, other
    return None, None


def _company_from_domain(domain: str) -> str:
    labels = domain.split(".")
    # acme.io → Acme; careers.acme.co.uk → Acme
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in {"co", "com", "org", "ac", "net"}:
        name = labels[-3]
    else:
        name = labels[-2] if len(labels) >= 2 else labels[0]
    return name.capitalize()
