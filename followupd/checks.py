"""What `followupd check` can tell without the network: the calendar file, the Maildir
and its folders, whether a password can be found, and a config still holding the
sample values `followupd init` wrote."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from followupd.config import CaldavSettings, Config, IcsSettings, ImapSettings, MaildirSettings
from followupd.errors import ConfigError, FollowupdError
from followupd.urls import refuse_cleartext

# What `followupd init` writes (followupd/data/config.example.toml): still there, the
# config was never edited.
SAMPLE = {"me.email": "ada@example.org", "mailbox.path": "~/Mail/example"}


def offline(config: Config, now: datetime) -> tuple[list[str], list[str]]:
    """(lines to show, problems): a problem makes `check` fail."""
    lines: list[str] = []
    problems: list[str] = []
    if config.me.email == SAMPLE["me.email"]:
        lines.append(f"note: [me] email is still the sample {SAMPLE['me.email']!r} that `followupd init` wrote")
    cal = config.calendar
    if isinstance(cal, IcsSettings) and cal.path is not None:
        lines.append(_ics(config, cal.path, now, problems))
    if isinstance(cal, CaldavSettings):
        _refused(lambda: refuse_cleartext(cal.url, "calendar.url"), problems)
        lines.append(_secret(config, "caldav", "calendar", cal.username, cal.password_command, problems))
    box = config.mailbox
    if isinstance(box, MaildirSettings):
        from followupd.mailboxes.maildir import check as check_maildir

        if str(box.path).endswith("/Mail/example"):
            lines.append(f"note: [mailbox] path is still the sample {SAMPLE['mailbox.path']!r} from `followupd init`")
        try:
            lines.append(check_maildir(box))
        except FollowupdError as exc:
            problems.append(str(exc))
    elif isinstance(box, ImapSettings):
        lines.append(_secret(config, "imap", "mailbox", box.username, box.password_command, problems))
    if cal.kind == "google" or box.kind == "gmail":
        from followupd.google import check_endpoint

        _refused(lambda: check_endpoint(config), problems)
    return lines, problems


def _refused(check: Callable[[], None], problems: list[str]) -> None:
    """A URL followupd would refuse at run time (credentials in clear text) fails `check` too."""
    try:
        check()
    except ConfigError as exc:
        problems.extend(f"{p.where}: {p.message}" for p in exc.problems)


def _ics(config: Config, path: Path, now: datetime, problems: list[str]) -> str:
    from followupd.calendars import TimeRange
    from followupd.calendars.ics import IcsSource

    if not path.exists():
        problems.append(f"calendar file {path} does not exist; check [calendar] path")
        return f"calendar file {path}: missing"
    source = IcsSource(config)
    try:
        changes = source.fetch(None, TimeRange(now - timedelta(days=60), now + timedelta(days=60)))
    except FollowupdError as exc:
        problems.append(str(exc))
        return f"calendar file {path}: does not parse"
    events = len(changes.events)  # every event: without the keyword pre-check, IcsSource parses them all
    broken = len(changes.problems)
    return f"calendar file {path}: parses, {events} event{'' if events == 1 else 's'} within 60 days" + (
        f"; {broken} broken entr{'y' if broken == 1 else 'ies'}" if broken else ""
    )


def _secret(config: Config, kind: str, section: str, username: str, command: str | None, problems: list[str]) -> str:
    if command:
        return f"{section} password: from [{section}] password_command (not run by check)"
    from followupd.secrets import SecretStore

    try:
        stored = SecretStore.for_config(config).get(kind, username) is not None
    except FollowupdError as exc:
        problems.append(f"cannot read the stored {kind} password: {exc}")
        return f"{section} password: unreadable"
    if not stored:
        problems.append(
            f"no {kind} password: set [{section}] password_command or run `followupd auth {kind}` to store one"
        )
        return f"{section} password: none"
    return f"{section} password: stored ({kind}, {username})"
