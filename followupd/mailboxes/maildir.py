"""A local Maildir, in either layout that mail tools leave on disk:

- Maildir++ (Dovecot, Courier, mbsync `SubFolders Maildir++`): INBOX is `path` itself,
  folders are `path/.Drafts`, `path/.Sent` (nested: `.Work.Projects`).
- verbatim (mbsync `SubFolders Verbatim`, offlineimap's default): `path/INBOX`,
  `path/Drafts`, `path/Sent` side by side (nested: `path/Work/Projects`).

`[mailbox] layout` names one; without it the tree tells (see `find_layout`). followupd
never creates a folder on its own unless `create_folders = true`, and never inside a
verbatim INBOX, where a sync tool could not map it to a server folder.

Drafts are written with the stdlib `mailbox` module (tmp/ then a rename into cur/,
flags `DS`). INBOX and Sent are scanned incrementally: a directory whose mtime has
not moved is not even listed, and only files that appeared since the last scan are
opened, and of those only the header block (plus, for a multipart, the first MB of
the body, for its parts' types). The scan never renames a file, so the user's
read/unread flags stay as they are. Sync tools rename files (`,U=12` and `,FMD5=…` in
the name, flag suffixes after `:2,`): a file is known by the part of its name before
the first `,` or `:`, and by its Message-ID.

A first scan also reads the 30 days before `since`: the engine indexes the real
messages every scan finds in the store, and a thank-you joins the latest conversation
from that index (a Maildir cannot be searched; no folder is re-read per draft). The
body of a message is read only for an auto-reply from an interview's people
(`auto_reply_text`: the header block and the first 8 KB after it).
"""

from __future__ import annotations

import email.policy
import json
import logging
import mailbox
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from followupd.errors import BackendError
from followupd.mailboxes import Mailbox, body_fingerprint
from followupd.mailboxes.parse import BODY_SCAN, HEADER_LIMIT, TEXT_READ, body_text, header_block, message_info
from followupd.model import DraftRef, DraftState, Located, MailChanges, MessageInfo, ThreadHint

if TYPE_CHECKING:
    from followupd.config import Config, MaildirSettings
    from followupd.secrets import SecretStore

log = logging.getLogger(__name__)

# Coarse file-system timestamps (a kernel tick, or 1-2 s on some file systems) mean a
# file created just after a listing can carry a time from just before it; files this
# close to the previous listing are re-checked by name.
MARGIN_NS = 2_000_000_000
CONVERSATION_LOOKBACK = timedelta(days=30)
VERBATIM_HINT = "mbsync `SubFolders Verbatim`, offlineimap"


@dataclass(frozen=True)
class _Entry:
    path: Path
    unique: str
    arrived: datetime


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


@dataclass(frozen=True)
class Layout:
    """Where INBOX and a named folder live on disk."""

    name: str  # "maildir++" | "verbatim"
    root: Path
    inbox: Path

    def folder(self, name: str) -> Path:
        """The canonical place of folder `name` ("Drafts", "Work/Projects")."""
        if self.name == "verbatim":
            return self.root / name
        return self.root / ("." + name.replace("/", "."))

    def existing(self, name: str) -> Path | None:
        """The folder's directory if it is a Maildir; in Maildir++ also a plain `name/`
        subdirectory (Dovecot's LAYOUT=fs keeps folders that way)."""
        candidates = [self.folder(name)]
        if self.name == "maildir++":
            candidates.append(self.root / name)
        return next((c for c in candidates if _is_maildir(c)), None)

    def describe(self) -> str:
        if self.name == "verbatim":
            return f"verbatim layout (INBOX at {self.inbox}, folders beside it)"
        return f"Maildir++ layout (INBOX at {self.root}, folders as .Name inside it)"


def find_layout(settings: MaildirSettings) -> Layout:
    """The layout `settings` name, or the one the tree at `path` has; BackendError when
    `path` is neither."""
    root = settings.path
    verbatim = Layout("verbatim", root, root / settings.inbox)
    plus = Layout("maildir++", root, root)
    layout = settings.layout
    if layout is None:
        if _is_maildir(root):
            layout = "maildir++"
        elif _is_maildir(verbatim.inbox):
            layout = "verbatim"
        else:
            raise BackendError(
                f"{root} is not a Maildir: it has neither cur/ and new/ (Maildir++, INBOX at the root) nor "
                f"{settings.inbox}/cur (folders side by side, as {VERBATIM_HINT} make); check [mailbox] path"
            )
    if layout == "verbatim":
        if not _is_maildir(verbatim.inbox):
            hint = f' ({root} itself is a Maildir: is it the INBOX? then set path = "{root.parent}")'
            raise BackendError(
                f'{verbatim.inbox} is not a Maildir (no cur/ and new/), but [mailbox] layout = "verbatim" '
                f"reads INBOX there; check [mailbox] path and inbox{hint if _is_maildir(root) else ''}"
            )
        return verbatim
    if not _is_maildir(root):
        raise BackendError(
            f'{root} is not a Maildir (it has no cur/ and new/ directories), but [mailbox] layout = "maildir++" '
            "reads INBOX there; check [mailbox] path"
        )
    return plus


def drafts_problem(settings: MaildirSettings, layout: Layout) -> str | None:
    """Why the Drafts folder cannot be used as it is, with the fix; None when it can."""
    if layout.existing(settings.drafts) is not None or settings.create_folders:
        return None
    wanted = layout.folder(settings.drafts)
    problem = (
        f"there is no Drafts folder: {wanted} does not exist (or has no cur/ and new/). "
        "followupd does not invent one: create it with your mail client or sync tool, "
        "name an existing folder with [mailbox] drafts, or set [mailbox] create_folders = true"
    )
    sibling = layout.root.parent / settings.drafts
    if layout.name == "maildir++" and _is_maildir(sibling):
        problem += (
            f". {layout.root} looks like the INBOX of a Maildir whose folders sit beside it ({sibling} "
            f'exists, as {VERBATIM_HINT} make): set [mailbox] path = "{layout.root.parent}"'
        )
    return problem


def check(settings: MaildirSettings) -> str:
    """What `followupd check` says about the Maildir; BackendError when a pass would fail."""
    layout = find_layout(settings)
    problem = drafts_problem(settings, layout)
    if problem:
        raise BackendError(problem)
    drafts = layout.existing(settings.drafts) or layout.folder(settings.drafts)
    sent = layout.existing(settings.sent)
    created = "" if layout.existing(settings.drafts) else " (created at the first draft)"
    return f"{layout.describe()}; drafts to {drafts}{created}; " + (
        f"sent read from {sent}" if sent else f"no Sent folder ({layout.folder(settings.sent)}): see [mailbox] sent"
    )


class MaildirMailbox(Mailbox):
    def __init__(self, config: Config, secrets: SecretStore | None = None) -> None:
        settings: MaildirSettings = config.mailbox  # type: ignore[assignment]
        self.settings = settings
        self.root = settings.path
        self.label = settings.label
        self.drafts_name = settings.drafts
        self.sent_name = settings.sent
        self.layout = find_layout(settings)
        problem = drafts_problem(settings, self.layout)
        if problem:
            raise BackendError(problem)
        if self.layout.existing(self.sent_name) is None:
            log.warning(
                "%s: no Sent folder at %s; sent drafts are recognised only if [mailbox] sent names the folder "
                "your mail client files them in",
                self.label,
                self.layout.folder(self.sent_name),
            )
        # Where the messages of the last changes() are, by key: for auto_reply_text.
        self._paths: dict[str, Path] = {}

    # ------------------------------------------------------------ folders

    def _folder(self, name: str) -> Path | None:
        return self.layout.existing(name)

    def _drafts(self) -> mailbox.Maildir:
        path = self.layout.existing(self.drafts_name)
        if path is None:
            path = self._create(self.drafts_name)
        return mailbox.Maildir(path, factory=None, create=False)

    def _create(self, name: str) -> Path:
        """Make folder `name` (only with create_folders = true; checked at start)."""
        path = self.layout.folder(name)
        if not self.settings.create_folders:
            raise BackendError(drafts_problem(self.settings, self.layout) or f"{path} vanished")
        try:
            for sub in ("tmp", "new", "cur"):
                (path / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
            if self.layout.name == "maildir++":
                (path / "maildirfolder").touch()
        except OSError as exc:
            raise BackendError(f"cannot create the {name} folder {path}: {exc.strerror}") from None
        log.info("%s: created the folder %s for drafts (create_folders = true)", self.label, path)
        return path

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
                    # The earliest evidence of sending, not the file time a sync gave it.
                    return Located("sent", None, info.arrived)
        return None

    def create_draft(self, message: EmailMessage, thread: ThreadHint | None = None) -> DraftRef:
        draft = mailbox.MaildirMessage(message)
        draft.set_subdir("cur")
        draft.set_flags("DS")
        try:
            folder = self._drafts()
            key = folder.add(draft)
            os.chmod(os.path.join(folder._path, folder._lookup(key)), 0o600)  # type: ignore[attr-defined]  # private whatever the umask
        except OSError as exc:
            raise BackendError(f"cannot write a draft into {self.root}: {exc.strerror}") from None
        return DraftRef(str(message["Message-ID"]), _unique(key), body_fingerprint(message))

    def _find(self, ref: DraftRef) -> tuple[Path, EmailMessage] | None:
        folder = self._folder(self.drafts_name)
        if folder is None:
            return None
        entries = _entries(folder)
        key = _unique(ref.key)
        # The file we wrote (whatever a sync tool appended to its name), else another
        # file with our Message-ID (a client that saves an edited draft as a new file
        # usually keeps the Message-ID).
        for entry in sorted(entries, key=lambda e: e.unique != key):
            if entry.unique != key:
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
        self._paths = {}
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        # A first scan also reads the weeks before `since`, for the conversation index
        # only (MailChanges.earlier): the conversations that led to an interview.
        earlier: list[MessageInfo] = []
        messages: list[MessageInfo] = []
        skipped: list[str] = []
        new_state: dict[str, Any] = {}
        for role, folder in (("inbox", self.layout.inbox), ("sent", self._folder(self.sent_name))):
            if folder is None:
                continue
            found, new_state[role] = _scan(folder, state.get(role), since - CONVERSATION_LOOKBACK)
            for entry in found:
                info = _read(entry, role)
                if info is None:
                    skipped.append(f"{entry.path}: unreadable, skipped")
                elif state.get(role) is None and entry.arrived < since:
                    earlier.append(info)
                else:
                    messages.append(info)
                    self._paths[info.key] = entry.path
        return MailChanges(messages, json.dumps(new_state, separators=(",", ":")), skipped, earlier)

    def auto_reply_text(self, message: MessageInfo) -> str | None:
        path = self._paths.get(message.key)
        if path is None:
            return None
        try:
            with open(path, "rb") as handle:
                raw = handle.read(HEADER_LIMIT + 4)
                end = len(header_block(raw)) + TEXT_READ  # the header block and 8 KB of body
                raw = raw[:end] + handle.read(max(0, end - len(raw)))
        except OSError:
            return None  # moved or gone since the scan: the next auto-reply will tell
        return body_text(raw)


def _unique(name: str) -> str:
    """A Maildir file's stable identity: its name before the info (`:2,FLAGS`) and before
    the `,KEY=value` fields that Dovecot (`,S=`), mbsync (`,U=`) and offlineimap
    (`,U=`, `,FMD5=`) add or change."""
    return name.split(":", 1)[0].split(",", 1)[0]


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
                    entries.append(_Entry(Path(dirent.path), _unique(dirent.name), datetime.fromtimestamp(mtime, UTC)))
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
                found.append(_Entry(Path(dirent.path), _unique(dirent.name), datetime.fromtimestamp(st.st_mtime, UTC)))
    if watermark is not None and all(dirs.get(s) == new_dirs.get(s) is not None for s in new_dirs):
        # Nothing was listed: keep the old watermark and names, they are still right.
        return found, state
    return found, {"at": listed_at, "dirs": new_dirs, "recent": sorted(set(new_recent))}


def _read(entry: _Entry, role: str) -> MessageInfo | None:
    """The message's MessageInfo from its header block (and, for a multipart, the start
    of its body): a huge message or a huge header costs a bounded read and parse."""
    try:
        with open(entry.path, "rb") as handle:
            raw = handle.read(HEADER_LIMIT + 4)
            head = header_block(raw)
            if b"multipart/" in head.lower():
                raw += handle.read(max(0, len(head) + BODY_SCAN - len(raw)))
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
