"""Google Calendar as the emulator keeps it: events per calendar, a change log, sync tokens.

Recurring events are stored as their instances (what `singleEvents=true` returns):
ids "<series>_<YYYYMMDDTHHMMSSZ>" with `recurringEventId` and `originalStartTime`.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .discovery import ApiFailure

SYNC_INCOMPATIBLE = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)


@dataclass
class CalendarData:
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)  # event id -> sequence of its last change
    seq: int = 0
    generation: int = 0  # bumping it makes every sync token stale (410)


def _token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def _untoken(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(text.encode()))
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def _rfc3339(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ApiFailure(400, "Bad Request", "badRequest")
    return parsed


def _bounds(event: dict[str, Any]) -> tuple[datetime, datetime]:
    def instant(edge: dict[str, Any]) -> datetime:
        if "dateTime" in edge:
            return datetime.fromisoformat(edge["dateTime"])
        return datetime.fromisoformat(edge["date"] + "T00:00:00+00:00")

    return instant(event["start"]), instant(event["end"])


class Calendar:
    def __init__(self) -> None:
        self.calendars: dict[str, CalendarData] = {"primary": CalendarData()}
        self.page_size = 250

    def data(self, calendar_id: str) -> CalendarData:
        if calendar_id not in self.calendars:
            raise ApiFailure(404, "Not Found", "notFound")
        return self.calendars[calendar_id]

    # ------------------------------------------------------------ backdoor

    def put(self, calendar_id: str, event: dict[str, Any]) -> None:
        data = self.calendars.setdefault(calendar_id, CalendarData())
        data.seq += 1
        stored = copy.deepcopy(event)
        stored.setdefault("status", "confirmed")
        stored.setdefault("kind", "calendar#event")
        stored["etag"] = f'"{data.seq}"'
        stored.setdefault("iCalUID", f"{event.get('recurringEventId', event['id'])}@google.com")
        data.events[event["id"]] = stored
        data.changed[event["id"]] = data.seq

    def cancel(self, calendar_id: str, event_id: str) -> None:
        """Delete or cancel: what is left is the stub Google sends (id, status, and for an
        instance of a recurring event recurringEventId and originalStartTime)."""
        data = self.calendars[calendar_id]
        old = data.events[event_id]
        stub = {"kind": "calendar#event", "id": event_id, "status": "cancelled"}
        for key in ("recurringEventId", "originalStartTime"):
            if key in old:
                stub[key] = old[key]
        data.seq += 1
        stub["etag"] = f'"{data.seq}"'
        data.events[event_id] = stub
        data.changed[event_id] = data.seq

    # ------------------------------------------------------------ events.list

    def handle(self, short: str, p: dict[str, Any], now: datetime) -> tuple[int, Any]:
        if short != "events.list":
            raise ApiFailure(501, f"{short} is not emulated", "notImplemented")
        data = self.data(p["calendarId"])
        single = bool(p.get("singleEvents", False))
        page = _untoken(p["pageToken"]) if p.get("pageToken") else None
        if p.get("pageToken") and page is None:
            raise ApiFailure(400, "Invalid page token value.", "invalid")
        if p.get("syncToken"):
            clashing = [k for k in SYNC_INCOMPATIBLE if k in p]
            if clashing:
                raise ApiFailure(400, f"Sync token cannot be used together with {', '.join(clashing)}.", "invalid")
            if p.get("showDeleted") is False:
                raise ApiFailure(400, "Sync token requires showDeleted to be unset or true.", "invalid")
            token = _untoken(p["syncToken"])
            if token is None or token.get("c") != p["calendarId"]:
                raise ApiFailure(400, "Invalid sync token value.", "invalid")
            if token.get("g") != data.generation:
                raise ApiFailure(
                    410,
                    "Sync token is no longer valid, a full sync is required.",
                    "fullSyncRequired",
                    domain="calendar",
                )
            upto = page["upto"] if page else data.seq
            items = [e for i, e in data.events.items() if token["s"] < data.changed[i] <= upto]
        else:
            time_min = _rfc3339(p["timeMin"], "timeMin") if "timeMin" in p else None
            time_max = _rfc3339(p["timeMax"], "timeMax") if "timeMax" in p else None
            if time_min and time_max and time_max <= time_min:
                raise ApiFailure(400, "The specified time range is empty.", "timeRangeEmpty")
            upto = page["upto"] if page else data.seq
            items = []
            for event_id, event in data.events.items():
                if data.changed[event_id] > upto:
                    continue
                if event["status"] == "cancelled":
                    if p.get("showDeleted"):
                        items.append(event)
                    continue
                try:
                    start, end = _bounds(event)
                except (KeyError, ValueError):  # a test planted a broken event: let the client see it
                    items.append(event)
                    continue
                if (time_min and end <= time_min) or (time_max and start >= time_max):
                    continue
                items.append(event)
        items.sort(key=lambda e: e["id"])
        size = max(1, min(int(p.get("maxResults") or self.page_size), 2500, self.page_size))
        offset = page["o"] if page else 0
        body: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"{data.seq}"',
            "summary": p["calendarId"],
            "updated": now.isoformat().replace("+00:00", "Z"),
            "timeZone": "UTC",
            "accessRole": "owner",
            "defaultReminders": [],
            "items": copy.deepcopy(items[offset : offset + size]),
        }
        if offset + size < len(items):
            body["nextPageToken"] = _token({"o": offset + size, "upto": upto})
        else:
            # Only the last page carries the sync token.
            body["nextSyncToken"] = _token({"c": p["calendarId"], "s": upto, "g": data.generation, "single": single})
        return 200, body
