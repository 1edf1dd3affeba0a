"""Shared pieces for the Google tests: an emulator per test, configs that point at it,
and a signed-in GoogleApi whose backoff records instead of sleeping."""

from __future__ import annotations

import json
from collections.abc import Iterator
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


def google_config(home: Path, emulator: Emulator, calendar: str = "google", mailbox: str = "gmail",
                  extra: str = "") -> Path:
    from conftest import make_maildir, write_config

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
