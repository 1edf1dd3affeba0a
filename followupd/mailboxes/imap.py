"""An IMAP mailbox (imapclient): drafts are APPENDed to Drafts, INBOX and Sent are read by UID.

Nothing here changes a flag on the user's mail: every read is `BODY.PEEK` on a
folder opened with EXAMINE. The only writes are our own drafts (APPEND) and, when
a recruiter replied first, the removal of a draft we wrote and nobody touched.
`watch()` keeps a second connection in IDLE on INBOX to wake the daemon on new mail
(see imap_idle.py).
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from followupd.errors import AuthError, BackendError, FollowupdError
from followupd.mailboxes import Mailbox, body_fingerprint
from followupd.mailboxes.imap_conn import address, connect, logout, password, translated
from followupd.mailboxes.imap_fetch import fetch_headers, header_fields, message_of
from followupd.mailboxes.imap_fetch import part_types as part_types  # re-exported for tests
from followupd.mailboxes.parse import HEADER_LIMIT, TEXT_READ, body_text, fields, parse_date
from followupd.model import DraftRef, DraftState, Located, MailChanges, MessageInfo, ThreadHint
from followupd.policy import threads

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from followupd.config import Config, ImapSettings
    from followupd.secrets import SecretStore

log = logging.getLogger(__name__)

MAX_SCAN = 5000  # newest messages read on a first or re-scan of one folder
CONVERSATION_CANDIDATES = 10  # newest hits per folder whose headers are read for a thread
MAX_PEOPLE = 10  # addresses in one conversation SEARCH
STALE_AFTER = 60.0  # seconds; an older connection is checked with NOOP before use
DRAFT_NAMES = ("Drafts", "Draft", "INBOX.Drafts", "INBOX/Drafts", "[Gmail]/Drafts", "[Google Mail]/Drafts")
SENT_NAMES = (
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "INBOX.Sent",
    "INBOX/Sent",
    "[Gmail]/Sent Mail",
    "[Google Mail]/Sent Mail",
)
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.IGNORECASE)
_parser = email.parser.BytesParser(policy=email.policy.default)


# ---------------------------------------------------------------- the mailbox


class ImapMailbox(Mailbox):
    def __init__(self, config: Config, secrets: SecretStore) -> None:
        self.settings: ImapSettings = config.mailbox  # type: ignore[assignment]
        self.secrets = secrets
        self.label = self.settings.label
        self.where = address(self.settings)
        self._client: IMAPClient | None = None
        self._used_at = 0.0
        self._folders: dict[str, str | None] | None = None
        self._secret: str | None = None
        self._warned_no_sent = False
        # (UIDVALIDITY, UIDs not \Deleted) of Drafts, read once for all the draft_state
        # calls of a pass; forgotten when the pass reads new mail or writes.
        self._live: tuple[str, set[int]] | None = None

    # ------------------------------------------------------------ connection

    def _password(self) -> str:
        if self._secret is None:
            self._secret = password(self.settings, self.secrets)
        return self._secret

    def _connect(self) -> IMAPClient:
        try:
            return connect(self.settings, self._password())
        except AuthError:
            self._secret = None  # read it again next time: the user may have fixed it
            raise

    @contextlib.contextmanager
    def _session(self) -> Iterator[IMAPClient]:
        """The open connection (reconnecting if it went stale); dropped on any error."""
        client = self._client
        if client is not None and time.monotonic() - self._used_at > STALE_AFTER:
            try:
                with translated(self.settings):
                    client.noop()
            except FollowupdError:
                log.debug("IMAP connection to %s went stale; reconnecting", self.where)
                self.close()
                client = None
        if client is None:
            client = self._client = self._connect()
            self._folders = None
        try:
            with translated(self.settings):
                yield client
        except BaseException:
            self.close()
            raise
        finally:
            self._used_at = time.monotonic()

    def close(self) -> None:
        self._live = None
        client, self._client = self._client, None
        if client is not None:
            logout(client)

    # ------------------------------------------------------------ folders

    def _folder(self, client: IMAPClient, role: str) -> str | None:
        if self._folders is None:
            listed = [
                (tuple(f.lower() for f in flags), name)
                for flags, _delim, name in client.list_folders()
                if not any(f.lower() in (b"\\noselect", b"\\nonexistent") for f in flags)
            ]
            self._folders = {
                "drafts": _pick(listed, self.settings.drafts, b"\\drafts", DRAFT_NAMES),
                "sent": _pick(listed, self.settings.sent, b"\\sent", SENT_NAMES),
            }
            if self.settings.sent and self._folders["sent"] is None:
                raise BackendError(
                    f"IMAP server {self.where} has no folder {self.settings.sent!r}; check [mailbox] sent "
                    f"(folders: {', '.join(sorted(n for _, n in listed))})"
                )
            if self._folders["sent"] is None and not self._warned_no_sent:
                self._warned_no_sent = True
                log.warning(
                    "%s: no Sent folder found, so a draft you send is not recognised as sent; set [mailbox] sent "
                    "to the folder your mail client keeps sent mail in (folders: %s)",
                    self.label,
                    ", ".join(sorted(n for _, n in listed)),
                )
            log.debug("%s: drafts in %r, sent in %r", self.label, self._folders["drafts"], self._folders["sent"])
        return self._folders[role]

    def _drafts_folder(self, client: IMAPClient) -> str:
        folder = self._folder(client, "drafts")
        if folder is not None:
            return folder
        name = self.settings.drafts
        if name is None:
            prefix = ""
            if client.has_capability("NAMESPACE"):
                personal = client.namespace().personal
                prefix = personal[0][0] if personal else ""
            name = f"{prefix}Drafts"
        client.create_folder(name)
        with contextlib.suppress(Exception):
            client.subscribe_folder(name)
        log.info("%s: created the folder %r for drafts", self.label, name)
        assert self._folders is not None
        self._folders["drafts"] = name
        return name

    # ------------------------------------------------------------ drafts

    def locate(self, message_id: str) -> Located | None:
        self._live = None
        with self._session() as client:
            for role in ("drafts", "sent"):
                folder = self._folder(client, role)
                if folder is None:
                    continue
                validity = client.select_folder(folder, readonly=True)[b"UIDVALIDITY"]
                uids = _search_id(client, message_id)
                if not uids:
                    continue
                if role == "drafts":
                    uid = max(uids)
                    raw = _fetch_body(client, uid)
                    if raw is None:
                        continue
                    return Located("drafts", DraftRef(message_id, f"{validity}:{uid}", _fingerprint(raw)))
                # When it was sent: the earliest evidence (Received, Date, INTERNALDATE),
                # as for any message; a migration's APPEND gives a new INTERNALDATE.
                arrived = [
                    message_of(uid, data, "sent", folder).arrived
                    for uid, data in fetch_headers(client, uids, [], folder)
                ]
                return Located("sent", None, min((a for a in arrived if a), default=None))
        return None

    def create_draft(self, message: EmailMessage, thread: ThreadHint | None = None) -> DraftRef:
        self._live = None
        message_id = str(message["Message-ID"])
        raw = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        with self._session() as client:
            folder = self._drafts_folder(client)
            response = client.append(
                folder, raw, flags=(b"\\Draft", b"\\Seen"), msg_time=parse_date(str(message["Date"] or ""))
            )
            match = _APPENDUID.search(response if isinstance(response, bytes) else str(response).encode())
            if match and client.has_capability("UIDPLUS"):
                key = f"{int(match[1])}:{int(match[2])}"
            else:  # no UIDPLUS: find what we just stored
                validity = client.select_folder(folder, readonly=True)[b"UIDVALIDITY"]
                uids = _search_id(client, message_id)
                key = f"{validity}:{max(uids) if uids else 0}"
        log.debug("%s: appended draft %s as %s", self.label, message_id, key)
        return DraftRef(message_id, key, body_fingerprint(message))

    def _find(self, client: IMAPClient, ref: DraftRef, readonly: bool) -> tuple[int, bytes] | None:
        """Our draft by its UID, else the newest live draft with its Message-ID."""
        folder = self._folder(client, "drafts")
        if folder is None:
            return None
        validity = client.select_folder(folder, readonly=readonly)[b"UIDVALIDITY"]
        stored_validity, _, stored_uid = ref.key.partition(":")
        if stored_validity == str(validity) and stored_uid.isdigit() and int(stored_uid) > 0:
            raw = _fetch_body(client, int(stored_uid))
            if raw is not None:
                return int(stored_uid), raw
        # A client that saves an edited draft appends a new message (usually keeping the
        # Message-ID) and deletes the old one.
        for uid in sorted(_search_id(client, ref.message_id), reverse=True):
            raw = _fetch_body(client, uid)
            if raw is not None:
                return uid, raw
        return None

    def draft_state(self, ref: DraftRef) -> DraftState:
        with self._session() as client:
            validity, _, uid = ref.key.partition(":")
            live = self._live_drafts(client)
            if live is not None and live[0] == validity and uid.isdigit() and int(uid) in live[1]:
                # An IMAP message never changes (an edit is a new message): the one we
                # appended, still there, is as we wrote it. No need to download it.
                return DraftState.UNTOUCHED
            found = self._find(client, ref, readonly=True)
        if found is None:
            return DraftState.GONE
        return DraftState.UNTOUCHED if _fingerprint(found[1]) == ref.fingerprint else DraftState.EDITED

    def _live_drafts(self, client: IMAPClient) -> tuple[str, set[int]] | None:
        if self._live is None:
            folder = self._folder(client, "drafts")
            if folder is None:
                return None
            validity = client.select_folder(folder, readonly=True)[b"UIDVALIDITY"]
            self._live = (str(validity), set(client.search(["NOT", "DELETED"])))
        return self._live

    def delete_draft(self, ref: DraftRef) -> bool:
        self._live = None
        with self._session() as client:
            found = self._find(client, ref, readonly=False)
            if found is None:
                return True
            uid, raw = found
            if _fingerprint(raw) != ref.fingerprint:
                log.info("%s: not deleting draft %s: it was edited meanwhile", self.label, ref.message_id)
                return False
            client.add_flags([uid], [b"\\Deleted"], silent=True)
            # Expunge only this message. Without UIDPLUS it stays flagged \Deleted (clients
            # hide it, and we treat it as gone); a plain EXPUNGE would also remove
            # messages the user merely marked.
            if client.has_capability("UIDPLUS"):
                client.uid_expunge([uid])
        return True

    # ------------------------------------------------------------ reading INBOX and Sent

    def changes(self, cursor: str | None, since: datetime) -> MailChanges:
        self._live = None  # the pass has looked at its drafts; the next one looks again
        try:
            state: dict[str, Any] = json.loads(cursor) if cursor else {}
            if not isinstance(state, dict):
                state = {}
        except ValueError:
            state = {}
        messages: list[MessageInfo] = []
        skipped: list[str] = []
        new_state: dict[str, Any] = {}
        with self._session() as client:
            for folder, role in self._read_folders(client):
                new_state[folder] = self._scan(client, folder, role, state.get(folder), since, messages, skipped)
        return MailChanges(messages, json.dumps(new_state, separators=(",", ":"), sort_keys=True), skipped)

    def _read_folders(self, client: IMAPClient) -> list[tuple[str, str]]:
        """The folders a pass reads, with their role: INBOX, and Sent when there is one."""
        folders = [(self.settings.inbox, "inbox")]
        sent = self._folder(client, "sent")
        if sent is not None and sent != self.settings.inbox:
            folders.append((sent, "sent"))
        return folders

    def _scan(
        self,
        client: IMAPClient,
        folder: str,
        role: str,
        previous: Any,
        since: datetime,
        messages: list[MessageInfo],
        skipped: list[str],
    ) -> dict[str, int]:
        selected = client.select_folder(folder, readonly=True)
        validity = int(selected[b"UIDVALIDITY"])
        uidnext = selected.get(b"UIDNEXT")
        if uidnext is None:
            uidnext = client.folder_status(folder, [b"UIDNEXT"]).get(b"UIDNEXT")
        incremental = isinstance(previous, dict) and previous.get("uidvalidity") == validity
        last = int(previous.get("last_uid", 0)) if incremental else 0
        if incremental:
            if uidnext is not None and int(uidnext) <= last + 1:
                return {"uidvalidity": validity, "last_uid": last}
            # imapclient cannot FETCH a "n:*" range, so SEARCH it; "n:*" always matches the
            # newest message even when its UID is below n, hence the filter.
            uids = [u for u in client.search(["UID", f"{last + 1}:*"]) if u > last]
        else:
            if isinstance(previous, dict):
                log.info(
                    "%s: the UIDVALIDITY of %s changed; reading it again from %s", self.label, folder, since.date()
                )
            # SEARCH SINCE compares dates only, in the server's zone: a day's margin, then exact.
            uids = client.search(["SINCE", (since - timedelta(days=1)).date()])
        uids = sorted(uids)
        if len(uids) > MAX_SCAN:
            log.warning("%s: %d messages in %s to read; reading the newest %d", self.label, len(uids), folder, MAX_SCAN)
            uids = uids[-MAX_SCAN:]
        for uid, data in fetch_headers(client, uids, skipped, folder):
            try:
                info = message_of(uid, data, role, f"{folder}:{validity}")
            except Exception as exc:  # noqa: BLE001 - one broken message must not stop the scan
                skipped.append(f"{folder} UID {uid}: unreadable ({exc}), skipped")
                continue
            if not incremental and info.arrived is not None and info.arrived < since:
                continue
            messages.append(info)
        top = max([last, *uids, int(uidnext) - 1 if uidnext else 0])
        return {"uidvalidity": validity, "last_uid": top}

    # ------------------------------------------------------------ threads and auto-replies

    def conversation(self, addresses: Sequence[str], before: datetime) -> ThreadHint | None:
        """One UID SORT (or SEARCH) per folder (INBOX, Sent) for mail from or to the people before
        the interview, then the headers of the newest few hits; the latest real message
        of those (not an invitation, RSVP, auto-reply, bounce or list mail) is joined."""
        people = [a for a in dict.fromkeys(a.lower() for a in addresses) if '"' not in a][:MAX_PEOPLE]
        if not people:
            return None
        terms: list[Any] = []
        for person in people:
            terms += [["FROM", person], ["TO", person], ["CC", person]]
        criteria: list[Any] = ["OR"] * (len(terms) - 1) + [t for term in terms for t in term]
        criteria += ["BEFORE", (before + timedelta(days=1)).date(), "NOT", "DELETED"]
        found: list[MessageInfo] = []
        with self._session() as client:
            for folder, role in self._read_folders(client):
                validity = client.select_folder(folder, readonly=True)[b"UIDVALIDITY"]
                if client.has_capability("SORT"):  # newest by Date first (RFC 5256), whatever the UIDs
                    uids = list(client.sort("REVERSE DATE", criteria))[:CONVERSATION_CANDIDATES]
                else:  # UIDs grow with arrival, mostly (a migration or a sync tool can reorder)
                    uids = sorted(client.search(criteria))[-CONVERSATION_CANDIDATES:]
                for uid, data in fetch_headers(client, uids, [], folder):
                    found.append(message_of(uid, data, role, f"{folder}:{validity}"))
        return threads.latest(found, people, before)

    def auto_reply_text(self, message: MessageInfo) -> str | None:
        folder, validity, uid = (message.key.rsplit(":", 2) + ["", ""])[:3]
        if not uid.isdigit():
            return None
        with self._session() as client:
            if str(client.select_folder(folder, readonly=True)[b"UIDVALIDITY"]) != validity:
                return None
            # A bounded read: the header block and the first TEXT_READ bytes of the body.
            data = client.fetch([int(uid)], [f"BODY.PEEK[]<0.{HEADER_LIMIT + TEXT_READ}>".encode()]).get(int(uid))
        raw = next((bytes(v) for k, v in (data or {}).items() if k.startswith(b"BODY[")), None)
        return body_text(raw) if raw is not None else None

    # ------------------------------------------------------------ push

    def watch(self, wake: Callable[[], None]) -> Callable[[], None] | None:
        # The watcher has a connection of its own: this one belongs to the passes, which
        # may run in another thread.
        from followupd.mailboxes.imap_idle import Watcher

        watcher = Watcher(self.settings, lambda: connect(self.settings, password(self.settings, self.secrets)), wake)
        watcher.start()
        # Its first login tells whether the server can IDLE; if the server is down now,
        # the watcher keeps trying and finds out later.
        watcher.decided.wait(self.settings.timeout.total_seconds() + 5)
        if watcher.idle_supported is False:
            return None
        return watcher.stop


def _pick(
    listed: list[tuple[tuple[bytes, ...], str]], configured: str | None, flag: bytes, common: Iterable[str]
) -> str | None:
    names = [name for _, name in listed]
    if configured is not None:
        return configured if configured in names else None
    for flags, name in listed:
        if flag in flags:
            return name
    by_lower = {name.lower(): name for name in names}
    for candidate in common:
        if candidate.lower() in by_lower:
            return by_lower[candidate.lower()]
    return None


def _search_id(client: IMAPClient, message_id: str) -> list[int]:
    """UIDs of live messages in the selected folder whose Message-ID is exactly `message_id`."""
    hits = client.search(["NOT", "DELETED", "HEADER", "Message-ID", message_id])
    if not hits:
        return []
    # HEADER search is a substring match; check the header itself (a bounded part of it).
    found = client.fetch(hits, [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]<0.4096>"])
    exact = []
    for uid, data in found.items():
        values = fields(bytes(header_fields(data) or b"")).get("message-id", [""])
        if values[0].strip() == message_id:
            exact.append(uid)
    return exact


def _fetch_body(client: IMAPClient, uid: int) -> bytes | None:
    data = client.fetch([uid], [b"FLAGS", b"BODY.PEEK[]"]).get(uid)
    if not data or b"BODY[]" not in data:
        return None
    if any(f.lower() == b"\\deleted" for f in data.get(b"FLAGS", ())):
        return None  # marked for deletion by a client: as good as gone
    return bytes(data[b"BODY[]"])


def _fingerprint(raw: bytes) -> str:
    return body_fingerprint(_parser.parsebytes(raw))  # type: ignore[arg-type]
