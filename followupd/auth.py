"""`followupd auth SERVICE`: put credentials where the backends look for them.

Part of the CLI layer: the backends only *read* secrets (followupd.secrets); proving
and storing them, and asking the user, happens here. Each function returns what to
tell the user; the CLI prints it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from followupd.config import Config
from followupd.errors import FollowupdError
from followupd.secrets import CommandSecret, SecretStore


def main(config: Config, args: argparse.Namespace, show: Callable[[str], None]) -> str:
    if args.service == "google":
        from followupd.google import signin

        return signin.main(config, args, show)
    if args.service == "imap":
        return auth_imap(config)
    if args.service == "caldav":
        return auth_caldav(config)
    raise AssertionError(args.service)


def auth_imap(config: Config) -> str:
    """`followupd auth imap`: ask for the password, log in once to check it, store it."""
    from followupd.config import ImapSettings
    from followupd.mailboxes.imap_conn import address, connect, logout

    settings = config.mailbox
    if not isinstance(settings, ImapSettings):
        raise FollowupdError(f'[mailbox] kind is {settings.kind!r} in {config.path}; `auth imap` is for kind = "imap"')

    def login(secret: str) -> str:
        logout(connect(settings, secret))
        return ""

    return sign_in_with_password(
        SecretStore.for_config(config),
        "imap",
        "mailbox",
        settings.username,
        address(settings),
        settings.password_command,
        login,
    )


def auth_caldav(config: Config) -> str:
    """`followupd auth caldav`: ask for the password, log in once to check it, store it."""
    from followupd.calendars.caldav import client, server_name, translated
    from followupd.config import CaldavSettings

    settings = config.calendar
    if not isinstance(settings, CaldavSettings):
        raise FollowupdError(
            f'[calendar] kind is {settings.kind!r} in {config.path}; `auth caldav` is for kind = "caldav"'
        )

    def login(secret: str) -> str:
        dav = client(settings, secret)
        try:
            with translated(settings):
                calendars = dav.principal().get_calendars()
        finally:
            dav.close()
        return "calendars: " + (", ".join(str(c.get_display_name() or c.url) for c in calendars) or "none yet")

    server = server_name(settings)
    return sign_in_with_password(
        SecretStore.for_config(config),
        "caldav",
        "calendar",
        settings.username,
        server,
        settings.password_command,
        login,
    )


def sign_in_with_password(
    store: SecretStore,
    kind: str,
    section: str,
    username: str,
    server: str,
    password_command: str | None,
    login: Callable[[str], str],
) -> str:
    """Get the password (password_command, else a prompt), prove it with `login(password)`
    (which returns a detail to show, and raises AuthError when refused), then store it —
    unless password_command provides it anyway."""
    if password_command:
        secret = CommandSecret(password_command, section).get(kind, username) or ""
    else:
        secret = read_password(f"{kind.upper() if kind == 'imap' else 'CalDAV'} password for {username} at {server}: ")
    detail = login(secret)
    detail = f" ({detail})" if detail else ""
    if password_command:
        return f"Logged in to {server} as {username}{detail} with {section}.password_command; nothing to store."
    store.set(kind, username, secret)
    return f"Logged in to {server} as {username}{detail}; the password is stored in {store.where()}."


def read_password(prompt: str) -> str:
    """Ask without echo on a terminal, or read one line from stdin when it is piped
    (`pass show mail | followupd auth imap`).

    getpass alone would not do: it prefers /dev/tty even when stdin is a pipe.
    """
    import getpass

    if sys.stdin is not None and sys.stdin.isatty():
        secret = getpass.getpass(prompt)
    else:
        secret = (sys.stdin.readline() if sys.stdin is not None else "").rstrip("\r\n")
    if not secret:
        raise FollowupdError("no password given; nothing stored")
    return secret
