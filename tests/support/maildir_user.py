"""What the user's mail client and mail server do to a Maildir, for end-to-end tests."""

from __future__ import annotations

import email
import email.policy
import itertools
import os
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

_serial = itertools.count(1)


def drafts(maildir: Path) -> list[tuple[Path, EmailMessage]]:
    result = []
    for sub in ("cur", "new"):
        for path in sorted((maildir / ".Drafts" / sub).iterdir()):
            with path.open("rb") as handle:
                result.append((path, email.message_from_binary_file(handle, policy=email.policy.default)))
    return result


def only_draft(maildir: Path) -> tuple[Path, EmailMessage]:
    found = drafts(maildir)
    assert len(found) == 1, [str(m["Subject"]) for _, m in found]
    return found[0]


def send(maildir: Path, path: Path, at: datetime) -> Path:
    """The user presses Send: the draft leaves Drafts and its copy is filed in Sent."""
    target = maildir / ".Sent" / "cur" / (path.name.split(":")[0] + ":2,S")
    path.rename(target)
    os.utime(target, (at.timestamp(), at.timestamp()))
    return target


def edit(path: Path, body: str) -> None:
    """Like mutt or Thunderbird: save the edited draft as a new file, drop the old one."""
    with path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    message.set_content(body)
    new = path.parent / f"{path.name.split(':')[0]}.edited:2,DS"
    new.write_bytes(message.as_bytes())
    path.unlink()


def deliver(maildir: Path, raw: str | bytes, at: datetime, folder: str = "") -> Path:
    base = maildir / f".{folder}" if folder else maildir
    name = f"{int(at.timestamp())}.M{next(_serial)}P{os.getpid()}.test"
    tmp = base / "tmp" / name
    tmp.write_bytes(raw.encode() if isinstance(raw, str) else raw)
    os.utime(tmp, (at.timestamp(), at.timestamp()))
    target = base / "new" / name
    tmp.rename(target)
    return target


def mail(
    sender: str = "Jane Doe <jane.doe@acme.io>",
    subject: str = "Re: Thank you – Backend Engineer interview",
    date: str = "Thu, 05 Nov 2026 16:00:00 +0000",
    headers: str = "",
    body: str = "Thanks Ada, we'll be in touch.",
    to: str = "Ada Lovelace <ada@example.org>",
    message_id: str | None = None,
) -> str:
    mid = message_id or f"<{next(_serial)}.reply@acme.io>"
    extra = "".join(f"{line}\n" for line in headers.strip().splitlines() if line.strip())
    return f"From: {sender}\nTo: {to}\nSubject: {subject}\nDate: {date}\nMessage-ID: {mid}\n{extra}\n{body}\n"
