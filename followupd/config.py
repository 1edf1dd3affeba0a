"""Load `config.toml` into frozen, typed objects; report every problem at once.

Each section is a dataclass; a field's `metadata["conv"]` turns the TOML value into
the typed value or raises `ValueError` with a message for the user. Unknown sections
and keys are problems too, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from followupd.errors import ConfigError, Problem
from followupd.urls import redact

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_KEYWORDS = (
    "interview",
    "phone screen",
    "screening call",
    "technical screen",
    "tech screen",
    "onsite",
    "on-site",
    "hiring manager",
    "recruiter call",
    "recruiter screen",
    "final round",
    "vorstellungsgespräch",
    "bewerbungsgespräch",
    "kennenlerngespräch",
    "telefoninterview",
    "entretien",
    "entrevista",
)
DEFAULT_EXCLUDE = ("mock", "practice", "prep", "preparation", "candidate", "debrief")

# ---------------------------------------------------------------- converters

_DURATION_PART = re.compile(r"(\d+)\s*([wdhms])")
_UNIT = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: Any) -> timedelta:
    if not isinstance(value, str):
        raise ValueError(f'expected a duration string such as "24h" or "7d", got {value!r}')
    text = value.strip().lower()
    if not text or _DURATION_PART.sub("", text).strip():
        raise ValueError(f'{value!r} is not a duration; use numbers with units w, d, h, m, s, e.g. "48h", "1d12h"')
    seconds = sum(int(n) * _UNIT[u] for n, u in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)


def _poll(value: Any) -> timedelta:
    duration = parse_duration(value)
    if duration < timedelta(seconds=1):
        raise ValueError(f'{value!r} is too short; poll at most once a second, e.g. "5m"')
    return duration


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__} {value!r}")
    return value


def _nonempty(value: Any) -> str:
    text = _string(value).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError(f"expected a port number 1-65535, got {value!r}")
    return value


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return tuple(v.strip() for v in value if v.strip())


_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$")


def _address(value: Any) -> str:
    text = _nonempty(value)
    if not _ADDRESS.match(text):
        raise ValueError(f"{text!r} is not an email address")
    return text.lower()


def _addresses(value: Any) -> tuple[str, ...]:
    return tuple(_address(v) for v in _strings(value))


def _zone(value: Any) -> ZoneInfo:
    name = _nonempty(value)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown time zone {name!r}; use an IANA name such as "Europe/London"') from None


def _path(value: Any) -> Path:
    return Path(os.path.expandvars(_nonempty(value))).expanduser()


def _hours(value: Any) -> tuple[time, time]:
    text = _nonempty(value)
    match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", text)
    if not match:
        raise ValueError(f'{text!r} is not a range of hours; write e.g. "09:00-18:00"')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        start, end = time(h1, m1), time(h2, m2) if (h2, m2) != (24, 0) else time.max
    except ValueError:
        raise ValueError(f"{text!r} has an impossible time of day") from None
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end


def _weekdays(value: Any) -> tuple[int, ...]:
    days = _strings(value)
    bad = [d for d in days if d.lower()[:3] not in WEEKDAYS]
    if bad:
        raise ValueError(f"unknown weekday {bad[0]!r}; use mon, tue, wed, thu, fri, sat, sun")
    return tuple(sorted({WEEKDAYS.index(d.lower()[:3]) for d in days}))


def _choice(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        text = _string(value)
        if text not in choices:
            raise ValueError(f"{text!r} is not one of: {', '.join(choices)}")
        return text

    return convert


def _url(value: Any) -> str:
    text = _nonempty(value)
    if text.startswith("webcal://"):
        text = "https://" + text[len("webcal://") :]
    if not re.match(r"^https?://[^\s/]+", text):
        raise ValueError(f"{text!r} is not an http(s) URL")
    return text


def _conv(fn: Callable[[Any], Any], default: Any = dataclasses.MISSING) -> Any:
    if default is dataclasses.MISSING:
        return field(metadata={"conv": fn})
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for defaults")
    return field(default=default, metadata={"conv": fn})


# ---------------------------------------------------------------- sections


def _system_zone() -> ZoneInfo:
    tz = os.environ.get("TZ", "").lstrip(":")
    candidates = [tz] if tz else []
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text().strip())
    except OSError:
        pass
    for name in candidates:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


@dataclass(frozen=True, kw_only=True)
class Me:
    name: str = _conv(_nonempty)
    email: str = _conv(_address)
    aliases: tuple[str, ...] = _conv(_addresses, ())
    timezone: ZoneInfo = field(default_factory=_system_zone, metadata={"conv": _zone})

    @property
    def addresses(self) -> frozenset[str]:
        return frozenset((self.email, *self.aliases))


@dataclass(frozen=True, kw_only=True)
class IcsCalendar:
    kind: str = "ics"
    path: Path | None = _conv(_path, None)
    url: str | None = _conv(_url, None)
    timeout: timedelta = _conv(parse_duration, timedelta(seconds=30))

    @property
    def label(self) -> str:
        if self.url:
            # A private feed's path is a secret (Google's "secret address"): show the host only.
            scheme, _, rest = self.url.partition("://")
            return f"ICS feed {scheme}://{re.split(r'[/?#]', rest, maxsplit=1)[0].rsplit('@', 1)[-1]}/…"
        return f"ICS {self.path}"


@dataclass(frozen=True, kw_only=True)
class GoogleCalendar:
    kind: str = "google"
    calendars: tuple[str, ...] = _conv(_strings, ("primary",))

    @property
    def label(self) -> str:
        return f"Google Calendar ({', '.join(self.calendars)})"


@dataclass(frozen=True, kw_only=True)
class CaldavCalendar:
    kind: str = "caldav"
    url: str = _conv(_url)
    username: str = _conv(_nonempty)
    calendars: tuple[str, ...] = _conv(_strings, ())
    password_command: str | None = _conv(_nonempty, None)
    timeout: timedelta = _conv(parse_duration, timedelta(seconds=30))

    @property
    def label(self) -> str:
        return f"CalDAV {redact(self.url)}"


def _folder_name(value: Any) -> str:
    text = _nonempty(value)
    if text.startswith(("/", ".")) or any(part in ("", ".", "..") for part in text.split("/")):
        raise ValueError(f"{text!r} is not a folder name (no leading '/' or '.', no '..')")
    return text


@dataclass(frozen=True, kw_only=True)
class MaildirMailbox:
    kind: str = "maildir"
    path: Path = _conv(_path)
    # None: detected from the tree (cur/ at `path`: Maildir++; `path`/INBOX/cur: verbatim).
    layout: str | None = _conv(_choice("maildir++", "verbatim"), None)
    inbox: str = _conv(_folder_name, "INBOX")  # verbatim layout only
    drafts: str = _conv(_folder_name, "Drafts")
    sent: str = _conv(_folder_name, "Sent")
    create_folders: bool = _conv(_bool, False)

    @property
    def label(self) -> str:
        return f"Maildir {self.path}"


@dataclass(frozen=True, kw_only=True)
class ImapMailbox:
    kind: str = "imap"
    host: str = _conv(_nonempty)
    username: str = _conv(_nonempty)
    port: int | None = _conv(_port, None)
    security: str = _conv(_choice("tls", "starttls", "none"), "tls")
    password_command: str | None = _conv(_nonempty, None)
    drafts: str | None = _conv(_nonempty, None)
    sent: str | None = _conv(_nonempty, None)
    inbox: str = _conv(_nonempty, "INBOX")
    timeout: timedelta = _conv(parse_duration, timedelta(seconds=60))

    @property
    def label(self) -> str:
        return f"IMAP {self.username}@{self.host}"

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 993 if self.security == "tls" else 143


@dataclass(frozen=True, kw_only=True)
class GmailMailbox:
    kind: str = "gmail"

    @property
    def label(self) -> str:
        return "Gmail"


@dataclass(frozen=True, kw_only=True)
class Google:
    account: str | None = _conv(_address, None)
    endpoint: str | None = _conv(_url, None)
    timeout: timedelta = _conv(parse_duration, timedelta(seconds=30))


@dataclass(frozen=True, kw_only=True)
class Secrets:
    backend: str = _conv(_choice("keyring", "file"), "keyring")


@dataclass(frozen=True, kw_only=True)
class Detect:
    keywords: tuple[str, ...] = _conv(_strings, DEFAULT_KEYWORDS)
    exclude: tuple[str, ...] = _conv(_strings, DEFAULT_EXCLUDE)
    require_accepted: bool = _conv(_bool, True)
    # Organisers whose meetings are never interviews (the user's current employer): a
    # whole address, or "@domain" for every address there.
    exclude_organizers: tuple[str, ...] = _conv(_strings, ())


@dataclass(frozen=True, kw_only=True)
class Window:
    after: timedelta = _conv(parse_duration, timedelta(hours=24))
    before: timedelta = _conv(parse_duration, timedelta(hours=48))
    business_hours: tuple[time, time] = _conv(_hours, (time(9), time(18)))
    weekdays: tuple[int, ...] = _conv(_weekdays, (0, 1, 2, 3, 4))


@dataclass(frozen=True, kw_only=True)
class Step:
    name: str = _conv(_nonempty)
    template: str | None = _conv(_nonempty, None)
    after: timedelta | None = _conv(parse_duration, None)
    before: timedelta | None = _conv(parse_duration, None)
    # One draft per recipient, each greeting that person alone (README "One draft per person").
    per_person: bool = _conv(_bool, False)

    @property
    def template_name(self) -> str:
        return self.template or f"{self.name}.txt.j2"


@dataclass(frozen=True, kw_only=True)
class Reply:
    on_reply: str = _conv(_choice("delete-untouched", "keep"), "delete-untouched")
    free_mail_domains: tuple[str, ...] = _conv(_strings, ())
    dismiss_after: timedelta = _conv(parse_duration, timedelta(minutes=15))
    on_stale: str = _conv(_choice("keep", "delete-untouched"), "keep")


@dataclass(frozen=True, kw_only=True)
class State:
    dir: Path | None = _conv(_path, None)


@dataclass(frozen=True, kw_only=True)
class Daemon:
    poll: timedelta = _conv(_poll, timedelta(minutes=5))
    pass_timeout: timedelta = _conv(parse_duration, timedelta(minutes=10))  # "0s": no limit


@dataclass(frozen=True, kw_only=True)
class Notify:
    command: str | None = _conv(_nonempty, None)


CalendarConfig = IcsCalendar | GoogleCalendar | CaldavCalendar
MailboxConfig = MaildirMailbox | ImapMailbox | GmailMailbox
CALENDAR_KINDS: dict[str, type] = {"ics": IcsCalendar, "google": GoogleCalendar, "caldav": CaldavCalendar}
MAILBOX_KINDS: dict[str, type] = {"maildir": MaildirMailbox, "imap": ImapMailbox, "gmail": GmailMailbox}


@dataclass(frozen=True)
class ResolvedStep:
    """A step with its window filled in: step 1 counts from the interview's end,
    later steps from the moment the previous step was sent."""

    name: str
    template: str
    after: timedelta
    before: timedelta
    per_person: bool = False


@dataclass(frozen=True, kw_only=True)
class Config:
    path: Path
    me: Me
    calendar: CalendarConfig
    mailbox: MailboxConfig
    detect: Detect = Detect()
    window: Window = Window()
    steps: tuple[ResolvedStep, ...] = ()
    reply: Reply = Reply()
    state: State = State()
    google: Google = Google()
    secrets: Secrets = Secrets()
    daemon: Daemon = Daemon()
    notify: Notify = Notify()

    @property
    def state_dir(self) -> Path:
        return self.state.dir or xdg_dir("XDG_STATE_HOME", ".local/state") / "followupd"

    @property
    def templates_dir(self) -> Path:
        return self.path.parent / "templates"


# ---------------------------------------------------------------- loading


def xdg_dir(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    return Path(value) if value and os.path.isabs(value) else Path.home() / fallback


def default_config_path() -> Path:
    return xdg_dir("XDG_CONFIG_HOME", ".config") / "followupd" / "config.toml"


def find_config(explicit: str | os.PathLike[str] | None) -> Path:
    """`--config PATH`, then `$FOLLOWUPD_CONFIG`, then the XDG config file."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("FOLLOWUPD_CONFIG")
    return Path(env).expanduser() if env else default_config_path()


def load(path: Path) -> Config:
    """Read and validate the config file; raise ConfigError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path),
            [Problem("", "no such file; create one with `followupd init` or pass --config PATH")],
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [Problem("", f"cannot read it: {exc}")]) from None
    return parse(text, path)


def parse(text: str, path: Path) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [Problem("", f"not valid TOML: {exc}")]) from None
    reader = _Reader(_key_lines(text))
    config = reader.config(data, path)
    if reader.problems:
        raise ConfigError(str(path), sorted(reader.problems, key=lambda p: p.line or 1 << 30))
    assert config is not None
    return config


_SECTIONS: dict[str, type] = {
    "me": Me,
    "detect": Detect,
    "window": Window,
    "reply": Reply,
    "state": State,
    "google": Google,
    "secrets": Secrets,
    "daemon": Daemon,
    "notify": Notify,
}


class _Reader:
    def __init__(self, lines: Mapping[str, int]) -> None:
        self.lines = lines
        self.problems: list[Problem] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message, self.lines.get(where)))

    def section(self, cls: type, data: Any, where: str, skip: tuple[str, ...] = ()) -> Any:
        if data is None:
            self.problem(where, f"missing table [{where}]")
            return None
        if not isinstance(data, dict):
            self.problem(where, f"expected a table [{where}], got {data!r}")
            return None
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
        values: dict[str, Any] = {}
        for key, raw in data.items():
            if key in skip:
                continue
            spec = fields.get(key)
            if spec is None or "conv" not in spec.metadata:
                known = ", ".join(sorted(k for k, f in fields.items() if "conv" in f.metadata))
                self.problem(f"{where}.{key}", f"unknown key; known keys here: {known or 'none'}")
                continue
            try:
                values[key] = spec.metadata["conv"](raw)
            except ValueError as exc:
                self.problem(f"{where}.{key}", str(exc))
        missing = [
            name
            for name, f in fields.items()
            if "conv" in f.metadata
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
            and name not in data
        ]
        for name in missing:
            self.problem(f"{where}.{name}", "required key is missing")
        if missing or any(p.where.startswith(f"{where}.") for p in self.problems):
            return None
        return cls(**values)

    def kinded(self, kinds: dict[str, type], data: Any, where: str) -> Any:
        if not isinstance(data, dict):
            self.problem(where, f"missing table [{where}]; it needs at least kind = …")
            return None
        kind = data.get("kind")
        if kind not in kinds:
            self.problem(f"{where}.kind", f"{kind!r} is not one of: {', '.join(kinds)}")
            return None
        return self.section(kinds[kind], data, where, skip=("kind",))

    def config(self, data: dict[str, Any], path: Path) -> Config | None:
        known = {*_SECTIONS, "calendar", "mailbox", "steps"}
        for key in data:
            if key not in known:
                self.problem(key, f"unknown section; known sections: {', '.join(sorted(known))}")
        parts: dict[str, Any] = {}
        for name, cls in _SECTIONS.items():
            if name in data or name == "me":
                parts[name] = self.section(cls, data.get(name), name)
        parts["calendar"] = self.kinded(CALENDAR_KINDS, data.get("calendar"), "calendar")
        parts["mailbox"] = self.kinded(MAILBOX_KINDS, data.get("mailbox"), "mailbox")
        calendar, mailbox = parts["calendar"], parts["mailbox"]
        if isinstance(calendar, IcsCalendar) and (calendar.path is None) == (calendar.url is None):
            self.problem("calendar", "an ICS calendar needs exactly one of path = … or url = …")
        if isinstance(mailbox, ImapMailbox) and mailbox.security == "none" and not _loopback(mailbox.host):
            self.problem(
                "mailbox.security",
                f'"none" sends your password in clear text; it is only allowed for a loopback '
                f'host, not {mailbox.host!r}: use "tls" or "starttls"',
            )
        window = parts.get("window") or Window()
        if window.before <= window.after:
            self.problem("window.before", "must be later than window.after")
        steps = self.steps(data.get("steps"), window)
        if self.problems:
            return None
        parts = {k: v for k, v in parts.items() if v is not None}
        return Config(path=path, steps=steps, **parts)

    def steps(self, data: Any, window: Window) -> tuple[ResolvedStep, ...]:
        if data is None:
            return (
                ResolvedStep("thank-you", "thank-you.txt.j2", window.after, window.before),
                ResolvedStep("check-in", "check-in.txt.j2", timedelta(days=7), timedelta(days=9)),
            )
        if not isinstance(data, list) or not data:
            self.problem("steps", "expected one or more [[steps]] tables")
            return ()
        resolved: list[ResolvedStep] = []
        for index, item in enumerate(data):
            where = f"steps[{index}]"
            step = self.section(Step, item, where)
            if step is None:
                continue
            if step.name in {s.name for s in resolved}:
                self.problem(f"{where}.name", f"step {step.name!r} is listed twice")
                continue
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", step.name):
                self.problem(f"{where}.name", "use lower-case letters, digits and dashes")
                continue
            first = index == 0
            after = step.after if step.after is not None else (window.after if first else None)
            before = step.before if step.before is not None else (window.before if first else None)
            if after is None:
                self.problem(f"{where}.after", "a later step needs after = … (time after the previous step was sent)")
                continue
            if before is None:
                before = after + timedelta(days=2)
            if before <= after:
                self.problem(f"{where}.before", "must be later than after")
                continue
            if "/" in step.name:
                self.problem(f"{where}.name", "must not contain '/' (it separates a step from its person)")
                continue
            resolved.append(ResolvedStep(step.name, step.template_name, after, before, step.per_person))
        return tuple(resolved)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _key_lines(text: str) -> dict[str, int]:
    """Map "section.key" (and "steps[i].key") to the line that sets it, for messages."""
    lines: dict[str, int] = {}
    table = ""
    counts: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if match := re.match(r"^\[\[\s*([\w.-]+)\s*\]\]", stripped):
            name = match.group(1)
            counts[name] = counts.get(name, -1) + 1
            table = f"{name}[{counts[name]}]"
            lines.setdefault(table, number)
        elif match := re.match(r"^\[\s*([\w.-]+)\s*\]", stripped):
            table = match.group(1)
            lines.setdefault(table, number)
        elif match := re.match(r"^([\w-]+)\s*=", stripped):
            key = f"{table}.{match.group(1)}" if table else match.group(1)
            lines.setdefault(key, number)
    return lines
