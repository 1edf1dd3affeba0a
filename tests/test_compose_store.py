"""Drafts as MIME, and the store's promises: migrations, privacy, the pass lock."""

from __future__ import annotations

import sqlite3
import stat
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followupd.compose import Composer, message_id
from followupd.config import Me, ResolvedStep
from followupd.model import Contact, Interview, State
from followupd.store import MIGRATIONS, FollowUp, PassLock, Store, StoreError

ME = Me(name="Ada Lovelace", email="ada@example.org", timezone=ZoneInfo("Europe/London"))
NOW = datetime(2026, 11, 5, 15, tzinfo=UTC)
THANKS = ResolvedStep("thank-you", "thank-you.txt.j2", timedelta(hours=24), timedelta(hours=48))
CHECKIN = ResolvedStep("check-in", "check-in.txt.j2", timedelta(days=7), timedelta(days=9))


def interview(**kw: object) -> Interview:
    options: dict = dict(
        uid="u1",
        title="Interview",
        start=NOW - timedelta(days=1, hours=1),
        end=NOW - timedelta(days=1),
        contacts=(Contact("jane.doe@acme.io", "Jane Doe"),),
        company="Acme",
        role="Backend Engineer",
        notes="their move to event sourcing",
    )
    options.update(kw)
    return Interview(**options)


def test_message_id_is_deterministic_per_step() -> None:
    assert message_id("u1", "thank-you", ME) == message_id("u1", "thank-you", ME)
    assert message_id("u1", "thank-you", ME) != message_id("u1", "check-in", ME)
    assert message_id("u1#20261104T140000Z", "thank-you", ME) != message_id("u1", "thank-you", ME)
    assert message_id("u1", "thank-you", ME).endswith("@example.org>")


def test_default_drafts_read_like_a_person_wrote_them() -> None:
    composer = Composer(ME, ME.timezone, None)
    for step in (THANKS, CHECKIN):
        for variant in (interview(), interview(notes=None, role=None, company=None, contacts=(Contact("x@y.io"),))):
            message = composer.compose(step, variant, NOW)
            body = message.get_body(("plain",)).get_content()
            assert len(body.split()) <= 150
            assert not any(mark in body for mark in ("{", "}", "[", "]", "TODO", "XXX", "None"))
            assert body.rstrip().endswith("Ada Lovelace")
    plain = composer.compose(THANKS, interview(notes=None, role=None, company=None, contacts=(Contact("x@y.io"),)), NOW)
    assert plain["Subject"] == "Thank you for your time"
    assert plain.get_body(("plain",)).get_content().startswith("Hello,")
    assert "about the position." in plain.get_body(("plain",)).get_content()


def test_the_draft_says_yesterday_or_the_weekday() -> None:
    composer = Composer(ME, ME.timezone, None)
    body = composer.compose(THANKS, interview(), NOW).get_body(("plain",)).get_content()
    assert "speak with me yesterday about the Backend Engineer role at Acme" in body
    later = composer.compose(THANKS, interview(), NOW + timedelta(days=1)).get_body(("plain",)).get_content()
    assert "on Wednesday" in later


text = st.text(st.characters(codec="utf-8"), max_size=300)


@settings(max_examples=300, deadline=None)
@given(title=text, name=text, role=text, company=text, notes=text)
def test_hostile_text_never_becomes_a_header(title: str, name: str, role: str, company: str, notes: str) -> None:
    composer = Composer(ME, ME.timezone, None)
    iv = interview(
        title=title,
        role=role or None,
        company=company or None,
        notes=notes or None,
        contacts=(Contact("jane@acme.io", name or None),),
    )
    raw = composer.compose(THANKS, iv, NOW).as_bytes()
    head, _, _ = raw.partition(b"\r\n\r\n")
    names = [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n") if line and line[:1] not in b" \t"]
    assert names == [
        b"from",
        b"to",
        b"subject",
        b"date",
        b"message-id",
        b"content-type",
        b"content-transfer-encoding",
        b"mime-version",
    ]
    parsed = message_from_bytes(raw, policy=default)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["jane@acme.io"]


# ---------------------------------------------------------------- store


def test_store_is_private_and_versioned(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = Store.open(state, NOW)
    assert store.schema_version == len(MIGRATIONS)
    assert store.created_at == NOW
    store.close()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "state.sqlite3").stat().st_mode) == 0o600
    # Re-opening later keeps the creation time: it decides what is history.
    assert Store.open(state, NOW + timedelta(days=5)).created_at == NOW


def test_store_from_a_newer_version_is_refused_not_damaged(tmp_path: Path) -> None:
    Store.open(tmp_path, NOW).close()
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    with db:
        db.execute("UPDATE schema_version SET version = 99")
    db.close()
    with pytest.raises(StoreError, match="newer followupd"):
        Store.open(tmp_path, NOW)


def test_every_state_change_is_recorded(tmp_path: Path) -> None:
    store = Store.open(tmp_path, NOW)
    store.save_interview(interview(), NOW)
    f = FollowUp("u1", "thank-you", 0, State.PLANNED)
    store.save_followup(f, NOW, "planned")
    store.save_followup(f.replace(due_at=NOW), NOW)  # not a state change
    store.save_followup(f.replace(state=State.DRAFTING), NOW, "creating")
    assert [(t[3], t[4]) for t in store.transitions()] == [(None, "planned"), ("planned", "drafting")]


def test_health_is_reported_once_per_outage(tmp_path: Path) -> None:
    store = Store.open(tmp_path, NOW)
    assert store.set_health("mailbox", "transient", "down", NOW) is True
    assert store.set_health("mailbox", "transient", "down", NOW + timedelta(minutes=5)) is False
    assert store.set_health("mailbox", "transient", "down differently", NOW + timedelta(minutes=9)) is True
    assert store.health()[0].since == NOW
    assert store.clear_health("mailbox") is True
    assert store.clear_health("mailbox") is False


def test_pass_lock_excludes_a_second_process(tmp_path: Path) -> None:
    first = PassLock(tmp_path)
    assert first.acquire(wait=False)
    second = PassLock(tmp_path)
    assert not second.acquire(wait=False)
    acquired = threading.Event()
    waiter = threading.Thread(target=lambda: (second.acquire(), acquired.set()))
    waiter.start()
    assert not acquired.wait(0.2)
    first.release()
    assert acquired.wait(5)
    second.release()
    waiter.join()
