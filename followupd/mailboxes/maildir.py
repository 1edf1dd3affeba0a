"""A local Maildir++ mailbox: INBOX at the root, folders as `.Drafts`, `.Sent`.

Drafts are written with the stdlib `mailbox` module (tmp/ then a rename into cur/,
flags `DS`). INBOX and Sent are scanned incrementally: a directory whose mtime has
not moved is not even listed, and only files that appeared since the last scan are
opened. The scan never renames a file, so the user's read/unread flags stay as they are.
"""

from __future__ import annotations

import email.policy
import json
import logging
import mailbox
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from followupd.errors import BackendError
from followupd.mailboxes import Mailbox, body_fingerprint
from followupd.mailboxes.parse import FULL_PARSE_LIMIT, header_block, message_info
from followupd.model import DraftRef, DraftState, Located, MailChanges, MessageInfo, ThreadHint

if TYPE_CHECKING:
    from followupd.config import Config
    from followupd.config import MaildirMailbox as MaildirSettings
    from followupd.secrets import SecretStore

log = logging.getLogger(__name__)

# Coarse file-system timestamps (a kernel tick, or 1-2 s on some file systems) mean a
# file created just after a listing can carry a time from just before it; files this
# close to the previous listing are re-checked by name.
MARGIN_NS = 2_000_000_000
HEADER_READ = 256 * 1024


@dataclass(frozen=True)
class _Entry:
    path: Path
    unique: str
    arrived: datetime


class MaildirMailbox(Mailbox):
    def __init__(self, config: Config, secrets: SecretStore | None = None) -> None:
        settings: MaildirSettings = config.mailbox  # type: ignore[assignment]
        self.root = settings.path
        self.label = settings.label
        self.drafts_name = settings.drafts
        self.sent_name = settings.sent
        if not (self.root / "cur").is_dir() or not (self.root / "new").is_dir():
            raise BackendError(
                f"{self.root} is not a Maildir (it has no cur/ and new/ directories); check [mailbox] path"
            )

    # ------------------------------------------------------------ folders

    def _folder(self, name: str, create: bool = False) -> Path | None:
        for candidate in (self.root / f".{name}", self.root / name):
            if (candidate / "cur").is_dir():
                return candidate
        if not create:
            return None
        path = self.root / f".{name}"
        try:
            for sub in ("tmp", "new", "cur"):
                (path / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
            (path / "maildirfolder").touch()
        except OSError as exc:
            raise BackendError(f"cannot create the {name} folder in {self.root}: {exc.strerror}") from None
        return path

    def _drafts(self) -> mailbox.Maildir:
        path = self._folder(self.drafts_name, create=True)
        assert path is not None
        return mailbox.Maildir(path, factory=None, create=False)

    # ------------------------------------------------------------ drafts

    def locate(self, message_id: str) -> Located | None:
        for role, name in (("drafts", self.drafts_name), ("sent", self.sent_name)):
            folder = self._folder(name)
            if folder is None:
                continue
            for entry in _entries(folder):
                info = _read(entry, role)
                if info is not None and info.message_id == message_id:
                    if role == "drafts":
                        message = _load(entry.path)
                        ref = DraftRef(message_id, entry.unique, body_fingerprint(message)) if message else None
                        return Located("drafts", ref)
                    return Located("sent", None, entry.arrived)
        return None

    def create_draft(self, message: EmailMessage, thread: ThreadHint | None = None) -> DraftRef:
        draft = mailbox.MaildirMessage(message)
        draft.set_subdir("cur")
        draft.set_flags("DS")
        try:
            key = self._drafts().add(draft)
        except OSError as exc:
            raise BackendError(f"cannot write a draft into {self.root}: {exc.strerror}") from None
        return DraftRef(str(message["Message-ID"]), key, body_fingerprint(message))

    def _find(self, ref: DraftRef) -> tuple[Path, EmailMessage] | None:
        folder = self._folder(self.drafts_name)
        if folder is None:
            return None
        entries = _entries(folder)
        # The file we wrote, else another file with our Message-ID (a client that
        # saves an edited draft as a new file usually keeps the Message-ID).
        for entry in sorted(entries, key=lambda e: e.unique != ref.key):
            if entry.unique != ref.key:
                info = _read(entry, "drafts")
                if info is None or info.message_id != ref.message_id:
                    continue
            message = _load(entry.path)
            if message is not None:
                return entry.path, message
        return None

    def draft_state(self, ref: DraftRef) -> DraftState:
        found = self._find(ref)
        if found is None:
            return DraftState.GONE
        return DraftState.UNTOUCHED if body_fingerprint(found[1]) == ref.fingerprint else DraftState.EDITED

    def delete_draft(self, ref: DraftRef) -> bool:
        found = self._find(ref)
        if found is None:
            return True
        if body_fingerprint(found[1]) != ref.fingerprint:
            log.info("%s: not deleting draft %s: it was edited meanwhile", self.label, ref.message_id)
            return False
        try:
            found[0].unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise BackendError(f"cannot delete draft {found[0]}: {exc.strerror}") from None
        return True

    # ------------------------------------------------------------ incremental scan

    def changes(self, cursor: str | None, since: datetime) -> MailChanges:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        messages: list[MessageInfo] = []
        skipped: list[str] = []
        new_state: dict[str, Any] = {}
        for role, folder in (("inbox", self.root), ("sent", self._folder(self.sent_name))):
            if folder is None:
                continue
            found, new_state[role] = _scan(folder, state.get(role), since)
            for entry in found:
                info = _read(entry, role)
                if info is None:
                    skipped.append(f"{entry.path}: unreadable, skipped")
                else:
                    messages.append(info)
        return MailChanges(messages, json.dumps(new_state, separators=(",", ":")), skipped)


def _entries(folder: Path) -> list[_Entry]:
    entries = []
    for sub in ("new", "cur"):
        try:
            with os.scandir(folder / sub) as it:
                for dirent in it:
                    if dirent.name.startswith("."):
                        continue
                    try:
                        mtime = dirent.stat().st_mtime
                    except FileNotFoundError:
                        continue
                    entries.append(
                        _Entry(Path(dirent.path), dirent.name.split(":", 1)[0], datetime.fromtimestamp(mtime, UTC))
                    )
        except FileNotFoundError:
            continue
    return entries


def _scan(folder: Path, state: dict[str, Any] | None, since: datetime) -> tuple[list[_Entry], dict[str, Any]]:
    """Files in new/ and cur/ that appeared since `state` (or arrived since `since`)."""
    listed_at = time.time_ns()
    state = state or {}
    dirs: dict[str, int | None] = state.get("dirs", {})
    watermark: int | None = state.get("at")
    recent: set[str] = set(state.get("recent", ()))
    found: list[_Entry] = []
    new_dirs: dict[str, int | None] = {}
    new_recent: list[str] = []
    for sub in ("new", "cur"):
        try:
            dir_mtime = os.stat(folder / sub).st_mtime_ns
        except FileNotFoundError:
            continue
        # Trust an unchanged mtime only if it was set well before we listed the directory.
        new_dirs[sub] = dir_mtime if listed_at - dir_mtime > MARGIN_NS else None
        if watermark is not None and dirs.get(sub) == dir_mtime:
            continue
        with os.scandir(folder / sub) as it:
            for dirent in it:
                if dirent.name.startswith("."):
                    continue
                unique = dirent.name.split(":", 1)[0]
                try:
                    st = dirent.stat()
                except FileNotFoundError:
                    continue  # moved between listing and stat; it reappears under its new name
                if st.st_ctime_ns >= listed_at - MARGIN_NS:
                    new_recent.append(unique)
                if watermark is not None:
                    if st.st_ctime_ns < watermark - MARGIN_NS or unique in recent:
                        continue
                elif st.st_mtime < since.timestamp():
                    continue
                found.append(_Entry(Path(dirent.path), unique, datetime.fromtimestamp(st.st_mtime, UTC)))
    if watermark is not None and all(dirs.get(s) == new_dirs.get(s) is not None for s in new_dirs):
        # Nothing was listed: keep the old watermark and names, they are still right.
        return found, state
    return found, {"at": listed_at, "dirs": new_dirs, "recent": sorted(set(new_recent))}


def _read(entry: _Entry, role: str) -> MessageInfo | None:
    try:
        with open(entry.path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            raw = handle.read() if size <= FULL_PARSE_LIMIT else header_block(handle.read(HEADER_READ))
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read %s: %s", entry.path, exc.strerror)
        return None
    try:
        return message_info(raw, role, entry.arrived, key=entry.unique)
    except Exception as exc:  # noqa: BLE001 - one broken message must not stop the scan
        log.warning("skipping unparseable message %s: %s", entry.path, exc)
        return None


def _load(path: Path) -> EmailMessage | None:
    try:
        with open(path, "rb") as handle:
            return email.message_from_binary_file(handle, policy=email.policy.default)  # type: ignore[return-value]
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BackendError(f"cannot read draft {path}: {exc.strerror}") from None
