"""The calendar contract on every source: memory, an ICS file, an ICS URL (a local HTTP
server), CalDAV on Radicale and on Xandikos, and Google Calendar on the emulator."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from followupd import config as config_module
from followupd.calendars import CalendarChanges, TimeRange
from followupd.calendars.caldav import CaldavSource
from followupd.calendars.google import GoogleCalendarSource
from followupd.calendars.ics import IcsSource
from followupd.calendars.memory import MemoryCalendar
from followupd.errors import BackendError, TransientError
from followupd.model import Attendee, Event, Partstat
from followupd.secrets import SecretStore

from support.calendar_contract import ME, SPAN, CalendarSourceContract, Spec
from support.google_emulator import Emulator
from support.google_emulator.fixtures import emulator, gevent, google_config, signed_in  # noqa: F401
from support.harness import write_config
from support.ics import calendar, stamp, vevent
from support.servers import CaldavAccount, free_port

MAILDIR = 'kind = "maildir"\npath = "/tmp"'


def ics_text(specs: dict[str, Spec]) -> str:
    return calendar(*(block for spec in specs.values() for block in ics_blocks(spec)))


def ics_blocks(spec: Spec) -> list[str]:
    status = "CANCELLED" if spec.cancelled else None
    length = timedelta(hours=spec.hours)
    rule = f"RRULE:FREQ=WEEKLY;COUNT={spec.weekly}" if spec.weekly > 1 else ""
    blocks = [vevent(spec.uid, spec.start, spec.start + length, spec.summary, status=status, extra=rule)]
    for n, at in spec.moved.items():
        original = spec.instances()[n][0]
        blocks.append(vevent(spec.uid, at, at + length, spec.summary, extra=f"RECURRENCE-ID:{stamp(original)}"))
    return blocks


# ---------------------------------------------------------------- memory


class MemoryHarness:
    idle_requests = 0

    def __init__(self) -> None:
        self.source = _FlakyMemory()

    def put(self, spec: Spec) -> None:
        for key in [k for k, e in self.source.events.items() if e.uid == spec.uid]:
            del self.source.events[key]
        me = Attendee(ME, "Ada Lovelace", Partstat.ACCEPTED)
        for original, start in spec.instances():
            self.source.put(
                Event(
                    uid=spec.uid,
                    recurrence_id=original if spec.weekly > 1 else None,
                    summary=spec.summary,
                    description="",
                    start=start,
                    end=start + timedelta(hours=spec.hours),
                    status="cancelled" if spec.cancelled else "confirmed",
                    attendees=(me,),
                )
            )

    def down(self) -> None:
        self.source.broken = True

    def up(self) -> None:
        self.source.broken = False

    def requests(self) -> int:
        return 0


class _FlakyMemory(MemoryCalendar):
    """The in-memory reference source, with a switch that makes it fail like a server."""

    broken: bool = False

    def fetch(self, cursor: str | None, span: TimeRange) -> CalendarChanges:
        if self.broken:
            raise TransientError("memory calendar is down")
        return super().fetch(cursor, span)


class TestMemoryCalendar(CalendarSourceContract):
    @pytest.fixture
    def harness(self) -> MemoryHarness:
        return MemoryHarness()


# ---------------------------------------------------------------- ICS file and URL


class IcsFileHarness:
    idle_requests = 0

    def __init__(self, home: Path, url: str | None = None) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.path = home / "calendar.ics"
        self.specs: dict[str, Spec] = {}
        self.write()
        where = f'url = "{url}"' if url else f'path = "{self.path}"'
        self.source = IcsSource(config_module.load(write_config(home, f'kind = "ics"\n{where}', MAILDIR)))

    def write(self) -> None:
        self.path.write_text(ics_text(self.specs), encoding="utf-8")

    def put(self, spec: Spec) -> None:
        self.specs[spec.uid] = spec
        self.write()

    def down(self) -> None:
        self.path.rename(self.path.with_suffix(".away"))

    def up(self) -> None:
        self.path.with_suffix(".away").rename(self.path)

    def requests(self) -> int:
        return 0


class TestIcsFile(CalendarSourceContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> IcsFileHarness:
        return IcsFileHarness(tmp_path)

    def test_an_outage_is_transient_and_heals(self, harness: Any) -> None:
        # A local file has no server to be down: a missing file is the user's to fix
        # (BackendError, named), and reading works again once it is back.
        harness.put(Spec("kept"))
        first = harness.source.fetch(None, SPAN)
        harness.down()
        try:
            with pytest.raises(BackendError, match="does not exist"):
                harness.source.fetch(first.cursor, SPAN)
        finally:
            harness.up()
        assert [e.key for e in harness.source.fetch(first.cursor, SPAN).events] == ["kept"]


class _Feed(http.server.BaseHTTPRequestHandler):
    body = b""
    status = 200
    count = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).count += 1
        self.send_response(self.status)
        self.send_header("Content-Type", "text/calendar")
        self.end_headers()
        if self.status == 200:
            self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass


class IcsUrlHarness(IcsFileHarness):
    idle_requests = 1  # the feed is downloaded each pass; unchanged, it is not parsed again

    def __init__(self, home: Path) -> None:
        self.handler = type("Feed", (_Feed,), {})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), self.handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        super().__init__(home, url=f"http://127.0.0.1:{self.server.server_port}/secret-feed.ics?token=s3cr3t")

    def write(self) -> None:
        super().write()
        self.handler.body = self.path.read_bytes()

    def down(self) -> None:
        self.handler.status = 503

    def up(self) -> None:
        self.handler.status = 200

    def requests(self) -> int:
        return int(self.handler.count)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TestIcsUrl(CalendarSourceContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Iterator[IcsUrlHarness]:
        harness = IcsUrlHarness(tmp_path)
        yield harness
        harness.close()

    def test_the_feed_url_is_never_shown(self, harness: IcsUrlHarness) -> None:
        harness.down()
        with pytest.raises(TransientError) as caught:
            harness.source.fetch(None, SPAN)
        assert "s3cr3t" not in str(caught.value) and "secret-feed" not in str(caught.value)
        assert "s3cr3t" not in harness.source.label and "secret-feed" not in harness.source.label


# ---------------------------------------------------------------- CalDAV


class CaldavHarness:
    idle_requests = 1  # one sync REPORT per calendar (one calendar here)

    def __init__(self, account: CaldavAccount, home: Path) -> None:
        self.account = account
        home.mkdir(parents=True, exist_ok=True)
        config = config_module.load(
            write_config(home, account.calendar_toml(), MAILDIR, extra='[secrets]\nbackend = "file"')
        )
        secrets = SecretStore("file", config.state_dir)
        secrets.set("caldav", account.username, account.password)
        self.source = CaldavSource(config, secrets)
        self.objects: dict[str, Any] = {}

    def put(self, spec: Spec) -> None:
        text = calendar(*ics_blocks(spec))
        if spec.uid in self.objects:
            self.objects[spec.uid].data = text
            self.objects[spec.uid].save()
        else:
            self.objects[spec.uid] = self.account.put(text)

    def down(self) -> None:
        server = self.account.server
        if self.account.endpoint:
            server.stop(self.account.username)  # type: ignore[union-attr]
        else:
            server.stop()  # type: ignore[call-arg]

    def up(self) -> None:
        server = self.account.server
        if self.account.endpoint:
            server.restart(self.account.username)  # type: ignore[union-attr]
        else:
            server.start()  # type: ignore[union-attr]

    def requests(self) -> int:
        return len(self.account.requests(0))


class TestCaldav(CalendarSourceContract):
    @pytest.fixture
    def harness(self, dav_account: CaldavAccount, tmp_path: Path) -> Iterator[CaldavHarness]:
        harness = CaldavHarness(dav_account, tmp_path / "home")
        yield harness
        harness.source.close()


# ---------------------------------------------------------------- Google


class GoogleHarness:
    idle_requests = 1  # one events.list with the sync token per calendar

    def __init__(self, emulator: Emulator, home: Path) -> None:  # noqa: F811
        self.emulator = emulator
        config, api = signed_in(google_config(home, emulator, mailbox="maildir"), emulator)
        self.source = GoogleCalendarSource(config, None, api=api)  # type: ignore[arg-type]
        self.ids: dict[str, list[str]] = {}

    def put(self, spec: Spec) -> None:
        for old in self.ids.pop(spec.uid, []):
            self.emulator.cancel_event(old)
        if spec.cancelled:
            return
        ids = []
        for original, start in spec.instances():
            if spec.weekly == 1:
                resource = gevent(spec.uid, spec.summary, start, spec.hours)
            else:
                event_id = f"{spec.uid}_{stamp(original)}"
                resource = gevent(
                    event_id,
                    spec.summary,
                    start,
                    spec.hours,
                    recurringEventId=spec.uid,
                    originalStartTime={"dateTime": original.isoformat(), "timeZone": "UTC"},
                )
            self.emulator.put_event(resource)
            ids.append(resource["id"])
        self.ids[spec.uid] = ids

    def down(self) -> None:
        self.emulator.fail("events.list", 503, times=100)

    def up(self) -> None:
        self.emulator.faults.clear()

    def requests(self) -> int:
        return sum(self.emulator.requests.values())


class TestGoogleCalendar(CalendarSourceContract):
    @pytest.fixture
    def harness(self, emulator: Emulator, tmp_path: Path) -> Iterator[GoogleHarness]:  # noqa: F811
        harness = GoogleHarness(emulator, tmp_path)
        yield harness
        harness.source.close()
