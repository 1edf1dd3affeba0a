"""Render a step's Jinja2 template into a MIME draft with a deterministic Message-ID."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from email import errors
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from followupd.config import Config, Me, ResolvedStep
from followupd.draft_check import verify
from followupd.errors import ConfigError, FollowupdError, Problem
from followupd.model import MESSAGE_ID_PREFIX, Contact, Interview, ThreadHint
from followupd.notes import point_from
from followupd.people import MAX_RECIPIENTS, first_name, is_role_mailbox, safe_display_name
from followupd.text import clean_block, clean_line

log = logging.getLogger(__name__)

_MSG_ID = re.compile(r"^<[^<>\s@]{1,200}@[^<>\s@]{1,200}>$")


class MissingValue(jinja2.exceptions.TemplateRuntimeError):
    """A template printed a value this interview does not have (no role, say)."""


def _finalize(value: Any) -> Any:
    # StrictUndefined catches unknown names; this catches known names without a value,
    # which would otherwise print "None" into someone's email.
    if value is None:
        raise MissingValue(
            "a value printed here is empty for this interview; guard it, e.g. {% if role %}…{% endif %} "
            'or {{ role or "the position" }}'
        )
    return value


def message_id(interview_uid: str, step: str, me: Me, person: str | None = None) -> str:
    """The same (event UID, occurrence, step[, person]) always gives the same
    Message-ID, so a draft can be found again after a crash or a lost state dir. A
    per-person draft adds its recipient; the others keep the IDs they always had."""
    key = f"{interview_uid}\x00{step}" + (f"\x00{person.lower()}" if person else "")
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = me.email.rsplit("@", 1)[1]
    return f"{MESSAGE_ID_PREFIX}{digest}@{domain}>"


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


class Composer:
    """Loads templates from the user's templates dir first, then the bundled ones."""

    def __init__(self, me: Me, zone: tzinfo, user_dir: Path | None) -> None:
        self.me = me
        self.zone = zone
        loaders: list[jinja2.BaseLoader] = []
        if user_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(user_dir)))
        loaders.append(jinja2.PackageLoader("followupd", "templates"))
        self.env = SandboxedEnvironment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            finalize=_finalize,
            autoescape=False,
            keep_trailing_newline=False,
        )

    def template_source(self, name: str) -> str:
        loader = self.env.loader
        assert loader is not None
        source, filename, _ = loader.get_source(self.env, name)
        return filename or name

    def render(self, step: ResolvedStep, interview: Interview, now: datetime) -> Rendered:
        """Render; raise ConfigError naming the template and line on any template problem."""
        return self.render_context(step, self.context(interview, now))

    def render_context(self, step: ResolvedStep, context: dict[str, Any]) -> Rendered:
        try:
            text = self.env.get_template(step.template).render(context)
        except jinja2.TemplateNotFound:
            raise ConfigError(
                f"template {step.template}",
                [
                    Problem(
                        f"steps.{step.name}",
                        f"no template named {step.template!r} in your templates dir or the bundled ones",
                    )
                ],
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(
                f"template {exc.filename or step.template}", [Problem("", exc.message or str(exc), exc.lineno)]
            ) from None
        except (jinja2.UndefinedError, jinja2.exceptions.SecurityError) as exc:
            filename = self._filename(step.template)
            names = ", ".join(sorted(context))
            raise ConfigError(
                f"template {filename}", [Problem("", f"{exc}; available names: {names}", _line_in(exc, filename))]
            ) from None
        except Exception as exc:  # noqa: BLE001 - any runtime error in a user's template is a template problem
            filename = self._filename(step.template)
            raise ConfigError(
                f"template {filename}",
                [Problem("", f"{type(exc).__name__}: {exc}", _line_in(exc, filename))],
            ) from None
        return _split(text, step.template)

    def _filename(self, name: str) -> str:
        try:
            return self.template_source(name)
        except jinja2.TemplateNotFound:
            return name

    def compose(
        self,
        step: ResolvedStep,
        interview: Interview,
        now: datetime,
        thread: ThreadHint | None = None,
        person: str | None = None,
    ) -> EmailMessage:
        if person is not None:  # one draft per person: to them alone, greeting them alone
            interview = replace(interview, contacts=tuple(c for c in interview.contacts if c.email == person))
            if not interview.contacts:
                raise FollowupdError(f"{clean_line(person, 120)} is no longer among the people of {interview.uid}")
        rendered = self.render(step, interview, now)
        contacts = _recipients(interview)
        if not contacts:
            raise FollowupdError(f"{clean_line(interview.uid, 120)} has no address a draft can go to")
        message = EmailMessage(policy=SMTP)
        sender = Address(display_name=safe_display_name(self.me.name), addr_spec=self.me.email)
        to = [Address(display_name=safe_display_name(c.name), addr_spec=c.email) for c in contacts]
        message["From"] = sender
        message["To"] = to
        subject = rendered.subject
        expected = ["from", "to", "subject", "date", "message-id"]
        if thread is not None:
            original = clean_line(thread.subject, 200)
            subject = original if re.match(r"(?i)^re:", original) else f"Re: {original}"
            in_reply_to = clean_line(thread.in_reply_to, 500)
            refs = [
                r for r in (clean_line(r, 500) for r in (*thread.references, thread.in_reply_to)) if _MSG_ID.match(r)
            ]
            if _MSG_ID.match(in_reply_to):
                message["In-Reply-To"] = in_reply_to
                expected.append("in-reply-to")
            if refs:
                message["References"] = " ".join(dict.fromkeys(refs))
                expected.append("references")
        message["Subject"] = subject
        message["Date"] = format_datetime(now.astimezone(self.zone))
        ident = message_id(interview.uid, step.name, self.me, person)
        message["Message-ID"] = ident
        message.set_content(rendered.body + "\n")
        # The bytes a mailbox will store, parsed back: any header the text smuggled in,
        # or one it pushed out, shows up here and the draft is refused.
        verify(
            message,
            interview_uid=interview.uid,
            headers=expected,
            sender=self.me.email,
            recipients=[c.email for c in contacts],
            subject=subject,
            message_id=ident,
        )
        return message

    def context(self, interview: Interview, now: datetime) -> dict[str, Any]:
        contacts = _recipients(interview)
        people = [c for c in contacts if not is_role_mailbox(c)]
        firsts = [first_name(c) for c in people]
        names = _join([f for f in firsts if f]) if people and all(firsts) else ""
        role = clean_line(interview.role or "", 100) or None
        company = clean_line(interview.company or "", 100) or None
        if names:
            greeting = f"Hi {names},"
        elif contacts and not people and company:
            greeting = f"Hi {company} team,"  # a role mailbox alone: no first name to use
        else:
            greeting = "Hello,"
        point = point_from(interview.notes)
        start = interview.start.astimezone(self.zone)
        my_name = clean_line(self.me.name, 100)
        return {
            "me": {"name": my_name, "email": self.me.email, "first_name": (my_name.split() or [""])[0]},
            "contacts": [
                {
                    "name": safe_display_name(c.name),
                    "first_name": first_name(c) or "",
                    "email": c.email,
                    "role_mailbox": is_role_mailbox(c),
                }
                for c in contacts
            ],
            "names": names,
            "greeting": greeting,
            "role": role,
            "company": company,
            "position": _position(role, company),
            "notes": clean_block(interview.notes or "") or None,
            "point": point.text if point else None,
            "point_is_sentence": bool(point and point.is_sentence),
            "title": clean_line(interview.title),
            "start": start,
            "when": _when(start, now.astimezone(self.zone)),
            "interview_day": f"{start:%A} {start.day} {start:%B}",
        }


def _recipients(interview: Interview) -> tuple[Contact, ...]:
    contacts = []
    for contact in interview.contacts:
        try:
            Address(addr_spec=contact.email)
        except (ValueError, IndexError, errors.HeaderParseError) as exc:  # a defect is a ValueError
            log.warning(
                "%s: %r is not an address a draft can go to (%s)", clean_line(interview.uid, 120), contact.email, exc
            )
            continue
        contacts.append(contact)
    if len(contacts) > MAX_RECIPIENTS:
        log.warning(
            "%s lists %d people; the draft goes to the first %d only",
            clean_line(interview.uid, 120),
            len(contacts),
            MAX_RECIPIENTS,
        )
    return tuple(contacts[:MAX_RECIPIENTS])


def _split(text: str, name: str) -> Rendered:
    lines = text.strip("\n").split("\n")
    if not lines or not lines[0].lower().startswith("subject:"):
        raise ConfigError(
            f"template {name}",
            [Problem("", "the first line must be `Subject: …`, then a blank line, then the body", 1)],
        )
    subject = clean_line(lines[0].split(":", 1)[1])
    body = "\n".join(lines[1:]).strip("\n")
    body = re.sub(r"\n{3,}", "\n\n", body)
    if not subject or not body.strip():
        raise ConfigError(f"template {name}", [Problem("", "renders an empty subject or body")])
    return Rendered(subject, body)


def _join(names: list[str]) -> str:
    names = [clean_line(n, 40) for n in names]
    unique = list(dict.fromkeys(names))
    if len(unique) <= 1:
        return "".join(unique)
    return ", ".join(unique[:-1]) + " and " + unique[-1]


def _position(role: str | None, company: str | None) -> str:
    # Without a role the draft says "the position", never an empty or a guessed name.
    if role and company:
        return f"the {role} role at {company}"
    if role:
        return f"the {role} role"
    if company:
        return f"the position at {company}"
    return "the position"


def _when(start: datetime, now: datetime) -> str:
    days = (now.date() - start.date()).days
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"on {start:%A}"
    return f"on {start:%A} {start.day} {start:%B}"


def _line_in(exc: BaseException, filename: str) -> int | None:
    # Jinja2 rewrites tracebacks so that template frames carry the template's file and line.
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def check_templates(config: Config, now: datetime) -> list[str]:
    """Render every step's template against the interviews that really occur (one
    contact, several, a role mailbox with no first name, no role, no company, notes or
    none); return "step: template file" lines, or raise ConfigError listing every
    problem with the case it appeared in. Used by `followupd check` and by the daemon on
    start and reload."""
    composer = Composer(config.me, config.me.timezone, config.templates_dir)
    problems: list[Problem] = []
    sources: list[str] = []
    for step in config.steps:
        seen: set[str] = set()
        for label, interview in sample_interviews(now):
            try:
                composer.render(step, interview, now)
            except ConfigError as exc:
                for p in exc.problems:
                    key = f"{exc.source}|{p.message}|{p.line}"
                    if key not in seen:
                        seen.add(key)
                        where = exc.source + (f" {p.where}" if p.where else "")
                        problems.append(Problem(where, f"{p.message} (for an interview with {label})", p.line))
        if not seen:
            sources.append(f"{step.name}: {composer.template_source(step.template)}")
    if problems:
        raise ConfigError(str(config.templates_dir), problems)
    return sources


def sample_interviews(now: datetime) -> list[tuple[str, Interview]]:
    """Made-up interviews shaped like real ones, for `followupd check`."""
    base = Interview(
        uid="followupd-check",
        title="Interview: Backend Engineer at Example",
        start=now - timedelta(days=1, hours=2),
        end=now - timedelta(days=1, hours=1),
        contacts=(Contact("jane.doe@example.com", "Jane Doe"),),
        company="Example",
        role="Backend Engineer",
        notes="their move to event sourcing",
    )
    several = (Contact("jane.doe@example.com", "Jane Doe"), Contact("tom.baker@example.com", "Tom Baker"))
    nameless = (Contact("talent@example.com", "Talent Acquisition"), Contact("jd@example.com"))
    return [
        ("one contact, a role, a company and notes", base),
        ("several contacts", replace(base, contacts=several)),
        ("no first name to greet", replace(base, contacts=nameless)),
        ("only a role mailbox", replace(base, contacts=nameless[:1])),
        ("no role", replace(base, role=None)),
        ("no company", replace(base, company=None)),
        ("no role and no company", replace(base, role=None, company=None)),
        ("no notes", replace(base, notes=None)),
        ("a note written as a sentence", replace(base, notes="I enjoyed hearing how your team ships weekly.")),
        ("nothing but an address", replace(base, contacts=nameless[1:], role=None, company=None, notes=None)),
    ]


def render_for_reading(message: EmailMessage) -> str:
    """A draft as a person reads it: the main headers, decoded, then the body."""
    lines = [
        f"{name}: {message[name]}" for name in ("From", "To", "Subject", "In-Reply-To", "Message-ID") if message[name]
    ]
    body = message.get_body(("plain",))
    return "\n".join(lines) + "\n\n" + (body.get_content() if body is not None else "")  # type: ignore[union-attr]
