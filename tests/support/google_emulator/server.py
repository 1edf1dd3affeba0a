"""The emulator: a loopback HTTP server the real googleapiclient talks to.

Each API request is matched to a discovery-document method, counted (requests and
quota units), checked for a valid bearer token with a scope the method allows (and
the gmail.metadata restrictions), validated (query parameters and body fields), and
then answered from the in-memory Gmail and Calendar state. Tests drive the other
side (mail arriving, the user sending or editing a draft, events changing, faults,
a revoked grant) through the backdoor methods below, in-process.
"""

from __future__ import annotations

import email.message
import email.policy
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .calendar import Calendar
from .discovery import ApiFailure, Router
from .gmail import Gmail, Message
from .oauth import OAuth

GMAIL_METADATA = "https://www.googleapis.com/auth/gmail.metadata"
ALL_SCOPES = (
    "https://www.googleapis.com/auth/calendar.events.readonly",
    "https://www.googleapis.com/auth/gmail.compose",
    "https://www.googleapis.com/auth/gmail.readonly",
)
QUOTA = {
    "drafts.create": 10,
    "drafts.get": 5,
    "drafts.list": 5,
    "drafts.delete": 10,
    "messages.list": 5,
    "messages.get": 5,
    "threads.get": 10,
    "history.list": 2,
    "getProfile": 1,
}


@dataclass
class Fault:
    method: str  # short name ("drafts.create", "events.list") or "*"
    times: int
    status: int | None = None
    retry_after: str | None = None
    reason: str | None = None
    delay: float = 0.0
    after: bool = False  # fail after doing the work (the client cannot tell whether it happened)
    reset: bool = False  # do the work, then drop the connection halfway through the answer


class Emulator:
    def __init__(self, address: str = "ada@example.org") -> None:
        self.lock = threading.RLock()
        self.router = Router()
        self.gmail = Gmail(address)
        self.calendar = Calendar()
        self.oauth = OAuth()
        self.requests: Counter[str] = Counter()
        self.units: Counter[str] = Counter()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.faults: list[Fault] = []
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Emulator:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.emulator = self  # type: ignore[attr-defined]
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="google-emulator", daemon=True
        ).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------ backdoor: accounts and faults

    def grant(self, scopes: tuple[str, ...] = ALL_SCOPES, with_token: bool = False) -> dict[str, Any]:
        with self.lock:
            return self.oauth.grant(scopes, self.url + "/token", with_token)

    def revoke(self) -> None:
        with self.lock:
            self.oauth.revoke()

    def fail(
        self,
        method: str,
        status: int,
        times: int = 1,
        retry_after: str | None = None,
        reason: str | None = None,
        after: bool = False,
    ) -> None:
        with self.lock:
            self.faults.append(Fault(method, times, status, retry_after, reason, after=after))

    def reset(self, method: str, times: int = 1) -> None:
        """Answer `method` with half a response, then close the connection (a reset mid-response)."""
        with self.lock:
            self.faults.append(Fault(method, times, reset=True))

    def slow(self, method: str, seconds: float, times: int = 1) -> None:
        with self.lock:
            self.faults.append(Fault(method, times, delay=seconds))

    def count(self, method: str) -> int:
        return self.requests[method]

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()
            self.units.clear()
            self.calls.clear()

    # ------------------------------------------------------------ backdoor: Gmail

    def deliver(self, raw: bytes, arrived: datetime, folder: str = "inbox") -> str:
        labels = {"INBOX", "UNREAD"} if folder == "inbox" else {"SENT"}
        with self.lock:
            return self.gmail.add(raw, labels, arrived).id

    def drafts(self) -> list[tuple[str, Message]]:
        with self.lock:
            return [(d, self.gmail.messages[m]) for d, m in self.gmail.drafts.items()]

    def draft(self, message_id: str) -> Message:
        with self.lock:
            return self.gmail.messages[self.gmail.drafts[self.gmail.find_draft(message_id)]]

    def send_draft(self, message_id: str, at: datetime, rewrite_message_id: bool = False) -> Message:
        """The user presses Send: the draft goes, a new message with a new id lands in SENT
        in the same thread (Gmail's documented behaviour)."""
        with self.lock:
            draft_id = self.gmail.find_draft(message_id)
            old = self.gmail.messages[self.gmail.drafts.pop(draft_id)]
            raw = old.raw
            if rewrite_message_id:
                raw = raw.replace(message_id.encode(), b"<CAsent" + old.id.encode() + b"@mail.gmail.com>")
            self.gmail.remove(old.id)
            return self.gmail.add(raw, {"SENT"}, at, thread=old.thread_id, same_thread=True)

    def edit_draft(self, message_id: str, body: str) -> None:
        """The user edits the draft in Gmail: same draft id, new message id."""
        with self.lock:
            draft_id = self.gmail.find_draft(message_id)
            old = self.gmail.messages[self.gmail.drafts[draft_id]]
            parsed = email.message_from_bytes(old.raw, policy=email.policy.default)
            assert isinstance(parsed, email.message.EmailMessage)
            parsed.set_content(body)
            new = self.gmail.add(parsed.as_bytes(), {"DRAFT"}, self.now(), thread=old.thread_id, same_thread=True)
            self.gmail.drafts[draft_id] = new.id
            self.gmail.remove(old.id)

    def delete_draft(self, message_id: str) -> None:
        with self.lock:
            draft_id = self.gmail.find_draft(message_id)
            self.gmail.remove(self.gmail.drafts.pop(draft_id))

    def expire_history(self) -> None:
        """Every historyId older than the current one becomes too old (history.list answers 404)."""
        with self.lock:
            self.gmail.history_floor = self.gmail.history_id

    # ------------------------------------------------------------ backdoor: Calendar

    def put_event(self, event: dict[str, Any], calendar: str = "primary") -> None:
        with self.lock:
            self.calendar.put(calendar, event)

    def cancel_event(self, event_id: str, calendar: str = "primary") -> None:
        with self.lock:
            self.calendar.cancel(calendar, event_id)

    def expire_sync_tokens(self, calendar: str = "primary") -> None:
        with self.lock:
            self.calendar.calendars[calendar].generation += 1

    # ------------------------------------------------------------ HTTP

    def handle(self, verb: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        if parts.path == "/token" and verb == "POST":
            with self.lock:
                self.requests["oauth.token"] += 1
                form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
                status, answer = self.oauth.token_endpoint(form, headers.get("authorization"))
            return status, {"Content-Type": "application/json"}, json.dumps(answer).encode()
        if parts.path == "/o/oauth2/auth" and verb == "GET":
            with self.lock:
                return self.oauth.authorize({k: v[0] for k, v in query.items()})
        found = self.router.match(verb, parts.path)
        if found is None:
            return 404, {"Content-Type": "text/html"}, b"<html><body>Error 404 (Not Found)</body></html>"
        method, path_params = found
        short = method.short
        with self.lock:
            self.requests[short] += 1
            self.units[short] += QUOTA.get(short, 0)
            fault = self._take_fault(short)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)  # outside the lock: other requests go on
        try:
            with self.lock:
                scopes = self.oauth.scopes_of(headers.get("authorization"))
                if not scopes_allow(scopes, method.scopes):
                    raise ApiFailure(403, "Request had insufficient authentication scopes.", "insufficientPermissions")
                if fault is not None and fault.status is not None and not fault.after:
                    raise _injected(fault)
                params = {**method.api.query(method, query), **path_params}
                data = method.api.body(method, body)
                _metadata_rules(scopes, short, params)
                self.calls.append((short, params))
                if method.id.startswith("gmail."):
                    status, answer = self.gmail.handle(short, params, data, self.now())
                else:
                    status, answer = self.calendar.handle(short, params, self.now())
                if fault is not None and fault.status is not None:
                    raise _injected(fault)
        except ApiFailure as failure:
            out = {"Content-Type": "application/json; charset=UTF-8", **failure.headers}
            if failure.code == 401:
                out["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
            return failure.code, out, json.dumps(failure.body()).encode()
        if status == 204 or answer is None:
            return 204, {}, b""
        out = {"Content-Type": "application/json; charset=UTF-8"}
        if fault is not None and fault.reset:
            out[_RESET] = "1"
        return status, out, json.dumps(answer).encode()

    def _take_fault(self, short: str) -> Fault | None:
        for fault in self.faults:
            if fault.method in (short, "*") and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None


def scopes_allow(granted: tuple[str, ...], allowed: frozenset[str]) -> bool:
    return any(s in allowed for s in granted)


def _metadata_rules(scopes: tuple[str, ...], short: str, params: dict[str, Any]) -> None:
    """gmail.metadata forbids search and bodies, even when granted with gmail.readonly."""
    if GMAIL_METADATA not in scopes:
        return
    if short in ("messages.list", "threads.list", "drafts.list") and params.get("q"):
        raise ApiFailure(403, "Metadata scope does not support 'q' parameter", "forbidden")
    if short in ("messages.get", "threads.get", "drafts.get") and params.get("format", "full") in ("full", "raw"):
        raise ApiFailure(
            403, f"Metadata scope doesn't allow format {params.get('format', 'full').upper()}", "forbidden"
        )


def _injected(fault: Fault) -> ApiFailure:
    assert fault.status is not None
    extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
    return ApiFailure(fault.status, _fault_message(fault.status), fault.reason or "", headers=extra)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-request (the crash suite does it hundreds of times) is not news.
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


_RESET = "X-Emulator-Reset"  # internal: tells the handler to cut the answer short


def _fault_message(status: int) -> str:
    return {
        429: "Too many concurrent requests for user",
        403: "User-rate limit exceeded",
        500: "Internal error encountered.",
        502: "Bad Gateway",
        503: "The service is currently unavailable.",
    }.get(status, f"Injected error {status}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httplib2 expects
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        emulator: Emulator = self.server.emulator  # type: ignore[attr-defined]
        status, out, payload = emulator.handle(self.command, self.path, headers, body)
        reset = out.pop(_RESET, None) is not None
        try:
            self.send_response(status)
            for key, value in out.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if reset:
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer to

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass
