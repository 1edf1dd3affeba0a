"""Google Calendar through the Calendar API, incrementally with sync tokens.

The first sync lists, per calendar, every event whose end is after the start of the
span (`timeMin`: interviews whose window may still be open, and everything ahead),
with recurring events expanded (`singleEvents=true`). Later syncs send the stored
`nextSyncToken` and get only what changed, including cancellations as bare stubs.
A 410 from any calendar means its token expired: everything is read again in full.

Event keys: an instance of a recurring event is keyed by its series id and original
start, so the instance and the stub Google sends when it is cancelled (only id,
recurringEventId and originalStartTime) name the same interview.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from followupd.calendars import MAX_PER_DAY, CalendarChanges, CalendarSource, TimeRange, midnight
from followupd.errors import BackendError, Problem
from followupd.google.api import ApiError, GoogleApi
from followupd.model import Attendee, Cutype, Event, Partstat, event_key

if TYPE_CHECKING:
    from followupd.config import Config, GoogleCalendarSettings
    from followupd.secrets import SecretStore

log = logging.getLogger(__name__)

PAGE_SIZE = 2500  # the most Google allows: fewer pages, fewer requests
_PARTSTAT = {
    "accepted": Partstat.ACCEPTED,
    "tentative": Partstat.TENTATIVE,
    "declined": Partstat.DECLINED,
    "needsAction": Partstat.NEEDS_ACTION,
}


class _FullSyncRequired(Exception):
    pass


class GoogleCalendarSource(CalendarSource):
    def __init__(self, config: Config, secrets: SecretStore, *, api: GoogleApi | None = None) -> None:
        settings: GoogleCalendarSettings = config.calendar  # type: ignore[assignment]
        self.calendars = settings.calendars
        if not self.calendars:
            raise BackendError('[calendar] calendars is empty; list at least one, e.g. calendars = ["primary"]')
        self.api = api or GoogleApi(config, secrets)
        self.label = settings.label
        self.zone = config.me.timezone

    def close(self) -> None:
        self.api.close()

    def fetch(self, cursor: str | None, span: TimeRange) -> CalendarChanges:
        tokens = _tokens(cursor)
        if tokens is not None and all(c in tokens for c in self.calendars):
            try:
                return self._sync(span, tokens)
            except _FullSyncRequired as exc:
                log.info("%s: %s; reading the calendars in full again", self.label, exc)
        return self._sync(span, None)

    def _sync(self, span: TimeRange, tokens: dict[str, str] | None) -> CalendarChanges:
        """Every calendar in full (tokens None), or what changed since each token."""
        events: dict[str, Event] = {}
        removed: list[str] = []
        problems: list[Problem] = []
        new_tokens: dict[str, str] = {}
        for calendar_id in self.calendars:
            items, new_tokens[calendar_id] = self._list(calendar_id, span, tokens[calendar_id] if tokens else None)
            for item in items:
                try:
                    mapped = _event(item, self.zone)
                except (KeyError, TypeError, ValueError) as exc:
                    where = f"{self.label}: event {item.get('summary') or item.get('id', '?')!r} in {calendar_id}"
                    problems.append(Problem(where, f"skipped, it cannot be read ({type(exc).__name__}: {exc})"))
                    continue
                if isinstance(mapped, str):
                    removed.append(mapped)
                else:
                    events[mapped.key] = mapped  # the same event in two calendars counts once
        removed = [key for key in dict.fromkeys(removed) if key not in events]
        cursor = json.dumps({"v": 1, "tokens": new_tokens}, separators=(",", ":"))
        kept = _few_a_day(list(events.values()), self.zone, problems, self.label)
        return CalendarChanges(kept, removed, tokens is None, cursor, problems)

    def _list(self, calendar_id: str, span: TimeRange, token: str | None) -> tuple[list[dict[str, Any]], str]:
        items: list[dict[str, Any]] = []
        next_token = ""

        def request(client: Any, page: str | None) -> Any:
            options: dict[str, Any] = {"calendarId": calendar_id, "singleEvents": True, "maxResults": PAGE_SIZE}
            if page:
                options["pageToken"] = page
            if token:
                options["syncToken"] = token  # may not be combined with timeMin
            else:
                options["timeMin"] = span.start.astimezone(UTC).isoformat().replace("+00:00", "Z")
            return client.events().list(**options)

        try:
            for page in self.api.pages("calendar", "events.list", request):
                items += page.get("items", [])
                next_token = page.get("nextSyncToken") or next_token  # only on the last page
        except ApiError as exc:
            if exc.status == 410 and token:
                raise _FullSyncRequired(f"the sync token for {calendar_id} expired") from None
            if exc.status == 404:
                raise BackendError(
                    f"{self.label}: there is no calendar {calendar_id!r} (or this account cannot see it); "
                    "check [calendar] calendars: ids are under Google Calendar → Settings → Integrate calendar"
                ) from None
            raise
        if not next_token:
            raise BackendError(f"{self.label}: Google sent no sync token for {calendar_id!r}")
        return items, next_token


def _few_a_day(events: list[Event], zone: tzinfo, problems: list[Problem], label: str) -> list[Event]:
    """At most MAX_PER_DAY instances of one recurring event a day (in `zone`): Google
    expands the series itself, and an interview does not recur more often than that."""
    kept: list[Event] = []
    per_day: Counter[tuple[str, date]] = Counter()
    cut: Counter[str] = Counter()
    for event in sorted(events, key=lambda e: e.start):
        if event.recurrence_id is not None:
            day = (event.uid, event.start.astimezone(zone).date())
            if per_day[day] >= MAX_PER_DAY:
                cut[event.uid] += 1
                continue
            per_day[day] += 1
        kept.append(event)
    for uid, count in cut.items():
        problems.append(
            Problem(
                f"{label}: recurring event {uid!r}",
                f"it recurs more often than an interview does; {count} occurrences beyond {MAX_PER_DAY} a day not read",
            )
        )
    return kept


def _tokens(cursor: str | None) -> dict[str, str] | None:
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
        tokens = data["tokens"]
    except (ValueError, KeyError, TypeError):
        log.info("the stored Google Calendar cursor is unreadable; reading in full")
        return None
    return {str(k): str(v) for k, v in tokens.items()} if isinstance(tokens, dict) else None


def _event(item: dict[str, Any], zone: tzinfo) -> Event | str:
    """An Event, or the key of a cancelled one (str)."""
    uid = str(item.get("recurringEventId") or item["id"])
    recurrence_id = _when(item["originalStartTime"], item) if item.get("recurringEventId") else None
    if item.get("status") == "cancelled":
        return event_key(uid, recurrence_id)
    start, end = item["start"], item["end"]
    all_day = "dateTime" not in start  # {"date": "2026-11-11"}: never an interview by itself
    if all_day:
        # the end date exclusive: from midnight to midnight in the user's zone
        begins, ends = (midnight(date.fromisoformat(str(edge["date"])), zone) for edge in (start, end))
    else:
        begins, ends = _when(start, item), _when(end, item)
    organizer = item.get("organizer") or {}
    attendees = tuple(_attendee(a) for a in item.get("attendees", []) if a.get("email"))
    organizer_entry = next((a for a in attendees if a.email == str(organizer.get("email", "")).lower()), None)
    return Event(
        uid=uid,
        recurrence_id=recurrence_id,
        summary=str(item.get("summary", "")),
        # HTML when typed in Google's editor: the detector reads it as text (html_text).
        description=str(item.get("description", "")),
        start=begins,
        end=max(begins, ends),
        status=str(item.get("status", "confirmed")),
        organizer=Attendee(
            email=str(organizer["email"]).lower(),
            name=organizer.get("displayName"),
            partstat=organizer_entry.partstat if organizer_entry else Partstat.UNKNOWN,
            is_self=bool(organizer.get("self")),
        )
        if organizer.get("email")
        else None,
        attendees=attendees,
        location=str(item.get("location", "")),
        all_day=all_day,
    )


def _attendee(data: dict[str, Any]) -> Attendee:
    return Attendee(
        email=str(data["email"]).lower(),
        name=data.get("displayName"),
        partstat=_PARTSTAT.get(str(data.get("responseStatus")), Partstat.UNKNOWN),
        cutype=Cutype.RESOURCE if data.get("resource") else Cutype.INDIVIDUAL,
        is_self=bool(data.get("self")),
    )


def _when(edge: dict[str, Any], item: dict[str, Any]) -> datetime:
    if "dateTime" in edge:
        value = datetime.fromisoformat(str(edge["dateTime"]))
        if value.tzinfo is None:  # Google always sends an offset; be safe anyway
            zone = edge.get("timeZone") or "UTC"
            try:
                value = value.replace(tzinfo=ZoneInfo(zone))
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {zone!r}") from None
        return value.astimezone(UTC)
    # originalStartTime of an all-day series: midnight UTC keeps the key stable.
    return midnight(date.fromisoformat(str(edge["date"])), UTC)
