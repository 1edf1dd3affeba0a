"""Which calendar events are job interviews, and who to write to about them."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from followupd.config import Detect, Me
from followupd.html_text import description_text, html_to_text
from followupd.model import Attendee, Contact, Cutype, Event, Interview, Partstat
from followupd.people import (
    MAX_RECIPIENTS,
    company_from_domain,
    is_robot,
    is_tool_name,
    registered_domain,
    safe_display_name,
    spelling_in,
)
from followupd.text import clean_block, clean_line
from followupd.titles import company_name, read_title

__all__ = ["MAX_RECIPIENTS", "Detection", "Detector"]

log = logging.getLogger(__name__)

# An ASCII dot-atom addr-spec: what a To header can carry without quoting; anything
# else (quoted or non-ASCII local parts, encoded-word look-alikes) is no recipient.
_ADDRESS = re.compile(
    r"^(?!.*=\?)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$"
)
_FOLD = re.compile(r"\r?\n[ \t]")  # RFC 5545 line folding
_NEWLINE = re.compile(r"\\[nN]")  # an escaped newline inside a TEXT value
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[a-zA-Z]{2,8});")
_TAG = re.compile(r"<[/!a-zA-Z][^<>]*>")  # what an HTML reader hides, or less of it
# When the user appears more than once (two addresses, a forged duplicate), the most
# cautious answer counts.
_CAUTION = {
    Partstat.DECLINED: 0,
    Partstat.NEEDS_ACTION: 1,
    Partstat.UNKNOWN: 1,
    Partstat.DELEGATED: 1,
    Partstat.TENTATIVE: 2,
    Partstat.ACCEPTED: 3,
}


@dataclass(frozen=True)
class Detection:
    interview: Interview | None  # None: not an interview at all
    reason: str = ""  # why it does not count, for logs and status


class Detector:
    def __init__(self, me: Me, settings: Detect, hours: tuple[time, time] = (time(9), time(18))) -> None:
        """`hours`: the user's business hours ([window] business_hours), the span of a
        day an all-day interview they track is taken to fill."""
        self.me = me
        self.settings = settings
        self.hours = hours
        self._keywords = _phrases(settings.keywords)
        self._exclude = _phrases(settings.exclude)
        self._needles = tuple(max(re.split(r"\W+", k.lower()), key=len) for k in settings.keywords)
        self._my_names = _name_forms(me.name) + [a.split("@", 1)[0] for a in me.aliases]

    def detect(self, event: Event, tracked: bool = False) -> Detection:
        """Read one event. `tracked`: the user said it is an interview (`followupd
        track`), so the keyword, exclude and acceptance tests do not apply."""
        summary = clean_line(event.summary)
        description = description_text(event.description)
        if not tracked:
            refused = self.refusal(event, summary, description)
            if refused:
                return Detection(None, refused)
        cancelled, reason = self.participation(event)
        if tracked and cancelled and event.status != "cancelled" and reason != "you declined it":
            cancelled, reason = False, ""
        contacts = self._contacts(event, description)
        fields = read_fields(description)
        role, company = self._role_and_company(summary, description, fields, contacts)
        start, end = self._working_day(event) if event.all_day else (event.start, event.end)
        interview = Interview(
            uid=event.key,
            title=summary or "(untitled interview)",
            start=start,
            end=end,
            contacts=contacts,
            company=company,
            role=role,
            notes=fields.notes,
            cancelled=cancelled,
            event_uid=event.uid,
            recurrence_id=event.recurrence_id,
        )
        return Detection(interview, reason)

    def _working_day(self, event: Event) -> tuple[datetime, datetime]:
        """A tracked all-day interview (an onsite day) from the start of business hours
        on its first day to their end on its last, in the user's zone: it is over when
        the working day is, not at midnight, so its thank-you comes the next working day."""
        zone = self.me.timezone
        first = event.start.astimezone(zone).date()
        last = max(first, (event.end - timedelta(seconds=1)).astimezone(zone).date())
        start = datetime.combine(first, self.hours[0], tzinfo=zone).astimezone(UTC)
        closes = datetime.combine(last, self.hours[1], tzinfo=zone).astimezone(UTC)
        end = event.end if self.hours[1] == time.max else min(closes, event.end)  # "…-24:00": midnight
        return start, max(start, end)

    def refusal(self, event: Event, summary: str, description: str) -> str | None:
        """Why the event is not an interview before anyone's answer is read, or None."""
        if not self._keywords or not (self._keywords.search(summary) or self._keywords.search(description)):
            return "no interview keyword"
        if event.all_day:
            return "all-day"
        excluded = _found(self._exclude, summary)
        if excluded:
            return f"the title says {excluded[0]}"
        if _INTERVIEWER.search(description):
            return "the description says you are the interviewer"
        organiser = self.excluded_organiser(event)
        if organiser:
            if organiser.startswith("@"):
                return f"organised at {organiser[1:]}, which you excluded"
            return f"organised by {organiser}, whom you excluded"
        return None

    def excluded_organiser(self, event: Event) -> str | None:
        """The `[detect] exclude_organizers` entry the event's organiser matches."""
        if event.organizer is None:
            return None
        email = event.organizer.email.lower()
        for entry in self.settings.exclude_organizers:
            wanted = entry.lower()
            if email == wanted or (wanted.startswith("@") and email.endswith(wanted)):
                return entry
        return None

    def mentions_keyword(self, ical_text: str) -> bool:
        """Whether one VEVENT's raw iCalendar text could hold a keyword: a cheap test
        that lets a source skip parsing events that cannot be interviews. It errs on
        the side of yes (it reads every property, not just the title and description)."""
        text = _FOLD.sub("", ical_text)
        if self._keywords is None:
            return False
        text = _NEWLINE.sub("\n", text).replace("\\", "")
        if text.isascii() and not _CONTROL.search(text) and "=?" not in text and not _ENTITY.search(text):
            # Cleaning would not change a letter here, and tags only split or join words
            # ("<b>Inter</b>view"): a keyword needs its longest word to appear in the text,
            # as it is or without its tags, which a substring test rules out cheaply.
            lower = text.lower()
            untagged = _TAG.sub("", lower) if "<" in lower else lower
            if not any(word in lower or word in untagged for word in self._needles):
                return False
            if self._keywords.search(text):
                return True
            if "<" not in text:
                return False  # no tag to hide one
        # Characters that cleaning removes, encoded-words, HTML entities and tags can hide
        # a keyword (a zero-width space inside "interview", say): search what the
        # detector will see.
        plain = clean_block(text, limit=len(text) + 1)
        return bool(self._keywords.search(plain) or self._keywords.search(html_to_text(plain)))

    def keywords_in(self, text: str) -> list[str]:
        """The `[detect] keywords` found in `text`, lower-cased, each once."""
        return _found(self._keywords, text)

    def excluded_in(self, title: str) -> list[str]:
        """The `[detect] exclude` words found in a title, lower-cased, each once."""
        return _found(self._exclude, title)

    def is_me(self, who: Attendee) -> bool:
        return who.is_self or who.email.lower() in self.me.addresses

    def why_dropped(self, who: Attendee) -> str | None:
        """Why a person of the event gets no draft (the user, a room, a robot, someone
        who declined), or None when they are one of its recipients."""
        if self.is_me(who):
            return "that is you"
        if who.cutype in (Cutype.ROOM, Cutype.RESOURCE):
            return f"a {who.cutype} (not a person)"
        if who.cutype == Cutype.GROUP:
            return "a group, not a person"
        if not _ADDRESS.match(who.email.lower()):
            return "not an address a draft can go to"
        if is_robot(who.email.lower()):
            return "a no-reply or scheduling-tool address"
        if who.partstat == Partstat.DECLINED:
            return "they declined"
        return None

    def participation(self, event: Event) -> tuple[bool, str]:
        """(cancelled, reason): whether this event must not produce follow-ups."""
        if event.status == "cancelled":
            return True, "the event is cancelled"
        me = [a for a in event.attendees if self.is_me(a)]
        if me:
            # The user's own answer wins over an ORGANIZER naming them, which anyone who
            # sends an invitation can write; the most cautious answer if there are several.
            status = min((a.partstat for a in me), key=lambda p: _CAUTION.get(p, 1))
            if status == Partstat.DECLINED:
                return True, "you declined it"
            if status in (Partstat.ACCEPTED, Partstat.TENTATIVE):
                return False, ""
            if self.settings.require_accepted:
                return True, "you have not accepted the invitation"
            return False, ""
        if event.organizer is not None and self.is_me(event.organizer):
            return False, ""  # organised by the user, who is not listed as an attendee
        if event.organizer is None:
            # No organiser and the user not invited: an entry the user made in their own
            # calendar. (In a subscribed or shared calendar this is someone else's entry;
            # README "What is an interview" says so.)
            return False, ""
        if self.settings.require_accepted:
            return True, "you are not among its attendees (someone else's invitation)"
        return False, ""

    def _contacts(self, event: Event, description: str) -> tuple[Contact, ...]:
        found: dict[str, Contact] = {}
        people = ([event.organizer] if event.organizer else []) + list(event.attendees)
        for who in people:
            if self.why_dropped(who) is not None:
                continue
            email = who.email.lower()
            # A calendar name that holds an address (Outlook puts the address itself in
            # CN; a forged one could show another) is no name.
            name = safe_display_name(who.name) or None
            if email not in found or (name and not found[email].name):
                found[email] = Contact(email, name)
        if not found:
            for name, email in _addresses_in(description):
                if email not in self.me.addresses and email not in found:
                    found[email] = Contact(email, safe_display_name(name) or None)
        contacts = tuple(found.values())
        if len(contacts) > MAX_RECIPIENTS:
            log.warning(
                "%s lists %d people; its drafts go to the first %d only",
                clean_line(event.key, 120),
                len(contacts),
                MAX_RECIPIENTS,
            )
            contacts = contacts[:MAX_RECIPIENTS]
        return contacts

    def _role_and_company(
        self, summary: str, description: str, labelled: Fields, contacts: tuple[Contact, ...]
    ) -> tuple[str | None, str | None]:
        """`Role:`/`Company:` lines win, then the title, then the interviewers' mail domain."""
        role, company = labelled.role, labelled.company
        domain_company, label = None, None
        for contact in contacts:
            named = company_from_domain(contact.domain)
            if named:
                domain_company, label = named, registered_domain(contact.domain)[0]
                break
        people = [n for c in contacts if c.name for n in _name_forms(c.name)]
        people += [c.first_name for c in contacts if c.first_name]
        if role is None or company is None:
            title_role, title_company = read_title(
                summary,
                keywords=self._keywords,
                me=self._my_names,
                people=[p for p in people if p],
                company_hint=label,
            )
            role = role or title_role
            if title_company is not None and is_tool_name(title_company):
                title_company = None  # "Workday: Interview Scheduled - …" names the tool, not the employer
            company = company or title_company
        if company is None and domain_company is not None and label is not None:
            # The domain names the company; the title, the description or a calendar
            # name may spell it as people do ("Redwood Analytics" for redwoodanalytics).
            names = " ".join(c.name or "" for c in contacts)
            spelled = spelling_in(f"{summary}\n{description}\n{names}", label)
            company = company_name(spelled) if spelled else domain_company
        return self._without_me(role), self._without_me(company)

    def _without_me(self, text: str | None) -> str | None:
        """The user's own name never names a role or a company, even in a `Role:` line."""
        if not text:
            return None
        for name in self._my_names:
            if len(name) > 2:
                text = re.sub(rf"(?i)(?<!\w){re.escape(name)}(?!\w)", " ", text)
        text = " ".join(text.split()).strip(" -–—|:,;/()[]")
        return text or None


def _name_forms(name: str) -> list[str]:
    """ "Maya Schneider" → the ways a title may write it: "Maya Schneider", "Schneider, Maya", "Maya"."""
    words = clean_line(name, 80).replace(",", " ").split()
    if not words:
        return []
    forms = [" ".join(words), words[0]]
    if len(words) > 1:
        forms += [f"{words[-1]} {' '.join(words[:-1])}", f"{words[0]} {words[-1]}", f"{words[0]} {words[-1][0]}."]
    return forms


def _person(who: Attendee) -> bool:
    if who.cutype in (Cutype.ROOM, Cutype.RESOURCE, Cutype.GROUP):
        return False
    email = who.email.lower()
    if not _ADDRESS.match(email):
        return False
    return not is_robot(email)


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


def _found(pattern: re.Pattern[str] | None, text: str) -> list[str]:
    if pattern is None:
        return []
    return list(dict.fromkeys(m.group(0).lower() for m in pattern.finditer(text)))


def _phrases(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    parts = [r"\s+".join(re.escape(w) for w in word.split()) for word in words]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


# "Interview with the Backend candidate", "interviewing a candidate": the user sits on
# the other side of the table. The exclude words in a title say the same of a title.
_INTERVIEWER = re.compile(
    r"(?i)\b(?:interview(?:ing)?|screen(?:ing)?|meet(?:ing)?)\s+(?:with\s+)?(?:the|a|an|our|this|one)\s+"
    r"(?:[\w'’/-]+\s+){0,4}?candidates?\b"
)


@dataclass(frozen=True)
class Fields:
    """What a description (or `followupd note` text) says in its labelled lines."""

    role: str | None
    company: str | None
    notes: str | None


_LABEL = re.compile(
    r"(?im)^\s*(?:role|position|stelle|poste|puesto|company|employer|unternehmen|firma|entreprise|empresa"
    r"|notes?|notizen|notiz|remarques?|notas?)\s*:"
)


def read_fields(text: str, unlabelled_is_notes: bool = False) -> Fields:
    """`Role:`, `Company:` and `Notes:` lines, the one parser for event descriptions and
    the user's own notes. With `unlabelled_is_notes` (a note the user typed), text with
    no label at all is all notes."""
    if unlabelled_is_notes and not _LABEL.search(text):
        return Fields(None, None, text.strip() or None)
    return Fields(
        _field(text, "role", "position", "stelle", "poste", "puesto"),
        _field(text, "company", "employer", "unternehmen", "firma", "entreprise", "empresa"),
        _notes(text),
    )


def _notes(description: str) -> str | None:
    match = re.search(
        r"^\s*(?:notes?|notizen|notiz|remarques?|notas?)\s*:(.*)", description, re.IGNORECASE | re.MULTILINE | re.DOTALL
    )
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
