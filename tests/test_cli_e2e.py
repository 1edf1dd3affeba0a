"""The whole pipeline through the CLI, on an ICS file and a Maildir, moving time with --now.

The interview used throughout: Wednesday 4 November 2026, 14:00-15:00 in London
(UTC at that time of year). Its thank-you window is Thu 15:00 → Fri 15:00, so the
draft is due Thursday 15:00, inside business hours.
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
UID = "acme-1@example.test"


def iso(at: datetime) -> str:
    return at.isoformat()


def write_calendar(cli: Cli, *events: str) -> None:
    (cli.home / "calendar.ics").write_text(calendar(*events), encoding="utf-8")


def acme(**overrides: object) -> str:
    options: dict = {
        "attendees": ["Tom Baker <tom.baker@acme.io>", "Room 4 <room4@acme.io>;CUTYPE=ROOM"],
        "description": "Panel interview.\nNotes: their move to event sourcing",
    }
    options.update(overrides)
    return vevent(UID, START, END, **options)


@pytest.fixture
def cli(ics_cli: Cli) -> Cli:
    write_calendar(ics_cli, acme())
    return ics_cli


# ---------------------------------------------------------------- the happy path


def test_interview_is_found_and_planned(cli: Cli, maildir: Path) -> None:
    cli.run(iso(END + timedelta(minutes=5)))
    rows = cli.status()
    assert [(r["step"], r["state"]) for r in rows] == [("thank-you", "planned"), ("check-in", "planned")]
    thanks, checkin = rows
    assert thanks["uid"] == UID
    assert thanks["title"] == "Interview: Backend Engineer at Acme"
    assert thanks["start"] == "2026-11-04T14:00:00+00:00" and thanks["end"] == "2026-11-04T15:00:00+00:00"
    assert thanks["contacts"] == ["jane.doe@acme.io", "tom.baker@acme.io"]  # not me, not the room
    assert thanks["due_at"] == "2026-11-05T15:00:00+00:00"
    assert checkin["due_at"] is None  # counts from when the thank-you is sent
    assert drafts(maildir) == []


def test_draft_is_created_once_when_due(cli: Cli, maildir: Path) -> None:
    cli.run(iso(END + timedelta(minutes=5)))
    cli.run(iso(DUE - timedelta(minutes=1)))
    assert drafts(maildir) == []
    cli.run(iso(DUE))
    path, draft = only_draft(maildir)
    assert path.name.endswith(":2,DS")
    assert draft["From"] == "Ada Lovelace <ada@example.org>"
    assert draft["To"] == "Jane Doe <jane.doe@acme.io>, Tom Baker <tom.baker@acme.io>"
    assert draft["Subject"] == "Thank you – Backend Engineer interview"
    body = draft.get_body(("plain",)).get_content()
    assert body.startswith("Hi Jane and Tom,")
    assert "the Backend Engineer role at Acme" in body
    assert "our discussion of your move to event sourcing" in body
    assert "{" not in body and "[" not in body  # no placeholder left to fill
    assert len(body.split()) <= 150
    assert cli.step(UID)["state"] == "drafted"
    for later in (DUE + timedelta(minutes=5), DUE + timedelta(hours=5)):
        cli.run(iso(later))
    assert len(drafts(maildir)) == 1


def test_sent_thank_you_plans_and_drafts_the_check_in(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE))
    path, _ = only_draft(maildir)
    sent_at = DUE + timedelta(hours=1)
    send(maildir, path, sent_at)
    cli.run(iso(sent_at + timedelta(minutes=10)))
    thanks, checkin = cli.step(UID), cli.step(UID, "check-in")
    assert thanks["state"] == "sent"
    assert thanks["sent_at"] == iso(sent_at)
    assert checkin["state"] == "planned"
    assert checkin["due_at"] == iso(sent_at + timedelta(days=7))  # Thursday 16:00, business hours
    cli.run(iso(sent_at + timedelta(days=7)))
    ((path, draft),) = drafts(maildir)
    # It answers the thank-you as sent (tests/test_threads_e2e.py has the details).
    assert draft["Subject"] == "Re: Thank you – Backend Engineer interview"
    assert "Wednesday 4 November" in draft.get_body(("plain",)).get_content()
    assert cli.step(UID, "check-in")["state"] == "drafted"


def test_sent_copy_with_a_new_message_id_counts_as_sent(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE))
    path, _ = only_draft(maildir)
    path.unlink()  # Gmail-style: the client sends with its own Message-ID
    deliver(
        maildir,
        mail(sender="Ada Lovelace <ada@example.org>", to="jane.doe@acme.io", subject="Thank you!"),
        DUE + timedelta(hours=2),
        folder="Sent",
    )
    cli.run(iso(DUE + timedelta(hours=3)))
    assert cli.step(UID)["state"] == "sent"


def test_deleted_draft_is_dismissed_and_never_recreated(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE))
    only_draft(maildir)[0].unlink()
    cli.run(iso(DUE + timedelta(hours=1)))  # gone, no Sent copy yet: waits ([reply] dismiss_after)
    assert cli.step(UID)["state"] == "drafted"
    cli.run(iso(DUE + timedelta(hours=1, minutes=15)))
    assert cli.step(UID)["state"] == "dismissed"
    assert cli.step(UID, "check-in")["state"] == "cancelled"
    cli.run(iso(DUE + timedelta(hours=10)))
    assert drafts(maildir) == []


# ---------------------------------------------------------------- replies


def test_reply_stops_the_sequence_and_removes_the_untouched_draft(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE))
    deliver(maildir, mail(), DUE + timedelta(hours=1))
    cli.run(iso(DUE + timedelta(hours=2)))
    assert cli.step(UID)["state"] == "replied"
    assert cli.step(UID, "check-in")["state"] == "replied"
    assert drafts(maildir) == []
    cli.run(iso(DUE + timedelta(days=8)))
    assert drafts(maildir) == []


def test_reply_keeps_a_draft_the_user_edited(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE))
    edit(only_draft(maildir)[0], "Hi Jane,\n\nMy own words.\n\nAda\n")
    deliver(maildir, mail(), DUE + timedelta(hours=1))
    cli.run(iso(DUE + timedelta(hours=2)))
    assert cli.step(UID)["state"] == "replied"
    assert "edited draft was kept" in cli.step(UID)["note"]
    assert len(drafts(maildir)) == 1


def test_on_reply_keep_leaves_the_draft(cli: Cli, maildir: Path) -> None:
    cli.config.write_text(cli.config.read_text() + '\n[reply]\non_reply = "keep"\n')
    cli.run(iso(DUE))
    deliver(maildir, mail(), DUE + timedelta(hours=1))
    cli.run(iso(DUE + timedelta(hours=2)))
    assert cli.step(UID)["state"] == "replied"
    assert len(drafts(maildir)) == 1


def test_reply_before_the_window_means_no_draft(cli: Cli, maildir: Path) -> None:
    cli.run(iso(END + timedelta(minutes=5)))
    deliver(maildir, mail(sender="recruiting@acme.io"), END + timedelta(hours=2))  # same company
    cli.run(iso(END + timedelta(hours=3)))
    cli.run(iso(DUE))
    assert cli.step(UID)["state"] == "replied"
    assert drafts(maildir) == []


@pytest.mark.parametrize(
    "message",
    [
        mail(subject="Out of Office: Re: Thank you"),
        mail(headers="Auto-Submitted: auto-replied"),
        mail(headers="X-Autoreply: yes"),
        mail(headers="Precedence: bulk"),
        mail(subject="Accepted: Interview: Backend Engineer at Acme"),
        mail(
            headers='MIME-Version: 1.0\nContent-Type: text/calendar; method=REPLY; charset="utf-8"',
            body="BEGIN:VCALENDAR\nMETHOD:REPLY\nEND:VCALENDAR",
        ),
        mail(sender="MAILER-DAEMON@acme.io", subject="Undeliverable: Thank you"),
        mail(sender="Ada Lovelace <ada.lovelace@gmail.com>"),  # one of my aliases
        mail(sender="Someone <someone@gmail.com>"),  # free mail is not Acme
        mail(sender="Other <hr@globex.example>"),
    ],
    ids=[
        "ooo-subject",
        "auto-submitted",
        "x-autoreply",
        "bulk",
        "rsvp-subject",
        "rsvp-mime",
        "bounce",
        "me",
        "free-mail",
        "stranger",
    ],
)
def test_messages_that_are_not_replies(cli: Cli, maildir: Path, message: str) -> None:
    cli.run(iso(END + timedelta(minutes=5)))
    deliver(maildir, message, END + timedelta(hours=2))
    cli.run(iso(DUE))
    assert cli.step(UID)["state"] == "drafted"


def test_message_from_before_the_interview_is_not_a_reply(cli: Cli, maildir: Path) -> None:
    deliver(maildir, mail(subject="Interview confirmation"), START - timedelta(days=1))
    cli.run(iso(DUE))
    assert cli.step(UID)["state"] == "drafted"


# ---------------------------------------------------------------- what counts as an interview


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (vevent("s1", START, END, "Interview – Sales Director", my_partstat="NEEDS-ACTION"), "stranger's invite"),
        (vevent("s2", START, END, "Interview with Globex", my_partstat=None), "not among attendees"),
        (vevent("s3", START, END, "Interview with Globex", my_partstat="DECLINED"), "declined"),
        (vevent("s4", START, END, "Interview with Globex", status="CANCELLED"), "cancelled"),
        (vevent("s5", START, END, "Mock interview with Sam"), "excluded word"),
        (vevent("s6", START, END, "Interviewing skills workshop"), "not a whole word"),
        (vevent("s7", START.date(), (START + timedelta(days=1)).date(), "Onsite interview at Globex"), "all-day"),  # type: ignore[arg-type]
    ],
)
def test_events_that_never_produce_a_draft(ics_cli: Cli, event: str, why: str) -> None:
    write_calendar(ics_cli, event)
    ics_cli.run(iso(DUE))
    assert ics_cli.status() == [], why
    assert drafts(ics_cli.home / "Mail") == []


def test_my_own_calendar_entry_counts(ics_cli: Cli) -> None:
    write_calendar(
        ics_cli,
        vevent(
            "own",
            START,
            END,
            "Phone screen: Globex",
            organizer=None,
            my_partstat=None,
            description="Recruiter: Sam Smith <sam@globex.example>",
        ),
    )
    ics_cli.run(iso(DUE))
    row = ics_cli.step("own")
    assert row["contacts"] == ["sam@globex.example"] and row["state"] == "drafted"
    _, draft = only_draft(ics_cli.home / "Mail")
    assert draft.get_body(("plain",)).get_content().startswith("Hi Sam,")
    assert "the position at Globex" in draft.get_body(("plain",)).get_content()


def test_tentative_counts_and_keywords_in_the_description_count(ics_cli: Cli) -> None:
    write_calendar(
        ics_cli,
        vevent(
            "t1",
            START,
            END,
            "Chat with Globex",
            description="Hiring manager round",
            my_partstat="TENTATIVE",
            organizer="Sam Smith <sam@globex.example>",
        ),
    )
    ics_cli.run(iso(DUE))
    assert ics_cli.step("t1")["state"] == "drafted"


def test_without_any_address_the_interview_needs_a_contact(ics_cli: Cli) -> None:
    lonely = vevent("lonely", START, END, "Phone screen - Globex", organizer=None, my_partstat=None)
    write_calendar(ics_cli, lonely)
    ics_cli.run(iso(END + timedelta(minutes=5)))
    row = ics_cli.step("lonely")
    assert row["state"] == "needs_contact" and row["contacts"] == []
    assert ics_cli.step("lonely", "check-in")["state"] == "cancelled"
    assert "needs a contact" in ics_cli("status").stdout
    # The user adds the recruiter to the event; the next pass picks it up.
    write_calendar(
        ics_cli,
        vevent(
            "lonely",
            START,
            END,
            "Phone screen - Globex",
            organizer=None,
            my_partstat=None,
            description="Sam <sam@globex.example>",
        ),
    )
    ics_cli.run(iso(DUE))
    assert ics_cli.step("lonely")["state"] == "drafted"


# ---------------------------------------------------------------- calendar changes


def test_cancelled_event_cancels_planned_steps(cli: Cli, maildir: Path) -> None:
    cli.run(iso(END + timedelta(minutes=5)))
    write_calendar(cli, acme(status="CANCELLED"))
    cli.run(iso(END + timedelta(hours=1)))
    assert {r["state"] for r in cli.status()} == {"cancelled"}
    cli.run(iso(DUE))
    assert drafts(maildir) == []


def test_deleted_event_cancels_planned_steps(cli: Cli, maildir: Path) -> None:
    cli.run(iso(END + timedelta(minutes=5)))
    write_calendar(cli)
    cli.run(iso(DUE))
    assert {r["state"] for r in cli.status()} == {"cancelled"}
    assert drafts(maildir) == []


def test_event_that_no_longer_looks_like_an_interview_cancels_its_steps(cli: Cli, maildir: Path) -> None:
    cli.run(iso(END + timedelta(minutes=5)))
    write_calendar(cli, acme(summary="Lunch with the Acme team", description=""))
    cli.run(iso(END + timedelta(hours=1)))
    assert {r["state"] for r in cli.status()} == {"cancelled"}
    cli.run(iso(DUE))
    assert drafts(maildir) == []


def test_moved_event_is_replanned(cli: Cli, maildir: Path) -> None:
    cli.run(iso(START - timedelta(days=1)))
    assert cli.step(UID)["due_at"] == iso(DUE)
    later = START + timedelta(days=1)
    write_calendar(cli, vevent(UID, later, later + timedelta(hours=1), attendees=["tom.baker@acme.io"]))
    cli.run(iso(START))
    assert cli.step(UID)["due_at"] == iso(DUE + timedelta(days=1))
    cli.run(iso(DUE))
    assert drafts(maildir) == []


def test_notes_added_after_the_interview_reach_the_draft(cli: Cli, maildir: Path) -> None:
    write_calendar(cli, acme(description="Panel interview."))
    cli.run(iso(END + timedelta(minutes=5)))
    write_calendar(cli, acme(description="Panel interview.\nNotes: the on-call rotation"))
    cli.run(iso(DUE))
    body = only_draft(maildir)[1].get_body(("plain",)).get_content()
    assert "our discussion of the on-call rotation" in body


def test_without_notes_the_draft_is_plain_and_complete(cli: Cli, maildir: Path) -> None:
    write_calendar(cli, acme(description=""))
    cli.run(iso(DUE))
    body = only_draft(maildir)[1].get_body(("plain",)).get_content()
    assert "discussion of" not in body and "Notes" not in body
    assert body.rstrip().endswith("Best regards,\nAda Lovelace")


def test_recurring_events_are_expanded_into_separate_interviews(ics_cli: Cli) -> None:
    write_calendar(ics_cli, vevent("series", START, END, "Interview loop: Acme", extra="RRULE:FREQ=DAILY;COUNT=3"))
    ics_cli.run(iso(DUE))
    states = {r["uid"]: r["state"] for r in ics_cli.status() if r["step"] == "thank-you"}
    assert states == {
        "series#20261104T140000Z": "drafted",  # its window is open: Thu 15:00 → Fri 15:00
        "series#20261105T140000Z": "planned",
        "series#20261106T140000Z": "planned",
    }


def test_floating_times_and_tzid_without_vtimezone(home: Path, maildir: Path) -> None:
    from support.harness import write_config

    config = write_config(
        home,
        f'kind = "ics"\npath = "{home / "calendar.ics"}"',
        f'kind = "maildir"\npath = "{maildir}"',
        zone="America/New_York",
    )
    cli = Cli(home, config)
    floating = datetime(2026, 11, 4, 10, 0)  # 10:00 New York wall time = 15:00Z
    write_calendar(
        cli,
        vevent("floating", floating, floating + timedelta(hours=1)),
        vevent("tzid", floating, floating + timedelta(hours=1), tzid="Asia/Tokyo"),
    )
    cli.run("2026-11-04T20:00:00+00:00")
    assert cli.step("floating")["start"] == "2026-11-04T10:00:00-05:00"
    assert cli.step("tzid")["start"] == "2026-11-03T20:00:00-05:00"  # 10:00 in Tokyo


def test_broken_calendar_entry_is_named_and_the_rest_still_works(cli: Cli, maildir: Path) -> None:
    broken = "BEGIN:VEVENT\nUID:broken-1\nSUMMARY:Interview: broken\nDTSTART:garbage\nEND:VEVENT"
    write_calendar(cli, broken, acme())
    result = cli.run(iso(DUE))
    assert "broken-1" in result.stderr and "DTSTART" in result.stderr
    assert cli.step(UID)["state"] == "drafted"


# ---------------------------------------------------------------- time


def test_step_whose_window_closed_while_down_is_missed(cli: Cli, maildir: Path) -> None:
    cli.run(iso(END + timedelta(minutes=5)))
    cli.run(iso(END + timedelta(hours=49)))
    assert cli.step(UID)["state"] == "missed"
    assert cli.step(UID, "check-in")["state"] == "cancelled"
    assert drafts(maildir) == []


def test_step_due_while_asleep_is_drafted_at_once_even_at_night(cli: Cli, maildir: Path) -> None:
    cli.run(iso(END + timedelta(minutes=5)))
    night = datetime(2026, 11, 5, 23, 30, tzinfo=UTC)  # past due, window open until Fri 15:00
    cli.run(iso(night))
    assert cli.step(UID)["state"] == "drafted"


def test_first_run_ignores_interviews_whose_window_closed(cli: Cli, maildir: Path) -> None:
    cli.run(iso(END + timedelta(days=3)))
    assert cli.status() == []
    cli.run(iso(END + timedelta(days=4)))
    assert cli.status() == []


def test_weekend_interview_is_due_on_monday_morning(ics_cli: Cli) -> None:
    friday = datetime(2026, 11, 6, 16, 0, tzinfo=UTC)
    write_calendar(ics_cli, vevent("fri", friday, friday + timedelta(hours=1)))
    ics_cli.run(iso(friday + timedelta(hours=2)))
    # Window Sat 17:00 → Sun 17:00 holds no business hours: due when it opens.
    assert ics_cli.step("fri")["due_at"] == "2026-11-07T17:00:00+00:00"
    thursday = datetime(2026, 11, 5, 17, 0, tzinfo=UTC)
    write_calendar(ics_cli, vevent("thu", thursday, thursday + timedelta(hours=1)))
    ics_cli.run(iso(thursday + timedelta(hours=2)))
    # Window Fri 18:00 → Sat 18:00: Friday's business hours are over, Saturday is not listed.
    assert ics_cli.step("thu")["due_at"] == "2026-11-06T18:00:00+00:00"


def test_dst_end_in_london(ics_cli: Cli) -> None:
    # Saturday 24 October 2026, 20:00-21:00 BST; clocks go back on Sunday 25 October.
    start = datetime(2026, 10, 24, 19, 0, tzinfo=UTC)
    write_calendar(ics_cli, vevent("dst-uk", start, start + timedelta(hours=1)))
    ics_cli.run(iso(start + timedelta(hours=2)))
    row = ics_cli.step("dst-uk")
    assert row["start"] == "2026-10-24T20:00:00+01:00"
    # Window Sun 20:00 GMT → Mon 20:00 GMT: Monday 09:00 GMT, not 08:00 or 10:00.
    assert row["due_at"] == "2026-10-26T09:00:00+00:00"


def test_dst_end_in_new_york(home: Path, maildir: Path) -> None:
    from support.harness import write_config

    config = write_config(
        home,
        f'kind = "ics"\npath = "{home / "calendar.ics"}"',
        f'kind = "maildir"\npath = "{maildir}"',
        zone="America/New_York",
    )
    cli = Cli(home, config)
    # Saturday 31 October 2026, 10:00-11:00 EDT, written with its TZID; DST ends Sunday 1 November.
    write_calendar(
        cli, vevent("dst-us", datetime(2026, 10, 31, 10), datetime(2026, 10, 31, 11), tzid="America/New_York")
    )
    cli.run("2026-10-31T16:00:00+00:00")
    row = cli.step("dst-us")
    assert row["start"] == "2026-10-31T10:00:00-04:00"
    assert row["due_at"] == "2026-11-02T09:00:00-05:00"
    cli.run("2026-11-02T13:59:00+00:00")
    assert cli.step("dst-us")["state"] == "planned"
    cli.run("2026-11-02T14:00:00+00:00")
    assert cli.step("dst-us")["state"] == "drafted"


def test_dst_start_in_london_check_in(ics_cli: Cli) -> None:
    # Thank-you sent Friday 20 March 2026 17:30 GMT; clocks go forward Sunday 29 March.
    start = datetime(2026, 3, 19, 10, 0, tzinfo=UTC)
    write_calendar(ics_cli, vevent("dst-spring", start, start + timedelta(hours=1)))
    maildir = ics_cli.home / "Mail"
    ics_cli.run("2026-03-20T11:00:00+00:00")
    send(maildir, only_draft(maildir)[0], datetime(2026, 3, 20, 17, 30, tzinfo=UTC))
    ics_cli.run("2026-03-20T18:00:00+00:00")
    # 7 days later is Friday 27 March 17:30 GMT (still winter time): inside business hours.
    assert ics_cli.step("dst-spring", "check-in")["due_at"] == "2026-03-27T17:30:00+00:00"


# ---------------------------------------------------------------- exactly once


def test_a_wiped_state_dir_never_yields_a_second_draft(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE))
    import shutil

    shutil.rmtree(cli.home / "state")
    cli.run(iso(DUE + timedelta(minutes=1)))
    assert len(drafts(maildir)) == 1
    assert cli.step(UID)["state"] == "drafted"


def test_a_wiped_state_dir_after_sending_never_redrafts(cli: Cli, maildir: Path) -> None:
    cli.run(iso(DUE))
    send(maildir, only_draft(maildir)[0], DUE + timedelta(minutes=30))
    import shutil

    shutil.rmtree(cli.home / "state")
    cli.run(iso(DUE + timedelta(hours=1)))
    assert drafts(maildir) == []
    assert cli.step(UID)["state"] == "sent"


@pytest.mark.parametrize("draft_written", [True, False])
def test_interrupted_pass_is_finished_by_the_next(cli: Cli, maildir: Path, draft_written: bool) -> None:
    """A pass that died after recording its intent (state `drafting`), before or after
    the mailbox write, is completed by the next pass with exactly one draft."""
    cli.run(iso(DUE))
    path, _ = only_draft(maildir)
    if not draft_written:
        path.unlink()
    db = sqlite3.connect(cli.home / "state" / "state.sqlite3")
    with db:
        db.execute("UPDATE followups SET state = 'drafting', draft_key = NULL WHERE step = 'thank-you'")
    db.close()
    assert cli.step(UID)["state"] == "drafting"
    cli.run(iso(DUE + timedelta(minutes=1)))
    assert cli.step(UID)["state"] == "drafted"
    assert len(drafts(maildir)) == 1


# ---------------------------------------------------------------- hostile text


def test_event_text_cannot_add_headers(ics_cli: Cli) -> None:
    evil = vevent(
        "evil",
        START,
        END,
        "Interview\nBcc: thief@evil.example\nX-Evil: 1",
        organizer="Jane \u202eeoD\u202c <jane.doe@acme.io>",
        description="Role: Engineer\nBcc: thief@evil.example\nNotes: \u202eevil\u202c bidi\x00 and NUL\x07",
    )
    write_calendar(ics_cli, evil)
    ics_cli.run(iso(DUE))
    path, draft = only_draft(ics_cli.home / "Mail")
    head = path.read_bytes().split(b"\r\n\r\n", 1)[0]
    assert b"thief@evil.example" not in head and b"X-Evil" not in head
    assert draft["Bcc"] is None and draft["X-Evil"] is None
    assert [a.addr_spec for a in draft["To"].addresses] == ["jane.doe@acme.io"]
    body = draft.get_body(("plain",)).get_content()
    assert not any(ch in body for ch in "\u202e\u202c\x00\x07")
    assert "\n" not in str(draft["Subject"])
