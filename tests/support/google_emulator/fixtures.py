"""Shared pieces for the Google tests: an emulator per test, configs that point at it,
and a signed-in GoogleApi whose backoff records instead of sleeping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from . import Emulator

ACCOUNT = "ada@example.org"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(ACCOUNT) as running:
        yield running


class Sleeps(list[float]):
    """Stands in for time.sleep: remembers each wait, never waits."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def google_config(
    home: Path, emulator: Emulator, calendar: str = "google", mailbox: str = "gmail", extra: str = ""
) -> Path:
    from support.harness import make_maildir, write_config

    cal = {
        "google": 'kind = "google"\ncalendars = ["primary"]',
        "ics": f'kind = "ics"\npath = "{home / "calendar.ics"}"',
    }[calendar]
    if calendar == "ics":
        (home / "calendar.ics").write_text("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nEND:VCALENDAR\n")
    box = {"gmail": 'kind = "gmail"', "maildir": f'kind = "maildir"\npath = "{make_maildir(home / "Mail")}"'}[mailbox]
    google = f'\n[google]\naccount = "{ACCOUNT}"\nendpoint = "{emulator.url}"\ntimeout = "5s"\n\n[secrets]\nbackend = "file"\n'
    return write_config(home, cal, box, google + extra)


def write_grant(path: Path, info: dict[str, Any]) -> Path:
    path.write_text(json.dumps(info), encoding="utf-8")
    return path


def signed_in(config_path: Path, emulator: Emulator, **api_options: Any) -> tuple[Any, Any]:
    """(config, GoogleApi) with a fresh grant stored in the config's file secret store."""
    from followupd import config as config_module
    from followupd.google import credentials
    from followupd.google.api import GoogleApi
    from followupd.secrets import SecretStore

    config = config_module.load(config_path)
    secrets = SecretStore("file", config.state_dir)
    credentials.save(secrets, ACCOUNT, credentials.Grant.from_info(emulator.grant()))
    api_options.setdefault("sleep", Sleeps())
    return config, GoogleApi(config, secrets, **api_options)


def gevent(
    event_id: str,
    summary: str,
    start: datetime,
    hours: float = 1.0,
    *,
    me: str = "accepted",
    organizer: str = "jane.doe@acme.io",
    others: tuple[str, ...] = ("jane.doe@acme.io",),
    description: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """A Google Calendar event resource as events.list returns it: an invitation from
    `organizer` that the user answered `me` (None: the user's own event, no attendees)."""

    def stamp(at: datetime) -> dict[str, str]:
        return {"dateTime": at.isoformat(), "timeZone": "Europe/London"}

    event: dict[str, Any] = {
        "id": event_id,
        "summary": summary,
        "description": description,
        "start": stamp(start),
        "end": stamp(start + timedelta(hours=hours)),
        "created": "2026-10-01T09:00:00.000Z",
        "updated": "2026-10-01T09:00:00.000Z",
        "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
        "eventType": "default",
        "sequence": 0,
    }
    if me is None:
        event["organizer"] = event["creator"] = {"email": ACCOUNT, "self": True}
    else:
        event["organizer"] = {"email": organizer, "displayName": "Jane Doe" if organizer.startswith("jane") else None}
        event["attendees"] = [{"email": ACCOUNT, "self": True, "responseStatus": me}] + [
            {
                "email": other,
                "displayName": "Jane Doe" if other.startswith("jane") else None,
                "responseStatus": "accepted",
                **({"organizer": True} if other == organizer else {}),
            }
            for other in others
        ]
        event["attendees"] = [{k: v for k, v in a.items() if v is not None} for a in event["attendees"]]
        event["organizer"] = {k: v for k, v in event["organizer"].items() if v is not None}
    event.update(extra)
    return event
