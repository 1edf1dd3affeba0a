"""Google sign-in and API access, shared by the Google Calendar source and the Gmail mailbox.

This package file stays light (no Google libraries): the CLI imports it for the scope
list, and the heavy client libraries load only in the modules that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
