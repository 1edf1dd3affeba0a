"""The engine over random histories: passes at random times while the user sends,
edits and deletes drafts and people reply. Real store, in-memory calendar and mailbox."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followupd import config as config_module
from followupd.calendars.memory import MemoryCalendar
from followupd.clock import FixedClock
from followupd.engine import Engine
from followupd.mailboxes.memory import MemoryMailbox
from followupd.model import Attendee, Event, Partstat, ThreadHint
from followupd.store import Store

from support.harness import write_config
from support.maildir_user import mail

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


class RecordingMailbox(MemoryMailbox):
    def __init__(self, clock: FixedClock) -> None:
        super().__init__()
        self.clock = clock
        self.log: list[tuple[str, datetime]] = []

    def create_draft(self, message: EmailMessage, thread: ThreadHint | None = None):  # type: ignore[no-untyped-def]
        self.log.append((str(message["Message-ID"]), self.clock.now()))
        return super().create_draft(message, thread)


def interview(n: int) -> Event:
    start = T0 + timedelta(hours=7 * n)
    return Event(
        uid=f"iv{n}",
        recurrence_id=None,
        summary=f"Interview {n}: Engineer at Acme",
        description="",
        start=start,
        end=start + timedelta(hours=1),
        organizer=Attendee(f"jane{n}@acme{n}.io", "Jane Doe", Partstat.ACCEPTED),
        attendees=(Attendee("ada@example.org", "Ada", Partstat.ACCEPTED),),
    )


actions = st.lists(
    st.tuples(
        st.sampled_from(["pass", "pass", "pass", "send", "delete", "edit", "reply", "auto-reply", "cancel"]),
        st.integers(0, 3),
        st.integers(1, 40 * 60),  # minutes to move the clock
    ),
    min_size=5,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=actions)
def test_engine_invariants(tmp_path: Path, script: list[tuple[str, int, int]]) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    config = config_module.load(write_config(root, 'kind = "ics"\npath = "/dev/null"', 'kind = "maildir"\npath = "/x"'))
    clock = FixedClock(T0)
    store = Store.open(root / "state", clock.now())
    calendar = MemoryCalendar()
    for n in range(4):
        calendar.put(interview(n))
    mailbox = RecordingMailbox(clock)
    engine = Engine(config, store, clock, calendar=lambda: calendar, mailbox=lambda: mailbox)
    replied_at: dict[str, datetime] = {}
    try:
        for action, n, minutes in script:
            clock.set(clock.now() + timedelta(minutes=minutes))
            uid = f"iv{n}"
            mine = [(k, m) for k, m in mailbox.drafts.items() if f"iv{n}" in _uid_of(store, m)]
            if action == "pass":
                engine.run_pass()
                for row in store.interviews():
                    if row.replied_at is not None:
                        replied_at.setdefault(row.uid, clock.now())
            elif action == "send" and mine:
                key, message = mine[0]
                del mailbox.drafts[key]
                mailbox.deliver(message.as_bytes(), clock.now(), "sent")
            elif action == "delete" and mine:
                del mailbox.drafts[mine[0][0]]
            elif action == "edit" and mine:
                mine[0][1].set_content("My own words.")
            elif action in ("reply", "auto-reply"):
                headers = "Auto-Submitted: auto-replied" if action == "auto-reply" else ""
                mailbox.deliver(mail(sender=f"jane{n}@acme{n}.io", headers=headers).encode(), clock.now())
            elif action == "cancel":
                event = calendar.events[uid]
                calendar.put(Event(**{**event.__dict__, "status": "cancelled"}))

        ids = [mid for mid, _ in mailbox.log]
        assert len(ids) == len(set(ids)), "two drafts for one step"
        followups = {f.message_id: f for f in store.followups() if f.message_id}
        for mid, at in mailbox.log:
            f = followups[mid]
            assert f.window_start is not None and f.window_end is not None and f.due_at is not None
            assert f.window_start <= f.due_at <= at <= f.window_end, "drafted outside its window"
            seen_reply = replied_at.get(f.uid)
            assert seen_reply is None or at < seen_reply, "drafted after a reply stopped the sequence"
    finally:
        engine.close()
        store.close()


def _uid_of(store: Store, message: EmailMessage) -> str:
    for f in store.followups():
        if f.message_id == message["Message-ID"]:
            return f.uid
    return ""
