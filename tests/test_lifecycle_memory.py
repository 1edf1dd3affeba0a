"""Clean-ups on the in-memory calendar (the reference CalendarSource), with the real
engine and store: a removed event and a Google-style `cancelled` stub (no people,
no times worth keeping) after the thank-you was sent do not stop the check-in."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followupd import config as config_module
from followupd.calendars.memory import MemoryCalendar
from followupd.clock import FixedClock
from followupd.engine import Engine
from followupd.mailboxes.memory import MemoryMailbox
from followupd.model import Attendee, Event, Partstat
from followupd.store import Store

from support.harness import write_config

START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
EVENT = Event(
    uid="acme-1",
    recurrence_id=None,
    summary="Interview: Backend Engineer at Acme",
    description="",
    start=START,
    end=START + timedelta(hours=1),
    organizer=Attendee("jane.doe@acme.io", "Jane Doe", Partstat.ACCEPTED),
    attendees=(Attendee("ada@example.org", "Ada", Partstat.ACCEPTED),),
)


@dataclass
class World:
    clock: FixedClock
    calendar: MemoryCalendar
    mailbox: MemoryMailbox
    store: Store
    engine: Engine

    def at(self, when: datetime) -> None:
        self.clock.set(when)
        assert self.engine.run_pass().problems == []

    def state(self, step: str = "thank-you") -> str:
        f = self.store.followup("acme-1", step)
        assert f is not None
        return str(f.state)

    def send(self, when: datetime) -> None:
        ((key, message),) = self.mailbox.drafts.items()
        del self.mailbox.drafts[key]
        self.mailbox.deliver(message.as_bytes(), when, "sent")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    config = config_module.load(
        write_config(tmp_path, 'kind = "ics"\npath = "/dev/null"', 'kind = "maildir"\npath = "/x"')
    )
    clock = FixedClock(START - timedelta(days=1))
    store = Store.open(tmp_path / "state", clock.now())
    calendar, mailbox = MemoryCalendar(), MemoryMailbox()
    calendar.put(EVENT)
    engine = Engine(config, store, clock, calendar=lambda: calendar, mailbox=lambda: mailbox)
    yield World(clock, calendar, mailbox, store, engine)
    engine.close()
    store.close()


@pytest.mark.parametrize("cleanup", ["removed", "cancelled stub"])
def test_a_clean_up_after_the_thank_you_was_sent_keeps_the_check_in(world: World, cleanup: str) -> None:
    world.at(DUE)
    assert world.state() == "drafted"
    world.send(DUE + timedelta(hours=1))
    world.at(DUE + timedelta(hours=2))
    assert (world.state(), world.state("check-in")) == ("sent", "planned")
    if cleanup == "removed":
        del world.calendar.events["acme-1"]
    else:
        world.calendar.put(dataclasses.replace(EVENT, status="cancelled", organizer=None, attendees=(), summary=""))
    world.at(DUE + timedelta(hours=3))
    assert world.state("check-in") == "planned"
    record = world.store.interview("acme-1")
    assert record is not None and not record.interview.cancelled
    assert [c.email for c in record.interview.contacts] == ["jane.doe@acme.io"]  # the stub did not replace it
    checkin = world.store.followup("acme-1", "check-in")
    assert checkin is not None and checkin.due_at is not None
    world.at(checkin.due_at)
    assert world.state("check-in") == "drafted"
    kept = [t for t in world.store.transitions("acme-1") if t[2] == "" and t[4] == "kept"]
    assert len(kept) == 1  # recorded once, not at every pass


def test_a_clean_up_before_any_draft_cancels(world: World) -> None:
    world.at(START + timedelta(hours=2))
    del world.calendar.events["acme-1"]
    world.at(START + timedelta(hours=3))
    assert (world.state(), world.state("check-in")) == ("cancelled", "cancelled")
    rows = [(t[2], t[4], t[5]) for t in world.store.transitions("acme-1")]
    assert ("", "cancelled", "the event is no longer in the calendar") in rows
    world.at(DUE)
    assert world.mailbox.drafts == {}
