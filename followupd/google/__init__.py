"""Google sign-in and API access, shared by the Google Calendar source and the Gmail mailbox.

This package file stays light (no Google libraries): the CLI imports it for the scope
list, and the heavy client libraries load only in the modules that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from followupd.errors import ConfigError, Problem
from followupd.urls import cleartext

if TYPE_CHECKING:
    from followupd.config import Config

HINT = "followupd auth google"

# As few scopes as the features need (README "Google Calendar and Gmail" says why each).
CALENDAR_READ = "https://www.googleapis.com/auth/calendar.events.readonly"
GMAIL_COMPOSE = "https://www.googleapis.com/auth/gmail.compose"  # drafts: create, list, get, delete
GMAIL_READ = "https://www.googleapis.com/auth/gmail.readonly"  # history, headers, search
# Never requested: gmail.metadata forbids the `q` search and its restrictions win even
# when granted together with gmail.readonly.
GMAIL_METADATA = "https://www.googleapis.com/auth/gmail.metadata"

CALENDAR_SCOPES = (CALENDAR_READ,)
GMAIL_SCOPES = (GMAIL_COMPOSE, GMAIL_READ)


def scopes_for(config: Config) -> tuple[str, ...]:
    """The scopes the configured calendar and mailbox kinds need, in a stable order."""
    scopes: list[str] = []
    if config.calendar.kind == "google":
        scopes += CALENDAR_SCOPES
    if config.mailbox.kind == "gmail":
        scopes += GMAIL_SCOPES
    return tuple(scopes)


def account_for(config: Config) -> str:
    """Which stored sign-in to use: `[google] account`, else `[me] email`."""
    return config.google.account or config.me.email


def clear_text(url: str) -> str | None:
    """Why `url` would send credentials in clear text, or None when it is fine: https,
    or http to a loopback host (an emulator, a local proxy) which never leaves the machine."""
    if not cleartext(url):
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'} is not https; only a loopback host may be reached over http"


def check_endpoint(config: Config) -> None:
    """Refuse `[google] endpoint = "http://…"` to another machine: every request carries
    the access token, which would travel in clear text."""
    endpoint = config.google.endpoint
    problem = clear_text(endpoint) if endpoint else None
    if problem:
        raise ConfigError(
            str(config.path), [Problem("google.endpoint", f"{problem}: the access token would travel in clear text")]
        )
