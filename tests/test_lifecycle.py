"""The life of a sequence, end to end through the CLI on an ICS file and a Maildir:
patience with a draft that left Drafts, clean-ups that are not cancellations, stale
drafts, and interviews first seen after their window closed.

The interview: Wednesday 4 November 2026, 14:00-15:00 UTC; its thank-you window is
Thu 15:00 → Fri 15:00, so the draft is due Thursday 15:00.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.harness import Cli
from support.ics import calendar, vevent
from support.maildir_user import deliver, drafts, edit, mail, only_draft, send

START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
DUE = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
CLOSES = END + timedelta(hours=48)
UID = "acme-1@example.test"
WAITING = "left Drafts; waiting to see it in Sent"


def iso(at: datetime) -> str:
    return at.isoformat()


def acme(uid: str = UID, organizer: str = "Jane Doe <jane.doe@acme.io>", **options: object) -> str:
    return vevent(uid, START, END, organizer=organizer, **options)  # type: ignore[arg-type]


def write_calendar(cli: Cli, *events: str) -> None:
    (cli.home / "calendar.ics").write_text(calendar(*events), encoding="utf-8")


@pytest.fixture
def cli(ics_cli: Cli) -> Cli:
    write_calendar(ics_cli, acme())
    notices = ics_cli.home / "notices"
    ics_cli.config.write_text(
        ics_cli.config.read_text() + f'\n[notify]\ncommand = "echo $FOLLOWUPD_EVENT >> {notices}"\n'
    )
    return ics_cli


def notices(cli: Cli) -> list[str]:
    path = cli.home / "notices"
    return path.read_text().split() if path.exists() else []


def add_reply_settings(cli: Cli, settings: str) -> None:
    cli.config.write_text(cli.config.read_text() + f"\n[reply]\n{settings}\n")


# ---------------------------------------------------------------- patience (issue 14)


def test_a_draft_that_left_drafts_waits_for_its_sent_copy(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE))
    path, _ = only_draft(maildir)
    raw = path.read_bytes()
    path.unlink()  # the sync tool brought the Drafts change first; Sent follows later
    cli.run(iso(DUE + timedelta(minutes=5)))
    thanks = cli.step(UID)
    assert (thanks["state"], thanks["note"]) == ("drafted", WAITING)
    assert f"drafted ({WAITING})" in cli("status").stdout
    assert cli.step(UID, "check-in")["state"] == "planned"
    assert notices(cli) == ["draft-created"]  # nothing said about a deletion

    deliver(maildir, raw, DUE + timedelta(minutes=1), "Sent")  # the Sent copy arrives
    cli.run(iso(DUE + timedelta(minutes=25)))
    thanks = cli.step(UID)
    assert (thanks["state"], thanks["note"]) == ("sent", None)
    assert DUE.isoformat() <= thanks["sent_at"] <= (DUE + timedelta(minutes=1)).isoformat()
    assert cli.step(UID, "check-in")["due_at"] is not None
    assert notices(cli) == ["draft-created"]


def test_a_draft_that_stays_gone_is_dismissed_after_the_grace_period(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE))
    only_draft(maildir)[0].unlink()
    cli.run(iso(DUE + timedelta(minutes=5)))  # first seen missing
    cli.run(iso(DUE + timedelta(minutes=15)))  # only 10 minutes later: still waiting
    assert (cli.step(UID)["state"], cli.step(UID)["note"]) == ("drafted", WAITING)
    cli.run(iso(DUE + timedelta(minutes=20)))  # 15 minutes and one more pass
    assert cli.step(UID)["state"] == "dismissed"
    assert cli.step(UID, "check-in")["state"] == "cancelled"
    cli.run(iso(DUE + timedelta(hours=3)))
    assert drafts(maildir) == []  # never re-created
    assert notices(cli) == ["draft-created"]


def test_dismiss_after_is_configurable_and_still_needs_a_second_pass(cli: Cli, maildir: Path) -> None:
    add_reply_settings(cli, 'dismiss_after = "0s"')
    cli.run(iso(DUE))
    only_draft(maildir)[0].unlink()
    cli.run(iso(DUE + timedelta(hours=1)))
    assert cli.step(UID)["state"] == "drafted"  # one pass saw it gone: not enough
    cli.run(iso(DUE + timedelta(hours=1, seconds=1)))
    assert cli.step(UID)["state"] == "dismissed"


def test_a_draft_back_in_drafts_is_not_waiting_any_more(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE))
    path, _ = only_draft(maildir)
    hidden = path.read_bytes()
    path.unlink()
    cli.run(iso(DUE + timedelta(minutes=5)))
    path.write_bytes(hidden)  # a sync tool put it back
    cli.run(iso(DUE + timedelta(minutes=30)))
    thanks = cli.step(UID)
    assert (thanks["state"], thanks["note"], thanks["missing_since"]) == ("drafted", None, None)


def test_a_draft_edited_before_its_pass_recorded_it_is_never_deleted(cli: Cli, maildir: Path) -> None:
    """A pass wrote the draft and died before recording it; the user edited it; then a
    reply came. The recovered draft cannot be proven untouched, so it stays."""
    cli.run(iso(DUE))
    db = sqlite3.connect(cli.home / "state" / "state.sqlite3")
    with db:
        db.execute(
            "UPDATE followups SET state = 'drafting', draft_key = NULL, draft_fingerprint = NULL WHERE step = 'thank-you'"
        )
    db.close()
    edit(only_draft(maildir)[0], "Hi Jane,\n\nMy own words about the design review.\n\nAda\n")
    deliver(maildir, mail(), DUE + timedelta(hours=1))
    cli.run(iso(DUE + timedelta(hours=2)))
    assert cli.step(UID)["state"] == "replied"
    ((_, kept),) = drafts(maildir)
    assert "My own words" in kept.get_body(("plain",)).get_content()  # type: ignore[union-attr]


# ---------------------------------------------------------------- clean-ups (issue 13)


def test_deleting_the_event_after_the_thank_you_was_sent_does_not_stop_the_check_in(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE))
    send(maildir, only_draft(maildir)[0], DUE + timedelta(hours=1))
    cli.run(iso(DUE + timedelta(hours=2)))
    checkin = cli.step(UID, "check-in")
    assert cli.step(UID)["state"] == "sent" and checkin["state"] == "planned"
    write_calendar(cli)  # the user tidies their calendar
    cli.run(iso(DUE + timedelta(hours=3)))
    assert cli.step(UID, "check-in")["state"] == "planned"
    cli.run(checkin["due_at"])
    assert cli.step(UID, "check-in")["state"] == "drafted"
    assert len(drafts(maildir)) == 1


def test_cancelling_the_event_after_the_thank_you_was_drafted_keeps_the_sequence(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE))
    write_calendar(cli, acme(status="CANCELLED"))
    cli.run(iso(DUE + timedelta(hours=1)))
    assert [r["state"] for r in cli.status()] == ["drafted", "planned"]
    assert cli.step(UID)["contacts"] == ["jane.doe@acme.io"]
    assert len(drafts(maildir)) == 1
    cli.run(iso(DUE + timedelta(hours=2)))  # said once, stored once
    assert [r["state"] for r in cli.status()] == ["drafted", "planned"]


def test_cancelling_the_event_before_any_draft_still_stops_it(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE - timedelta(hours=2)))
    write_calendar(cli)
    cli.run(iso(DUE))
    assert {r["state"] for r in cli.status()} == {"cancelled"}
    assert drafts(maildir) == []


# ---------------------------------------------------------------- stale drafts (issue 13)


def test_a_draft_unsent_when_its_window_closes_is_stale_and_said_once(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE))
    cli.run(iso(CLOSES + timedelta(hours=1)))
    thanks = cli.step(UID)
    assert thanks["state"] == "drafted" and thanks["note"].startswith("stale")
    assert thanks["stale_at"] == iso(CLOSES + timedelta(hours=1))
    assert "stale" in cli("status").stdout
    assert len(drafts(maildir)) == 1  # on_stale = "keep" by default
    cli.run(iso(CLOSES + timedelta(hours=2)))
    assert notices(cli) == ["draft-created", "stale"]


def test_on_stale_delete_untouched_removes_only_untouched_drafts(cli: Cli, maildir: Path) -> None:
    add_reply_settings(cli, 'on_stale = "delete-untouched"')
    write_calendar(cli, acme(), acme("globex-1@example.test", "Tom Baker <tom@globex.io>"))
    cli.run(iso(DUE))
    assert len(drafts(maildir)) == 2
    edited = next(p for p, m in drafts(maildir) if "tom@globex.io" in str(m["To"]))
    edit(edited, "Hi Tom,\n\nThank you; here is the link I promised.\n\nAda\n")
    cli.run(iso(CLOSES + timedelta(hours=1)))
    untouched = cli.step(UID)
    assert untouched["state"] == "dismissed" and "removed" in untouched["note"]
    kept = cli.step("globex-1@example.test")
    assert kept["state"] == "drafted" and kept["note"].startswith("stale")
    ((_, left),) = drafts(maildir)
    assert "tom@globex.io" in str(left["To"])
    assert notices(cli).count("stale") == 2


# ---------------------------------------------------------------- first seen too late (issue 13)


def test_an_interview_first_seen_after_its_window_closed_is_listed_as_missed(ics_cli: Cli, maildir: Path) -> None:
    ics_cli.run(iso(START - timedelta(days=2)))  # the store exists from here on
    write_calendar(ics_cli, acme())  # added to the calendar later, or synced while we were off
    ics_cli.run(iso(CLOSES + timedelta(days=5)))
    thanks = ics_cli.step(UID)
    assert (thanks["state"], thanks["note"]) == ("missed", "first seen after its window closed")
    assert ics_cli.step(UID, "check-in")["state"] == "cancelled"
    assert drafts(maildir) == []
