"""Talking to Google's APIs through google-api-python-client.

One `GoogleApi` per backend: it builds services from the bundled discovery documents
(no network), gives every thread its own `httplib2.Http` (httplib2 is not
thread-safe) with the configured timeout, retries what is safe to retry with bounded
exponential backoff that honours `Retry-After`, and turns every failure into
followupd's errors: AuthError (re-authorise), TransientError (try again later) or
BackendError naming the server and the request.
"""

from __future__ import annotations

import email.utils
import functools
import http.client
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from followupd.errors import AuthError, BackendError, TransientError
from followupd.google import HINT, account_for, check_endpoint, scopes_for
from followupd.google import credentials as grants

if TYPE_CHECKING:
    from followupd.config import Config
    from followupd.secrets import SecretStore

log = logging.getLogger(__name__)

# name -> (discovery name, version, what users call it, Google's host, path under [google] endpoint)
SERVICES = {
    "gmail": ("gmail", "v1", "Gmail", "gmail.googleapis.com", "/"),
    # Calendar's discovery document puts calendar/v3/ in the base URL, not in method paths.
    "calendar": ("calendar", "v3", "Google Calendar", "www.googleapis.com", "/calendar/v3/"),
}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})


class ApiError(BackendError):
    """Google answered with an error that retrying will not fix; callers may expect some
    (a 404 for a draft that is gone, a 410 for a stale sync token)."""

    def __init__(self, message: str, status: int, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class Uncertain(TransientError):
    """A request that is not safe to repeat failed without saying whether it took effect."""


class GoogleApi:
    def __init__(
        self,
        config: Config,
        secrets: SecretStore,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 32.0,
        timeout: float | None = None,
    ) -> None:
        check_endpoint(config)
        # googleapiclient warns about every 403/429 it sees, even with its own retries off;
        # we retry ourselves and say once what went wrong, so its chatter only repeats us.
        # Set when a client is made (not at import, which must have no side effects), so
        # embedders that configure logging themselves get the same quiet journal.
        logging.getLogger("googleapiclient.http").setLevel(logging.ERROR)
        self.account = account_for(config)
        self.scopes = scopes_for(config)
        self.endpoint = config.google.endpoint.rstrip("/") if config.google.endpoint else None
        self.timeout = timeout if timeout is not None else config.google.timeout.total_seconds()
        self.sleep = sleep
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.secrets = secrets
        self.grant = grants.load(secrets, self.account)
        grants.check_scopes(self.grant, self.scopes, self.account)
        self.credentials = grants.credentials(self.grant)
        self._generation = 0  # bumped when a new grant replaces the old one
        self._refused = False  # the last request was refused: look for a new grant first
        self._local = threading.local()
        self._https: list[Any] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------ clients

    def host(self, service: str) -> str:
        if self.endpoint:
            return urlsplit(self.endpoint).netloc or self.endpoint
        return SERVICES[service][3]

    def service(self, name: str) -> Any:
        """This thread's client for `name` ("gmail" or "calendar")."""
        services: dict[str, Any] | None = getattr(self._local, "services", None)
        if services is None or getattr(self._local, "generation", None) != self._generation:
            services = self._local.services = {}
            self._local.generation = self._generation
        if name not in services:
            import google_auth_httplib2
            import httplib2
            from googleapiclient.discovery import build

            api, version, _, _, path = SERVICES[name]
            raw = httplib2.Http(timeout=self.timeout)
            with self._lock:
                self._https.append(raw)
            authorized = google_auth_httplib2.AuthorizedHttp(self.credentials, http=raw)
            options = {"api_endpoint": self.endpoint + path} if self.endpoint else None
            services[name] = build(
                api, version, http=authorized, static_discovery=True, cache_discovery=False, client_options=options
            )
        return services[name]

    def close(self) -> None:
        with self._lock:
            https, self._https = self._https, []
        for raw in https:
            raw.close()
        self._local = threading.local()

    # ------------------------------------------------------------ requests

    def call(self, service: str, what: str, make: Callable[[Any], Any], *, idempotent: bool = True) -> Any:
        """Run `make(client).execute()`, retrying what is safe to retry.

        `what` names the request in messages ("drafts.create"). A request that is not
        idempotent is retried only when Google says it was not processed (429, rate
        limits); a 5xx or a lost connection raises `Uncertain` so the caller can look
        before trying again.
        """
        try:
            return self._call(service, what, make, idempotent)
        except AuthError:
            self._refused = True
            raise

    def _reload(self) -> None:
        """After a refusal, pick up a grant `followupd auth google` stored meanwhile, so
        a long-running daemon carries on without a restart."""
        grant = grants.load(self.secrets, self.account)
        grants.check_scopes(grant, self.scopes, self.account)
        if grant != self.grant:
            log.info("using the new Google sign-in for %s", self.account)
            self.grant = grant
            self.credentials = grants.credentials(grant)
            self._generation += 1
        self._refused = False

    def _call(self, service: str, what: str, make: Callable[[Any], Any], idempotent: bool) -> Any:
        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError
        from httplib2 import HttpLib2Error

        # The engine prefixes the backend's label ("Gmail: …"), so messages start with the request.
        host = self.host(service)
        label = f"{what} at {host}"
        if self._refused:
            self._reload()
        for attempt in range(1, self.attempts + 1):
            wait: float | None = None
            try:
                return make(self.service(service)).execute()
            except HttpError as exc:
                status = int(exc.resp.status)  # compare as integers, never as strings
                reason, message = _error_details(exc)
                if status == 401:
                    raise AuthError(
                        f"Google refused the access token for {self.account} ({message})", hint=HINT
                    ) from None
                if status == 403 and reason in SCOPE_REASONS:
                    raise AuthError(
                        f"the Google sign-in for {self.account} does not allow {what} ({message})", hint=HINT
                    ) from None
                if not (status in RETRY_STATUSES or (status == 403 and reason in RATE_LIMIT_REASONS)):
                    raise ApiError(f"{label} failed: HTTP {status} {message}", status, reason) from None
                failure = f"HTTP {status} {message}"
                if not idempotent and status >= 500:
                    raise Uncertain(f"{label}: {failure}") from None
                wait = _retry_after(exc.resp.get("retry-after"))
            except RefreshError as exc:
                detail = _refresh_detail(exc)
                if not getattr(exc, "retryable", False):
                    raise AuthError(
                        f"Google refused the sign-in for {self.account}: it was revoked or has expired ({detail})",
                        hint=HINT,
                    ) from None
                failure = f"the sign-in could not be refreshed ({detail})"
            except (TransportError, HttpLib2Error, http.client.HTTPException, OSError) as exc:
                failure = f"no answer from {host} ({_describe(exc)})"
                if not idempotent:
                    raise Uncertain(f"{label}: {failure}") from None
            if attempt == self.attempts:
                raise TransientError(f"{label}: {failure}; gave up after {attempt} attempts")
            if wait is not None and wait > self.max_delay:
                raise TransientError(f"{label}: {failure}; Google asks to wait {wait:.0f} s, trying again next pass")
            log.debug("%s: %s; retrying (attempt %d of %d)", label, failure, attempt, self.attempts)
            self.backoff(attempt, wait)
        raise AssertionError("unreachable")

    def backoff(self, attempt: int, wait: float | None = None) -> None:
        """Sleep before retry number `attempt`: `wait` when the server named it (Retry-After),
        else exponential with jitter, so many clients do not retry in step."""
        if wait is None:
            wait = min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
        self.sleep(wait)

    def pages(self, service: str, what: str, make: Callable[[Any, str | None], Any]) -> Iterator[Any]:
        """Yield each page of a list request; `make(client, page_token)` builds one page."""
        token: str | None = None
        while True:
            page = self.call(service, what, functools.partial(_page, make, token))
            yield page
            token = page.get("nextPageToken")
            if not token:
                return


def _page(make: Callable[[Any, str | None], Any], token: str | None, client: Any) -> Any:
    return make(client, token)


def _error_details(exc: Any) -> tuple[str, str]:
    """(reason, message) from Google's JSON error body, e.g. ("rateLimitExceeded", "…")."""
    try:
        error = json.loads(exc.content.decode("utf-8"))["error"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return "", str(getattr(exc.resp, "reason", "") or "")
    if not isinstance(error, dict):
        return "", str(error)[:300]
    errors = error.get("errors") or [{}]
    reason = str(errors[0].get("reason", "")) if isinstance(errors[0], dict) else ""
    if not reason:
        for detail in error.get("details") or []:
            if isinstance(detail, dict) and detail.get("reason"):
                reason = str(detail["reason"])
                break
    return reason, str(error.get("message", "")).rstrip(".")[:300]


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _refresh_detail(exc: Exception) -> str:
    first = exc.args[0] if exc.args else ""
    return str(first)[:300] or type(exc).__name__


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
    if cause is not None:
        return _describe(cause)
    return str(exc) or type(exc).__name__
