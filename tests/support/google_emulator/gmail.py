"""Gmail as the emulator keeps it: messages, threads, labels, drafts and history."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import email.utils
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .discovery import ApiFailure
from .search import compile_query

_PARSER = email.parser.BytesParser(policy=email.policy.compat32)
_RE = re.compile(r"^\s*((re|fwd?|aw|sv)\s*:\s*)+", re.IGNORECASE)
_IDS = re.compile(r"<[^<>\s]+>")
# historyTypes value -> the field of a History record that carries it
HISTORY_FIELDS = {
    "messageAdded": "messagesAdded",
    "messageDeleted": "messagesDeleted",
    "labelAdded": "labelsAdded",
    "labelRemoved": "labelsRemoved",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def normal_subject(subject: str) -> str:
    return " ".join(_RE.sub("", subject or "").split()).lower()


@dataclass
class Message:
    id: str
    thread_id: str
    labels: set[str]
    raw: bytes
    internal_ms: int
    history_id: int
    headers: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        parsed = _PARSER.parsebytes(self.raw, headersonly=True)
        # Header values as Gmail shows them: unfolded, otherwise as in the message.
        self.headers = [(k, re.sub(r"\r?\n[ \t]+", " ", str(v))) for k, v in parsed.items()]
        self.mime_type = parsed.get_content_type() or "text/plain"

    def header(self, name: str) -> str:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return ""

    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")

    @property
    def message_id(self) -> str:
        return self.header("Message-ID").strip()

    def referenced(self) -> list[str]:
        return _IDS.findall(self.header("In-Reply-To") + " " + self.header("References"))

    def resource(self, fmt: str = "full", metadata_headers: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "threadId": self.thread_id,
            "labelIds": sorted(self.labels),
            "snippet": "",
            "sizeEstimate": len(self.raw),
            "historyId": str(self.history_id),
            "internalDate": str(self.internal_ms),
        }
        if fmt == "minimal":
            return body
        if fmt == "raw":
            body["raw"] = _b64(self.raw)
            return body
        headers = self.headers
        if fmt == "metadata" and metadata_headers:
            wanted = {h.lower() for h in metadata_headers}
            headers = [(k, v) for k, v in headers if k.lower() in wanted]
        payload: dict[str, Any] = {
            "partId": "",
            "mimeType": self.mime_type,
            "filename": "",
            "headers": [{"name": k, "value": v} for k, v in headers],
        }
        if fmt == "full" and self.mime_type.startswith("multipart/"):
            # Gmail splits a multipart message into `parts`, each leaf's decoded body in
            # body.data (base64url), as documented for users.messages MessagePart.
            payload["body"] = {"size": 0}
            payload["parts"] = _parts(self.raw)
        elif fmt == "full":
            text = self.raw.split(b"\r\n\r\n", 1)[-1] if b"\r\n\r\n" in self.raw else self.raw.split(b"\n\n", 1)[-1]
            payload["body"] = {"size": len(text), "data": _b64(text)}
        else:
            payload["body"] = {"size": 0}
        body["payload"] = payload
        return body


def _parts(raw: bytes) -> list[dict[str, Any]]:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    out: list[dict[str, Any]] = []
    for n, part in enumerate(p for p in parsed.walk() if not p.is_multipart()):
        data = part.get_payload(decode=True) or b""
        out.append(
            {
                "partId": str(n),
                "mimeType": part.get_content_type(),
                "filename": part.get_filename() or "",
                "headers": [{"name": k, "value": str(v)} for k, v in part.items()],
                "body": {"size": len(data), "data": _b64(data)},
            }
        )
    return out


class Gmail:
    def __init__(self, address: str) -> None:
        self.address = address
        self.messages: dict[str, Message] = {}
        self.drafts: dict[str, str] = {}  # draft id -> message id
        self.history: list[dict[str, Any]] = []
        self.history_id = 1000
        self.history_floor = 0  # startHistoryId below this is "too old": 404
        self._ids = itertools.count(0x18C3A0000000000)
        self._draft_ids = itertools.count(7_000_000_000_000_000_001)
        self.rewrite_message_id_on_send = False

    # ------------------------------------------------------------ state changes

    def _next_history(self) -> int:
        self.history_id += 7  # real history ids are increasing but not contiguous
        return self.history_id

    def _record(self, kind: str, message: Message, labels: list[str] | None = None) -> None:
        hid = self._next_history()
        message.history_id = hid
        ref = {"id": message.id, "threadId": message.thread_id}
        record: dict[str, Any] = {"id": str(hid), "messages": [ref]}
        if kind == "messageAdded":
            record["messagesAdded"] = [{"message": {**ref, "labelIds": sorted(message.labels)}}]
        elif kind == "messageDeleted":
            record["messagesDeleted"] = [{"message": ref}]
        else:
            record[HISTORY_FIELDS[kind]] = [
                {"message": {**ref, "labelIds": sorted(message.labels)}, "labelIds": labels or []}
            ]
        self.history.append(record)

    def _thread_for(self, raw_message: Message, requested: str | None) -> str:
        """Gmail's rule: the requested thread only if References/In-Reply-To point into it
        and the subjects match; otherwise a new thread."""
        subject = normal_subject(raw_message.header("Subject"))
        refs = set(raw_message.referenced())
        candidates = [requested] if requested else []
        if requested is None and raw_message.labels & {"INBOX", "SENT"}:
            # Incoming and sent mail are threaded by headers alone.
            candidates = [m.thread_id for m in self.messages.values() if m.message_id in refs]
        for thread in candidates:
            members = [m for m in self.messages.values() if m.thread_id == thread]
            if any(m.message_id in refs for m in members) and any(
                normal_subject(m.header("Subject")) == subject for m in members
            ):
                return thread
        return raw_message.id

    def add(
        self,
        raw: bytes,
        labels: set[str],
        at: datetime,
        thread: str | None = None,
        history: bool = True,
        same_thread: bool = False,
    ) -> Message:
        """Store a message; `same_thread` puts it in `thread` unconditionally (a sent or
        edited draft stays where it was)."""
        message = Message(f"{next(self._ids):x}", "", set(labels), raw, int(at.timestamp() * 1000), 0)
        message.thread_id = thread if same_thread and thread else self._thread_for(message, thread)
        self.messages[message.id] = message
        if history:
            self._record("messageAdded", message)
        return message

    def remove(self, message_id: str) -> None:
        message = self.messages.pop(message_id)
        self._record("messageDeleted", message)

    def draft_message(self, draft_id: str) -> Message:
        try:
            return self.messages[self.drafts[draft_id]]
        except KeyError:
            raise ApiFailure(404, "Requested entity was not found.", "notFound") from None

    def find_draft(self, message_id: str) -> str:
        for draft_id, mid in self.drafts.items():
            if self.messages[mid].message_id == message_id:
                return draft_id
        raise KeyError(message_id)

    # ------------------------------------------------------------ API methods

    def handle(self, short: str, p: dict[str, Any], body: dict[str, Any] | None, now: datetime) -> tuple[int, Any]:
        if p.get("userId") not in ("me", self.address):
            raise ApiFailure(403, "Delegation denied for " + str(p.get("userId")), "forbidden")
        handler = getattr(self, "_" + short.replace(".", "_"), None)
        if handler is None:
            raise ApiFailure(501, f"{short} is not emulated", "notImplemented")
        return handler(p, body, now)

    def _getProfile(self, p: dict[str, Any], body: Any, now: datetime) -> tuple[int, Any]:
        threads = {m.thread_id for m in self.messages.values()}
        return 200, {
            "emailAddress": self.address,
            "messagesTotal": len(self.messages),
            "threadsTotal": len(threads),
            "historyId": str(self.history_id),
        }

    def _drafts_create(self, p: dict[str, Any], body: Any, now: datetime) -> tuple[int, Any]:
        message = (body or {}).get("message") or {}
        if "raw" not in message:
            raise ApiFailure(400, "Missing draft message", "invalidArgument")
        requested = message.get("threadId")
        if requested and not any(m.thread_id == requested for m in self.messages.values()):
            raise ApiFailure(404, "Requested entity was not found.", "notFound")
        created = self.add(unb64(message["raw"]), {"DRAFT"}, now, thread=requested)
        draft_id = f"r{next(self._draft_ids)}"
        self.drafts[draft_id] = created.id
        return 200, {
            "id": draft_id,
            "message": {"id": created.id, "threadId": created.thread_id, "labelIds": ["DRAFT"]},
        }

    def _drafts_get(self, p: dict[str, Any], body: Any, now: datetime) -> tuple[int, Any]:
        message = self.draft_message(p["id"])
        return 200, {"id": p["id"], "message": message.resource(p.get("format", "full"))}

    def _drafts_list(self, p: dict[str, Any], body: Any, now: datetime) -> tuple[int, Any]:
        drafts = sorted(self.drafts.items(), key=lambda d: -self.messages[d[1]].internal_ms)
        if p.get("q"):
            match = compile_query(p["q"])
            drafts = [d for d in drafts if match(self.messages[d[1]])]
        items = [{"id": d, "message": {"id": m, "threadId": self.messages[m].thread_id}} for d, m in drafts]
        return 200, _page(items, "drafts", p, 100, 500)

    def _drafts_delete(self, p: dict[str, Any], body: Any, now: datetime) -> tuple[int, Any]:
        message = self.draft_message(p["id"])
        del self.drafts[p["id"]]
        self.remove(message.id)
        return 204, None

    def _messages_list(self, p: dict[str, Any], body: Any, now: datetime) -> tuple[int, Any]:
        found = sorted(self.messages.values(), key=lambda m: (-m.internal_ms, m.id))
        q = p.get("q", "")
        if not p.get("includeSpamTrash") and not re.search(r"in:(anywhere|spam|trash)", q):
            found = [m for m in found if not m.labels & {"SPAM", "TRASH"}]
        for label in p.get("labelIds", []):
            found = [m for m in found if label in m.labels]
        if q:
            match = compile_query(q)
            found = [m for m in found if match(m)]
        items = [{"id": m.id, "threadId": m.thread_id} for m in found]
        return 200, _page(items, "messages", p, 100, 500)

    def _messages_get(self, p: dict[str, Any], body: Any, now: datetime) -> tuple[int, Any]:
        message = self.messages.get(p["id"])
        if message is None:
            raise ApiFailure(404, "Requested entity was not found.", "notFound")
        return 200, message.resource(p.get("format", "full"), p.get("metadataHeaders"))

    def _threads_get(self, p: dict[str, Any], body: Any, now: datetime) -> tuple[int, Any]:
        members = sorted((m for m in self.messages.values() if m.thread_id == p["id"]), key=lambda m: m.internal_ms)
        if not members:
            raise ApiFailure(404, "Requested entity was not found.", "notFound")
        fmt = p.get("format", "full")
        return 200, {
            "id": p["id"],
            "historyId": str(max(m.history_id for m in members)),
            "messages": [m.resource(fmt, p.get("metadataHeaders")) for m in members],
        }

    def _history_list(self, p: dict[str, Any], body: Any, now: datetime) -> tuple[int, Any]:
        try:
            start = int(p.get("startHistoryId", ""))
        except ValueError:
            raise ApiFailure(400, "Invalid startHistoryId", "invalidArgument") from None
        if start < self.history_floor:
            raise ApiFailure(404, "Requested entity was not found.", "notFound")
        types = set(p.get("historyTypes") or ())
        records = []
        for record in self.history:
            if int(record["id"]) <= start:
                continue
            if types:
                kept = {k: v for k, v in record.items() if k in ("id", "messages")}
                for kind in types:
                    if HISTORY_FIELDS[kind] in record:
                        kept[HISTORY_FIELDS[kind]] = record[HISTORY_FIELDS[kind]]
                if len(kept) == 2:
                    continue
                record = kept
            if p.get("labelId"):
                added = [a for a in record.get("messagesAdded", []) if p["labelId"] in a["message"]["labelIds"]]
                if not added:
                    continue
            records.append(record)
        page = _page(records, "history", p, 100, 500)
        page["historyId"] = str(self.history_id)
        return 200, page


def _page(items: list[Any], key: str, p: dict[str, Any], default: int, cap: int) -> dict[str, Any]:
    size = max(1, min(int(p.get("maxResults") or default), cap))
    offset = int(p.get("pageToken") or 0)
    chunk = items[offset : offset + size]
    page: dict[str, Any] = {"resultSizeEstimate": len(items)} if key != "history" else {}
    if chunk:  # like Gmail, an empty list is left out entirely
        page[key] = chunk
    if offset + size < len(items):
        page["nextPageToken"] = str(offset + size)
    return page
