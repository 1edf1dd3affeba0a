"""Gmail through the Gmail API: drafts with `users.drafts`, new mail with `users.history`.

- Drafts carry followupd's deterministic Message-ID in the raw message. A DraftRef's
  key is "<draft id>:<thread id>" (both stable while the user edits) and its
  fingerprint the draft's Gmail message id at creation: Gmail gives an edited draft a
  new message id, so "untouched" means "same message id as when we made it".
- A draft that left Drafts was sent if a SENT message appeared in its thread after it
  was made (Gmail gives the sent copy a new message id, in the same thread), else the
  user deleted it.
- New mail comes from `history.list` from the stored historyId; only the new messages'
  headers are fetched. An idle pass costs one `history.list`, also with drafts waiting:
  a long-running process keeps its `drafts.list` snapshot and trusts it in a later pass
  only after that pass's `history.list` shows no draft changed (see `_drafts`).
- A draft joins the recruiter's existing conversation only when all four of Gmail's
  conditions hold: threadId, In-Reply-To, References and the same subject ("Re: …").

It never calls `send`: the scopes would allow it, the code has no such path.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from followupd.errors import TransientError
from followupd.google.api import ApiError, GoogleApi, Uncertain
from followupd.html_text import html_to_text
from followupd.mailboxes import Mailbox
from followupd.mailboxes.parse import PART_LIMIT, TEXT_READ, WANTED, message_info
from followupd.model import MESSAGE_ID_PREFIX, DraftRef, DraftState, Located, MailChanges, MessageInfo, ThreadHint
from followupd.policy import threads

if TYPE_CHECKING:
    from followupd.config import Config
    from followupd.secrets import SecretStore

log = logging.getLogger(__name__)

# Gmail's own headers for what we need; metadataHeaders matching is case-insensitive.
HEADERS = [name.title() if name != "message-id" else "Message-ID" for name in WANTED]
# Messages looked at, newest first, for the conversation a thank-you joins.
CONVERSATION_CANDIDATES = 5
# Mail in these never counts as received or sent.
IGNORED_LABELS = frozenset({"DRAFT", "SPAM", "TRASH", "CHAT"})
# A first pass (or one after a too-old historyId) reads at most this many messages back.
LOOKBACK_LIMIT = 300
# A drafts.list snapshot answers every draft_state of one pass without asking again
# until the pass reads new mail, writes a draft, or this many seconds pass.
SNAPSHOT_SECONDS = 60.0
# History records that change an existing message (a draft edited, sent or deleted).
_CHANGED = ("messagesDeleted", "labelsAdded", "labelsRemoved")
_MESSAGE_IDS = re.compile(r"<[^<>\s]+>")
CLOCK_SLACK = timedelta(minutes=1)


class GmailMailbox(Mailbox):
    def __init__(self, config: Config, secrets: SecretStore, *, api: GoogleApi | None = None) -> None:
        self.api = api or GoogleApi(config, secrets)
        self.label = f"Gmail {self.api.account}"
        # draft id -> (Gmail message id, Message-ID header): a draft's message id changes
        # whenever it is edited, so an entry is only trusted while both match.
        self._known: dict[str, tuple[str, str]] = {}
        self._snapshot: dict[str, dict[str, Any]] | None = None
        self._fresh_until = 0.0  # monotonic; before it the snapshot is trusted as it is
        # The history id as of which the snapshot is known to be current; a later pass
        # checks the history since then before trusting it, and its changes() then
        # reuses that same read (start id, added messages, latest id).
        self._valid_at: str | None = None
        self._prefetched: tuple[str, dict[str, set[str]], str] | None = None

    def close(self) -> None:
        self.api.close()

    def _call(self, what: str, make: Any, *, idempotent: bool = True) -> Any:
        return self.api.call("gmail", what, make, idempotent=idempotent)

    # ------------------------------------------------------------ drafts

    def _drafts(self) -> dict[str, dict[str, Any]]:
        """draft id -> {"id", "message": {"id", "threadId"}} for every draft, once per pass.

        A snapshot from an earlier pass is reused when the history since it shows no
        draft edited, sent, deleted or added: an idle pass then costs the one
        `history.list` that `changes()` needs anyway. Otherwise drafts are listed again,
        and `changes()` reads the history after that listing, as it always did.
        """
        if self._snapshot is not None and time.monotonic() < self._fresh_until:
            return self._snapshot
        if self._snapshot is not None and self._valid_at is not None and self._unchanged_since(self._valid_at):
            self._fresh_until = time.monotonic() + SNAPSHOT_SECONDS
            return self._snapshot
        drafts: dict[str, dict[str, Any]] = {}
        for page in self.api.pages(
            "gmail",
            "drafts.list",
            lambda c, token: c.users().drafts().list(userId="me", maxResults=500, pageToken=token),
        ):
            for draft in page.get("drafts", []):
                drafts[draft["id"]] = draft
        self._snapshot, self._valid_at = drafts, None
        self._fresh_until = time.monotonic() + SNAPSHOT_SECONDS
        return drafts

    def _unchanged_since(self, start: str) -> bool:
        try:
            added, latest, touched = self._read_history(start)
        except ApiError as exc:
            if exc.status == 404:
                return False  # too old: list the drafts; changes() deals with the history
            raise
        if touched:
            return False
        self._prefetched = (start, added, latest)
        return True

    def _forget_snapshot(self) -> None:
        self._snapshot = self._valid_at = None

    def _draft_header_id(self, draft_id: str, gmail_id: str) -> str | None:
        known = self._known.get(draft_id)
        if known is not None and known[0] == gmail_id:
            return known[1]
        try:
            draft = self._call(
                "drafts.get", lambda c: c.users().drafts().get(userId="me", id=draft_id, format="metadata")
            )
        except ApiError as exc:
            if exc.status == 404:
                return None  # deleted since the listing
            raise
        message = draft.get("message", {})
        header = _header(message, "Message-ID").strip()
        self._known[draft_id] = (message.get("id", gmail_id), header)
        return header

    def _find_draft(self, message_id: str) -> DraftRef | None:
        for draft_id, draft in self._drafts().items():
            gmail_id = draft.get("message", {}).get("id", "")
            if self._draft_header_id(draft_id, gmail_id) == message_id:
                return DraftRef(message_id, _key(draft_id, draft.get("message", {}).get("threadId")), gmail_id)
        return None

    def locate(self, message_id: str) -> Located | None:
        self._forget_snapshot()  # exactly-once depends on a fresh listing
        ref = self._find_draft(message_id)
        if ref is not None:
            return Located("drafts", ref)
        found = self._call(
            "messages.list",
            lambda c: (
                c.users()
                .messages()
                .list(userId="me", q=f"rfc822msgid:{message_id.strip('<>')}", labelIds=["SENT"], maxResults=10)
            ),
        )
        for item in found.get("messages", []):
            message = self._message(item["id"], ["Message-ID"])
            if message is not None and _header(message, "Message-ID").strip() == message_id:
                return Located("sent", None, _arrived(message))
        return None

    def create_draft(self, message: EmailMessage, thread: ThreadHint | None = None) -> DraftRef:
        message_id = str(message["Message-ID"])
        body: dict[str, Any] = {"message": {"raw": base64.urlsafe_b64encode(message.as_bytes()).decode()}}
        if thread is not None and thread.thread_id:
            body["message"]["threadId"] = thread.thread_id
        self._forget_snapshot()
        for attempt in range(1, self.api.attempts + 1):
            try:
                created = self._call(
                    "drafts.create", lambda c: c.users().drafts().create(userId="me", body=body), idempotent=False
                )
                break
            except Uncertain as exc:
                # Gmail may have made the draft before failing: look before trying again.
                log.debug("%s; checking whether the draft exists", exc)
                found = self.locate(message_id)
                if found is not None and found.ref is not None:
                    return found.ref
                if attempt == self.api.attempts:
                    raise TransientError(f"{exc}; gave up after {attempt} attempts") from None
                self.api.backoff(attempt)
        self._forget_snapshot()
        gmail_id = created["message"]["id"]
        self._known[created["id"]] = (gmail_id, message_id)
        return DraftRef(message_id, _key(created["id"], created["message"].get("threadId")), gmail_id)

    def draft_state(self, ref: DraftRef) -> DraftState:
        draft = self._drafts().get(_draft_id(ref))
        if draft is None:
            return DraftState.GONE
        return DraftState.UNTOUCHED if draft.get("message", {}).get("id") == ref.fingerprint else DraftState.EDITED

    def delete_draft(self, ref: DraftRef) -> bool:
        self._forget_snapshot()
        draft_id = _draft_id(ref)
        try:
            # Read it afresh: Gmail gives an edited draft a new message id (the fingerprint).
            draft = self._call(
                "drafts.get", lambda c: c.users().drafts().get(userId="me", id=draft_id, format="minimal")
            )
            if draft.get("message", {}).get("id") != ref.fingerprint:
                log.info("%s: not deleting draft %s: it was edited meanwhile", self.label, ref.message_id)
                return False
            self._call("drafts.delete", lambda c: c.users().drafts().delete(userId="me", id=draft_id))
        except ApiError as exc:
            if exc.status != 404:
                raise
        return True

    def was_sent(self, ref: DraftRef, drafted_at: datetime) -> datetime | bool | None:
        thread_id = ref.key.partition(":")[2]
        if not thread_id:
            return None
        try:
            thread = self._call(
                "threads.get",
                lambda c: (
                    c.users()
                    .threads()
                    .get(userId="me", id=thread_id, format="metadata", metadataHeaders=["Message-ID"])
                ),
            )
        except ApiError as exc:
            if exc.status == 404:
                return False  # the thread held only the draft, and it is gone
            raise
        # A little slack: drafted_at is this machine's clock, internalDate Google's.
        since = drafted_at - CLOCK_SLACK
        sent = [
            m for m in thread.get("messages", []) if "SENT" in m.get("labelIds", []) and (_arrived(m) or since) >= since
        ]
        for message in sent:
            if _header(message, "Message-ID").strip() == ref.message_id:
                return _arrived(message) or True
        # Gmail may give the sent copy its own Message-ID; one of our *other* drafts,
        # sent into the same thread, is not this one.
        others = [m for m in sent if not _header(m, "Message-ID").strip().startswith(MESSAGE_ID_PREFIX)]
        return (_arrived(others[0]) or True) if others else False

    # ------------------------------------------------------------ new mail

    def changes(self, cursor: str | None, since: datetime) -> MailChanges:
        self._fresh_until = 0.0  # the pass has looked at its drafts; the next one checks first
        if cursor:
            try:
                return self._history(cursor)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                log.warning(
                    "%s: history id %s is too old for Gmail (it keeps about a week); reading mail since %s instead",
                    self.label,
                    cursor,
                    since.isoformat(timespec="minutes"),
                )
        self._forget_snapshot()
        return self._resync(since)

    def _history(self, start: str) -> MailChanges:
        prefetched, self._prefetched = self._prefetched, None
        if prefetched is not None and prefetched[0] == start:
            _, added, latest = prefetched
            touched = False
        else:
            added, latest, touched = self._read_history(start)
        if touched:
            self._forget_snapshot()
        elif self._snapshot is not None:
            self._valid_at = latest
        messages, skipped = self._infos(list(added))
        return MailChanges(messages, latest, skipped)

    def _read_history(self, start: str) -> tuple[dict[str, set[str]], str, bool]:
        """(new messages -> labels, latest history id, whether a draft in the snapshot may
        have changed) since `start`. Every history type is asked for: a draft the user
        edits, sends or deletes shows as a deletion or label change of its message."""
        added: dict[str, set[str]] = {}
        latest = start
        drafts = {d.get("message", {}).get("id") for d in (self._snapshot or {}).values()}
        touched = False
        for page in self.api.pages(
            "gmail",
            "history.list",
            lambda c, token: (
                c.users().history().list(userId="me", startHistoryId=start, maxResults=500, pageToken=token)
            ),
        ):
            for record in page.get("history", []):
                for item in record.get("messagesAdded", []):
                    message = item.get("message", {})
                    labels = set(message.get("labelIds", []))
                    if "id" in message and not labels & IGNORED_LABELS:
                        added[message["id"]] = labels
                    # A draft that appeared after the listing (ours are listed after we make them).
                    touched |= "DRAFT" in labels and message.get("id") not in drafts
                for kind in _CHANGED:
                    touched |= any(item.get("message", {}).get("id") in drafts for item in record.get(kind, []))
            latest = str(page.get("historyId") or latest)
        return added, latest, touched

    def _resync(self, since: datetime) -> MailChanges:
        # The history id first: anything arriving while we list is then seen twice, never missed.
        profile = self._call("getProfile", lambda c: c.users().getProfile(userId="me"))
        query = f"after:{int(since.timestamp())} -in:drafts -in:chats"
        ids: list[str] = []
        more = False
        for page in self.api.pages(
            "gmail",
            "messages.list",
            lambda c, token: c.users().messages().list(userId="me", q=query, maxResults=100, pageToken=token),
        ):
            ids += [m["id"] for m in page.get("messages", [])]
            if len(ids) >= LOOKBACK_LIMIT:
                more = bool(page.get("nextPageToken")) or len(ids) > LOOKBACK_LIMIT
                break
        messages, skipped = self._infos(ids[:LOOKBACK_LIMIT])
        if more:
            skipped.append(
                f"more than {LOOKBACK_LIMIT} messages since {since.date().isoformat()}; only the newest were read"
            )
        return MailChanges(messages, str(profile["historyId"]), skipped)

    def _message(self, gmail_id: str, headers: list[str]) -> dict[str, Any] | None:
        try:
            return self._call(  # type: ignore[no-any-return]
                "messages.get",
                lambda c: (
                    c.users().messages().get(userId="me", id=gmail_id, format="metadata", metadataHeaders=headers)
                ),
            )
        except ApiError as exc:
            if exc.status == 404:
                return None  # deleted since it was listed
            raise

    def _infos(self, ids: list[str]) -> tuple[list[MessageInfo], list[str]]:
        messages: list[MessageInfo] = []
        skipped: list[str] = []
        for gmail_id in ids:
            message = self._message(gmail_id, HEADERS)
            if message is None:
                continue
            labels = set(message.get("labelIds", []))
            if labels & IGNORED_LABELS:
                continue
            try:
                messages.append(_info(message, "sent" if "SENT" in labels else "inbox"))
            except Exception as exc:  # noqa: BLE001 - one odd message must not stop the others
                skipped.append(f"message {gmail_id}: unreadable ({type(exc).__name__}: {exc}), skipped")
        return messages, skipped

    # ------------------------------------------------------------ threading

    def conversation(self, addresses: Sequence[str], before: datetime) -> ThreadHint | None:
        """One messages.list (newest first), then the metadata of each candidate until
        one is a real message (not an invitation, RSVP, auto-reply, bounce or list mail):
        usually one or two messages.get."""
        if not addresses:
            return None
        people = " OR ".join(f"from:{a} OR to:{a} OR cc:{a}" for a in addresses)
        query = f"({people}) before:{int(before.timestamp())} -in:drafts -in:chats"
        found = self._call(
            "messages.list",
            lambda c: c.users().messages().list(userId="me", q=query, maxResults=CONVERSATION_CANDIDATES),
        )
        for item in found.get("messages", [])[:CONVERSATION_CANDIDATES]:
            message = self._message(item["id"], HEADERS)
            if message is None or set(message.get("labelIds", [])) & IGNORED_LABELS:
                continue
            info = _info(message, "sent" if "SENT" in message.get("labelIds", []) else "inbox")
            if info.message_id and threads.conversational(info) and (info.when is None or info.when < before):
                return threads.hint(info)
        return None

    def auto_reply_text(self, message: MessageInfo) -> str | None:
        # One messages.get of an auto-reply (asked for no other mail); its text part is
        # decoded and cut to TEXT_READ.
        try:
            full = self._call(
                "messages.get", lambda c: c.users().messages().get(userId="me", id=message.key, format="full")
            )
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return _text(full.get("payload", {}))


def _text(payload: dict[str, Any]) -> str:
    """The first text/plain part of a `format=full` payload, else the first text/html as
    a reader sees it, from its first TEXT_READ bytes (as parse.body_text reads IMAP and
    Maildir messages)."""
    stack, seen = [payload], 0
    found: dict[str, str] = {}
    while stack and seen < PART_LIMIT:
        part = stack.pop(0)
        seen += 1
        data = part.get("body", {}).get("data")
        kind = part.get("mimeType")
        if kind in ("text/plain", "text/html") and data and kind not in found:
            raw = base64.urlsafe_b64decode(str(data) + "=" * (-len(str(data)) % 4))[:TEXT_READ]
            found[kind] = raw.decode("utf-8", "replace")
        stack += list(part.get("parts", []))
    if "text/plain" in found:
        return found["text/plain"]
    return html_to_text(found["text/html"])[:TEXT_READ] if "text/html" in found else ""


def _key(draft_id: str, thread_id: str | None) -> str:
    return f"{draft_id}:{thread_id}" if thread_id else draft_id


def _draft_id(ref: DraftRef) -> str:
    return ref.key.partition(":")[0]


def _header(message: dict[str, Any], name: str) -> str:
    for header in message.get("payload", {}).get("headers", []):
        if str(header.get("name", "")).lower() == name.lower():
            return str(header.get("value", ""))
    return ""


def _arrived(message: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(message["internalDate"]) / 1000, UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def _info(message: dict[str, Any], folder: str) -> MessageInfo:
    payload = message.get("payload", {})
    lines = []
    for header in payload.get("headers", []):
        name = str(header.get("name", ""))
        if re.fullmatch(r"[!-9;-~]+", name):  # a valid header name; anything else is dropped
            value = re.sub(r"[\r\n]+[ \t]*", " ", str(header.get("value", "")))
            lines.append(f"{name}: {value}\r\n")
    content_type = _header(message, "Content-Type") or str(payload.get("mimeType") or "text/plain")
    # Headers only: the top-level type is all a metadata read tells (enough for bounces).
    return message_info(
        ("".join(lines) + "\r\n").encode("utf-8", "replace"),
        folder,
        _arrived(message),
        key=str(message.get("id", "")),
        part_types=(content_type,),
        thread_id=message.get("threadId"),
    )
