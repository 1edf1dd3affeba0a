"""A CalDAV calendar (caldav library): time-range queries, kept cheap with sync-collection.

A full read asks each calendar for the objects overlapping the range (plus a week,
so the range can slide a week before it has to be read again) and expands their
recurrences here, with calendars.ical. Before that it takes each calendar's
DAV:sync-token. Later passes ask the server (RFC 6578 sync-collection) whether
anything changed since that token: when nothing did, the pass costs one small
REPORT per calendar and returns no events; when anything did, the range is read
again in full. A full read is the only way to be exact about recurring events,
whose changed or deleted occurrences a sync report cannot name.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from followupd.calendars import CalendarChanges, CalendarSource, TimeRange
from followupd.calendars.ical import Attendance, events_in, parse_calendar
from followupd.errors import AuthError, BackendError, FollowupdError, Problem, TransientError
from followupd.secrets import password_for
from followupd.urls import redact, refuse_cleartext

if TYPE_CHECKING:
    from followupd.config import CaldavSettings, Config
    from followupd.secrets import SecretStore

log = logging.getLogger(__name__)

SLACK = timedelta(days=7)  # read this far past the range, so the next passes can sync instead
# The calendar list is kept across passes (an idle pass is then one REPORT per calendar)
# and asked for again after an error, a 404 or 410 from a calendar, or this long.
REDISCOVER = timedelta(days=1)


def password(settings: CaldavSettings, secrets: SecretStore) -> str:
    return password_for(secrets, "caldav", "calendar", settings.username, settings.password_command)


def server_name(settings: CaldavSettings) -> str:
    """The server as messages name it: host and port, never credentials put in the URL."""
    parts = urlsplit(settings.url)
    return parts.netloc.rsplit("@", 1)[-1] or redact(settings.url)  # never show credentials put in the URL


@contextlib.contextmanager
def translated(settings: CaldavSettings) -> Iterator[None]:
    """Turn the caldav library's and the HTTP layer's exceptions into ours, naming the server."""
    from caldav.lib import error

    server = server_name(settings)
    hint = "fix calendar.password_command" if settings.password_command else "followupd auth caldav"
    try:
        yield
    except FollowupdError:
        raise
    except error.AuthorizationError as exc:
        if exc.status == 403:
            raise BackendError(
                f"CalDAV server {server} denied access for {settings.username} ({exc.reason}); check [calendar] url"
            ) from None
        raise AuthError(f"CalDAV server {server} refused the login for {settings.username}", hint=hint) from None
    except error.NotFoundError:
        raise BackendError(
            f"CalDAV server {server} has nothing at {redact(settings.url)}; check [calendar] url"
        ) from None
    except error.DAVError as exc:
        status = exc.status or 0
        if status >= 500 or status == 429:
            raise TransientError(f"CalDAV server {server} failed: {_reason(exc)}; will retry") from None
        raise BackendError(f"CalDAV server {server} refused a request: {_reason(exc)}; check [calendar] url") from None
    except OSError as exc:  # requests' and niquests' RequestException are OSErrors too
        if _is_certificate_error(exc):
            raise BackendError(
                f"the TLS certificate of CalDAV server {server} cannot be verified; check [calendar] url"
            ) from None
        raise TransientError(f"cannot reach CalDAV server {server}: {_cause(exc)}; will retry") from None


def _cause(exc: BaseException) -> str:
    # HTTP libraries bury the socket error ("[Errno 111] Connection refused") deep in
    # their message, after the URL; show just that.
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
    return match.group(1).strip() if match else type(exc).__name__


def _reason(exc: Any) -> str:
    return f"HTTP {exc.status} {exc.reason}" if exc.status else str(exc.reason)


def _is_certificate_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if "CERTIFICATE_VERIFY_FAILED" in str(current) or type(current).__name__ == "SSLCertVerificationError":
            return True
        current = current.__cause__ or current.__context__
    return False


def _same_url(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return pa.netloc.lower() == pb.netloc.lower() and unquote(pa.path).rstrip("/") == unquote(pb.path).rstrip("/")


def client(settings: CaldavSettings, secret: str) -> Any:
    from caldav.davclient import DAVClient

    refuse_cleartext(settings.url, "calendar.url")

    return DAVClient(
        settings.url,
        username=settings.username,
        password=secret,
        timeout=max(1, int(settings.timeout.total_seconds())),
    )


class CaldavSource(CalendarSource):
    def __init__(self, config: Config, secrets: SecretStore) -> None:
        self.settings: CaldavSettings = config.calendar  # type: ignore[assignment]
        self.secrets = secrets
        self.zone = config.me.timezone
        self.label = self.settings.label
        self.server = server_name(self.settings)
        self.attendance = Attendance(config.me.addresses, config.detect.require_accepted)
        self._client: Any = None
        self._principal: Any = None
        self._chosen: list[Any] | None = None
        self._listed_until: datetime | None = None  # the span's end when the list was read
        refuse_cleartext(self.settings.url, "calendar.url")

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        self._client = self._principal = self._chosen = None

    def fetch(self, cursor: str | None, span: TimeRange) -> CalendarChanges:
        from caldav.lib import error

        try:
            with translated(self.settings):
                try:
                    return self._fetch(cursor, span)
                except error.DAVError as exc:
                    if not isinstance(exc, error.NotFoundError) and exc.status not in (404, 410):
                        raise
                    # a calendar was deleted or moved: list the calendars again, once
                    log.info("%s: a calendar is gone (%s); listing the calendars again", self.label, _reason(exc))
                    self._chosen = None
                    return self._fetch(cursor, span)
        except FollowupdError:
            self.close()  # start afresh next time (a new password, a server back up)
            raise

    def _fetch(self, cursor: str | None, span: TimeRange) -> CalendarChanges:
        # The span's end moves with the injected clock, so "once a day" needs no clock here.
        stale = self._listed_until is None or span.end - self._listed_until >= REDISCOVER
        if self._chosen is None or stale:
            self._chosen = self._calendars()
            self._listed_until = span.end
        calendars = self._chosen
        state = _load(cursor)
        tokens: dict[str, str] = state.get("tokens", {})
        until = _instant(state.get("until"))
        urls = {str(c.url) for c in calendars}
        if set(tokens) == urls and all(tokens.values()) and until is not None and until >= span.end:
            fresh = self._sync(calendars, tokens)
            if fresh is not None:
                log.debug("%s: no changes since the last pass", self.label)
                return CalendarChanges([], complete=False, cursor=_dump(fresh, until))
        return self._full(calendars, span)

    def _calendars(self) -> list[Any]:
        if self._principal is None:
            secret = password(self.settings, self.secrets)
            self._client = client(self.settings, secret)
            self._principal = self._client.principal()
        found = self._principal.get_calendars()
        wanted = self.settings.calendars
        if not wanted:
            if not found:
                raise BackendError(f"CalDAV server {self.server} lists no calendars for {self.settings.username}")
            return list(found)
        chosen: list[Any] = []
        missing: list[str] = []
        for name in wanted:
            match = [c for c in found if c.get_display_name() == name or _same_url(str(c.url), name)]
            if match:
                chosen.extend(c for c in match if c not in chosen)
            else:
                missing.append(name)
        if missing:
            names = ", ".join(repr(c.get_display_name() or str(c.url)) for c in found) or "none"
            raise BackendError(
                f"CalDAV server {self.server} has no calendar {', '.join(map(repr, missing))}; "
                f"check [calendar] calendars (there are: {names})"
            )
        return chosen

    def _sync(self, calendars: list[Any], tokens: dict[str, str]) -> dict[str, str] | None:
        """New tokens if no calendar changed since `tokens`, else None."""
        from caldav.lib import error

        fresh = {}
        for calendar in calendars:
            url = str(calendar.url)
            try:
                result = calendar.get_objects_by_sync_token(tokens[url], load_objects=False, disable_fallback=True)
            except error.AuthorizationError as exc:
                if exc.status == 401:
                    raise
                log.debug("%s: sync token for %s refused (%s); reading it in full", self.label, url, exc)
                return None
            except (error.ReportError, error.DAVError) as exc:
                if exc.status is not None and exc.status >= 500:
                    raise
                log.debug("%s: sync-collection failed for %s (%s); reading it in full", self.label, url, exc)
                return None
            if len(result) or getattr(result, "deleted_urls", None) or not result.sync_token:
                return None
            fresh[url] = str(result.sync_token)
        return fresh

    def _full(self, calendars: list[Any], span: TimeRange) -> CalendarChanges:
        until = span.end + SLACK
        tokens: dict[str, str] = {}
        parsed, problems = [], []
        for calendar in calendars:
            url = str(calendar.url)
            # The token first: a change made while we read is then reported next time.
            tokens[url] = self._token(calendar)
            objects = calendar.search(start=span.start, end=until, event=True, expand=False, post_filter=False)
            for obj in objects:
                where = f"{self.label}: {unquote(urlsplit(str(obj.url)).path)}"
                try:
                    parsed.append(parse_calendar(obj.data, where))
                except ValueError as exc:
                    problems.append(Problem(where, f"skipped: {exc}"))
        events, more = events_in(parsed, TimeRange(span.start, until), self.zone, self.label, self.attendance)
        log.debug("%s: read %d objects, %d events in range", self.label, len(parsed), len(events))
        return CalendarChanges(events, complete=True, cursor=_dump(tokens, until), problems=problems + more)

    def _token(self, calendar: Any) -> str:
        from caldav.elements import dav
        from caldav.lib import error

        try:
            token = calendar.get_property(dav.SyncToken(), use_cached=False)
        except error.AuthorizationError:
            raise
        except error.DAVError as exc:
            log.debug("%s: no sync-token for %s (%s)", self.label, calendar.url, exc)
            return ""
        return str(token) if token else ""  # "" = no RFC 6578: read in full every pass


def _load(cursor: str | None) -> dict[str, Any]:
    try:
        state = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    if not isinstance(state, dict) or not isinstance(state.get("tokens"), dict):
        return {}
    return state


def _dump(tokens: dict[str, str], until: datetime) -> str:
    return json.dumps({"tokens": tokens, "until": until.isoformat()}, separators=(",", ":"), sort_keys=True)


def _instant(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None
