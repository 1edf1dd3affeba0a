"""The settings: one frozen dataclass per section of config.toml.

Each field declares its converter (`cv.conv`), which the loader reads the TOML value
with and config_schema describes; a field without one is not a key of the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from followupd.config import converters as cv
from followupd.urls import redact

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


def xdg_dir(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    return Path(value) if value and os.path.isabs(value) else Path.home() / fallback


@dataclass(frozen=True, kw_only=True)
class Me:
    name: str = cv.conv(cv.nonempty)
    email: str = cv.conv(cv.address)
    aliases: tuple[str, ...] = cv.conv(cv.addresses, ())
    timezone: ZoneInfo = field(default_factory=_system_zone, metadata={"conv": cv.zone})

    @property
    def addresses(self) -> frozenset[str]:
        return frozenset((self.email, *self.aliases))


@dataclass(frozen=True, kw_only=True)
class IcsSettings:
    kind: str = "ics"
    path: Path | None = cv.conv(cv.path, None)
    url: str | None = cv.conv(cv.url, None)
    timeout: timedelta = cv.conv(cv.parse_duration, timedelta(seconds=30))

    @property
    def label(self) -> str:
        if self.url:
            # A private feed's path is a secret (Google's "secret address"): show the host only.
            scheme, _, rest = self.url.partition("://")
            return f"ICS feed {scheme}://{re.split(r'[/?#]', rest, maxsplit=1)[0].rsplit('@', 1)[-1]}/…"
        return f"ICS {self.path}"


@dataclass(frozen=True, kw_only=True)
class GoogleCalendarSettings:
    kind: str = "google"
    calendars: tuple[str, ...] = cv.conv(cv.strings, ("primary",))

    @property
    def label(self) -> str:
        return f"Google Calendar ({', '.join(self.calendars)})"


@dataclass(frozen=True, kw_only=True)
class CaldavSettings:
    kind: str = "caldav"
    url: str = cv.conv(cv.url)
    username: str = cv.conv(cv.nonempty)
    calendars: tuple[str, ...] = cv.conv(cv.strings, ())
    password_command: str | None = cv.conv(cv.nonempty, None)
    timeout: timedelta = cv.conv(cv.parse_duration, timedelta(seconds=30))

    @property
    def label(self) -> str:
        return f"CalDAV {redact(self.url)}"


@dataclass(frozen=True, kw_only=True)
class MaildirSettings:
    kind: str = "maildir"
    path: Path = cv.conv(cv.path)
    # None: detected from the tree (cur/ at `path`: Maildir++; `path`/INBOX/cur: verbatim).
    layout: str | None = cv.conv(cv.choice("maildir++", "verbatim"), None)
    inbox: str = cv.conv(cv.folder_name, "INBOX")  # verbatim layout only
    drafts: str = cv.conv(cv.folder_name, "Drafts")
    sent: str = cv.conv(cv.folder_name, "Sent")
    create_folders: bool = cv.conv(cv.boolean, False)

    @property
    def label(self) -> str:
        return f"Maildir {self.path}"


@dataclass(frozen=True, kw_only=True)
class ImapSettings:
    kind: str = "imap"
    host: str = cv.conv(cv.nonempty)
    username: str = cv.conv(cv.nonempty)
    port: int | None = cv.conv(cv.port, None)
    security: str = cv.conv(cv.choice("tls", "starttls", "none"), "tls")
    password_command: str | None = cv.conv(cv.nonempty, None)
    drafts: str | None = cv.conv(cv.nonempty, None)
    sent: str | None = cv.conv(cv.nonempty, None)
    inbox: str = cv.conv(cv.nonempty, "INBOX")
    timeout: timedelta = cv.conv(cv.parse_duration, timedelta(seconds=60))

    @property
    def label(self) -> str:
        return f"IMAP {self.username}@{self.host}"

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 993 if self.security == "tls" else 143


@dataclass(frozen=True, kw_only=True)
class GmailSettings:
    kind: str = "gmail"

    @property
    def label(self) -> str:
        return "Gmail"


@dataclass(frozen=True, kw_only=True)
class Google:
    account: str | None = cv.conv(cv.address, None)
    endpoint: str | None = cv.conv(cv.url, None)
    timeout: timedelta = cv.conv(cv.parse_duration, timedelta(seconds=30))


@dataclass(frozen=True, kw_only=True)
class Secrets:
    backend: str = cv.conv(cv.choice("keyring", "file"), "keyring")


@dataclass(frozen=True, kw_only=True)
class Detect:
    keywords: tuple[str, ...] = cv.conv(cv.strings, DEFAULT_KEYWORDS)
    exclude: tuple[str, ...] = cv.conv(cv.strings, DEFAULT_EXCLUDE)
    require_accepted: bool = cv.conv(cv.boolean, True)
    # Organisers whose meetings are never interviews (the user's current employer): a
    # whole address, or "@domain" for every address there.
    exclude_organizers: tuple[str, ...] = cv.conv(cv.strings, ())


@dataclass(frozen=True, kw_only=True)
class Window:
    after: timedelta = cv.conv(cv.parse_duration, timedelta(hours=24))
    before: timedelta = cv.conv(cv.parse_duration, timedelta(hours=48))
    business_hours: tuple[time, time] = cv.conv(cv.hours, (time(9), time(18)))
    weekdays: tuple[int, ...] = cv.conv(cv.weekdays, (0, 1, 2, 3, 4))


@dataclass(frozen=True, kw_only=True)
class Step:
    name: str = cv.conv(cv.nonempty)
    template: str | None = cv.conv(cv.nonempty, None)
    after: timedelta | None = cv.conv(cv.parse_duration, None)
    before: timedelta | None = cv.conv(cv.parse_duration, None)
    # One draft per recipient, each greeting that person alone (README "One draft per person").
    per_person: bool = cv.conv(cv.boolean, False)

    @property
    def template_name(self) -> str:
        return self.template or f"{self.name}.txt.j2"


@dataclass(frozen=True, kw_only=True)
class Reply:
    on_reply: str = cv.conv(cv.choice("delete-untouched", "keep"), "delete-untouched")
    free_mail_domains: tuple[str, ...] = cv.conv(cv.strings, ())
    dismiss_after: timedelta = cv.conv(cv.parse_duration, timedelta(minutes=15))
    on_stale: str = cv.conv(cv.choice("keep", "delete-untouched"), "keep")


@dataclass(frozen=True, kw_only=True)
class StateSettings:
    dir: Path | None = cv.conv(cv.path, None)


@dataclass(frozen=True, kw_only=True)
class DaemonSettings:
    poll: timedelta = cv.conv(cv.poll, timedelta(minutes=5))
    pass_timeout: timedelta = cv.conv(cv.parse_duration, timedelta(minutes=10))  # "0s": no limit


@dataclass(frozen=True, kw_only=True)
class Notify:
    command: str | None = cv.conv(cv.nonempty, None)


CalendarConfig = IcsSettings | GoogleCalendarSettings | CaldavSettings
MailboxConfig = MaildirSettings | ImapSettings | GmailSettings
CALENDAR_KINDS: dict[str, type] = {"ics": IcsSettings, "google": GoogleCalendarSettings, "caldav": CaldavSettings}
MAILBOX_KINDS: dict[str, type] = {"maildir": MaildirSettings, "imap": ImapSettings, "gmail": GmailSettings}
# The plain tables of the file ([calendar], [mailbox] and [[steps]] are read apart).
SECTIONS: dict[str, type] = {
    "me": Me,
    "detect": Detect,
    "window": Window,
    "reply": Reply,
    "state": StateSettings,
    "google": Google,
    "secrets": Secrets,
    "daemon": DaemonSettings,
    "notify": Notify,
}


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
    state: StateSettings = StateSettings()
    google: Google = Google()
    secrets: Secrets = Secrets()
    daemon: DaemonSettings = DaemonSettings()
    notify: Notify = Notify()

    @property
    def state_dir(self) -> Path:
        return self.state.dir or xdg_dir("XDG_STATE_HOME", ".local/state") / "followupd"

    @property
    def templates_dir(self) -> Path:
        return self.path.parent / "templates"
