"""The Google request helper: one client per thread, Retry-After parsing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from followupd.google.api import _retry_after

from support.google_emulator import Emulator
from support.google_emulator.fixtures import emulator, google_config, signed_in  # noqa: F401


def test_each_thread_gets_its_own_http(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    _, api = signed_in(google_config(tmp_path, emulator), emulator)
    mine = api.service("gmail")
    assert api.service("gmail") is mine
    seen: list[object] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            service = api.service("gmail")
            seen.append(service._http)
            for _ in range(5):
                api.call("gmail", "getProfile", lambda c: c.users().getProfile(userId="me"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({id(http) for http in seen}) == 4 and mine._http not in seen
    assert emulator.count("getProfile") == 20
    api.close()


def test_retry_after_accepts_seconds_and_dates() -> None:
    assert _retry_after("12") == 12.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    later = _retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True))
    assert later is not None and 0 < later <= 30
    assert _retry_after(format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True)) == 0.0
