"""Render a step's Jinja2 template into a MIME draft with a deterministic Message-ID."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from followupd.config import Config, Me, ResolvedStep
from followupd.errors import ConfigError, Problem
from followupd.model import MESSAGE_ID_PREFIX, Contact, Interview, ThreadHint
from followupd.text import clean_block, clean_line


def message_id(interview_uid: str, step: str, me: Me) -> str:
    """The same (event UID, occurrence, step) always gives the same Message-ID, so a
    draft can be found again after a crash or a lost state dir."""
    digest = hashlib.sha256(f"{interview_uid}\x00{step}".encode()).hexdigest()[:32]
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
        try:
            text = self.env.get_template(step.template).render(self.context(interview, now))
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
        except (jinja2.UndefinedError, jinja2.exceptions.SecurityError, TypeError, ValueError) as exc:
            filename = self._filename(step.template)
            names = ", ".join(sorted(self.context(interview, now)))
            raise ConfigError(
                f"template {filename}", [Problem("", f"{exc}; available names: {names}", _line_in(exc, filename))]
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
    ) -> EmailMessage:
        rendered = self.render(step, interview, now)
        message = EmailMessage(policy=SMTP)
        message["From"] = Address(clean_line(self.me.name, 100), addr_spec=self.me.email)
        message["To"] = [_address(c) for c in interview.contacts]
        subject = rendered.subject
        if thread is not None:
            original = clean_line(thread.subject, 200)
            subject = original if re.match(r"(?i)^re:", original) else f"Re: {original}"
            message["In-Reply-To"] = clean_line(thread.in_reply_to, 500)
            refs = [clean_line(r, 500) for r in (*thread.references, thread.in_reply_to) if r]
            message["References"] = " ".join(dict.fromkeys(refs))
        message["Subject"] = subject
        message["Date"] = format_datetime(now.astimezone(self.zone))
        message["Message-ID"] = message_id(interview.uid, step.name, self.me)
        message.set_content(rendered.body + "\n")
        return message

    def context(self, interview: Interview, now: datetime) -> dict[str, Any]:
        firsts = [c.first_name for c in interview.contacts]
        names = _join([f for f in firsts if f]) if firsts and all(firsts) else ""
        role = clean_line(interview.role or "", 100) or None
        company = clean_line(interview.company or "", 100) or None
        point = _point(interview.notes)
        start = interview.start.astimezone(self.zone)
        return {
            "me": {"name": self.me.name, "email": self.me.email, "first_name": self.me.name.split()[0]},
            "contacts": [
                {"name": clean_line(c.name or "", 80), "first_name": c.first_name or "", "email": c.email}
                for c in interview.contacts
            ],
            "names": names,
            "role": role,
            "company": company,
            "position": _position(role, company),
            "notes": clean_block(interview.notes or "") or None,
            "point": point,
            "point_is_sentence": bool(point and point[-1] in ".!?"),
            "title": clean_line(interview.title),
            "start": start,
            "when": _when(start, now.astimezone(self.zone)),
            "interview_day": f"{start:%A} {start.day} {start:%B}",
        }


def _address(contact: Contact) -> Address:
    local, _, domain = contact.email.partition("@")
    return Address(clean_line(contact.name or "", 80), username=local, domain=domain)


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
    if role and company:
        return f"the {role} role at {company}"
    if role:
        return f"the {role} role"
    if company:
        return f"the role at {company}"
    return "the role"


def _point(notes: str | None) -> str | None:
    """The first thing the user jotted under `Notes:`, as one clean phrase."""
    for line in clean_block(notes or "").split("\n"):
        line = line.strip().lstrip("-*•").strip()
        if not line:
            continue
        first, _, rest = line.partition(" ")
        if line[-1] not in ".!?" and first.lower() in _FUNCTION_WORDS:
            line = " ".join(filter(None, (first.lower(), rest)))  # it continues our sentence
        return line
    return None


_FUNCTION_WORDS = {"the", "a", "an", "their", "your", "our", "my", "his", "her", "how", "what", "why", "when", "where"}


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
    """Render every step's template for a sample interview, with and without the
    optional facts; return "step: template file" lines, or raise ConfigError listing
    every problem. Used by `followupd check` and by the daemon on start and reload."""
    composer = Composer(config.me, config.me.timezone, config.templates_dir)
    sample = sample_interview(now)
    bare = replace(sample, notes=None, role=None, company=None, contacts=())
    problems: list[Problem] = []
    sources: list[str] = []
    for step in config.steps:
        try:
            for interview in (sample, bare):
                composer.render(step, interview, now)
            sources.append(f"{step.name}: {composer.template_source(step.template)}")
        except ConfigError as exc:
            problems += [
                Problem(exc.source + (f" {p.where}" if p.where else ""), p.message, p.line) for p in exc.problems
            ]
    if problems:
        raise ConfigError(str(config.templates_dir), problems)
    return sources


def sample_interview(now: datetime) -> Interview:
    """A made-up interview to check that templates render, for `followupd check`."""
    return Interview(
        uid="followupd-check",
        title="Interview: Backend Engineer at Example",
        start=now - timedelta(days=1, hours=2),
        end=now - timedelta(days=1, hours=1),
        contacts=(Contact("jane.doe@example.com", "Jane Doe"),),
        company="Example",
        role="Backend Engineer",
        notes="their move to event sourcing",
    )
