"""`status --all`, `track`, `skip` on a series, `[detect] exclude_organizers`, the
interviewer's description and `check`, end to end on ICS + Maildir.

The calendar mixes what a job seeker's calendar holds in the same week (modelled on
Google Calendar invitations): a real interview, a mock one, an unanswered and a
declined invitation, the current employer's weekly "hiring manager sync" (a
recurring series organised at initech.com), an interview where the user interviews a
candidate, and an interview from long before followupd was installed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.harness import Cli
from support.ics import calendar, vevent
from support.maildir_user import drafts

START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
NOW = END + timedelta(minutes=5)


def events() -> list[str]:
    return [
        vevent("acme-1@example.test", START, END, "Interview: Backend Engineer at Acme"),
        vevent("mock-1@example.test", START + timedelta(hours=2), END + timedelta(hours=2), "Mock interview with Sam"),
        vevent(
            "globex-1@example.test",
            START - timedelta(hours=3),
            END - timedelta(hours=3),
            "Phone screen - Globex",
            organizer="Rita <rita@globex.example>",
            my_partstat="NEEDS-ACTION",
        ),
        vevent(
            "hooli-1@example.test",
            START - timedelta(hours=5),
            END - timedelta(hours=5),
            "Interview - Hooli",
            organizer="Gavin <gavin@hooli.example>",
            my_partstat="DECLINED",
        ),
        vevent(
            "sync@initech.com",
            START - timedelta(days=14),
            END - timedelta(days=14),
            "Hiring manager sync",
            organizer="Bill Lumbergh <boss@initech.com>",
            extra="RRULE:FREQ=WEEKLY;COUNT=4",
        ),
        vevent(
            "panel-1@example.test",
            START + timedelta(hours=4),
            END + timedelta(hours=4),
            "Interview",
            organizer="Peter <peter@initrode.example>",
            description="Interview with the backend candidate, Michael. Scorecard in Greenhouse.",
        ),
        vevent("old-1@example.test", START - timedelta(hours=60), END - timedelta(hours=60), "Interview - Umbrella"),
        vevent(  # a day blocked in the calendar, the way people note an onsite loop
            "onsite-1@example.test",
            START.date(),  # type: ignore[arg-type]
            (START + timedelta(days=1)).date(),  # type: ignore[arg-type]
            "Onsite interview day - Initrode",
            organizer="Peter <peter@initrode.example>",
        ),
    ]


@pytest.fixture
def cli(ics_cli: Cli) -> Cli:
    (ics_cli.home / "calendar.ics").write_text(calendar(*events()), encoding="utf-8")
    ics_cli.config.write_text(ics_cli.config.read_text() + '\n[detect]\nexclude_organizers = ["@initech.com"]\n')
    return ics_cli


def everything(cli: Cli) -> list[dict]:
    return json.loads(cli("status", "--all", "--json").stdout)


def test_status_all_lists_every_event_seen_with_its_reason(cli: Cli) -> None:
    cli.run(NOW.isoformat())
    assert {r["uid"] for r in cli.status()} == {"acme-1@example.test"}
    ignored = {r["uid"]: r["reason"] for r in everything(cli) if r["state"] == "ignored"}
    assert ignored["mock-1@example.test"] == "the title says mock"
    assert ignored["globex-1@example.test"] == "you have not accepted the invitation"
    assert ignored["hooli-1@example.test"] == "you declined it"
    assert ignored["panel-1@example.test"] == "the description says you are the interviewer"
    assert ignored["old-1@example.test"] == "its window had closed before followupd first saw it"
    assert ignored["onsite-1@example.test"] == "all-day"
    series = [k for k in ignored if k.startswith("sync@initech.com#")]
    assert series and all(ignored[k] == "organised at initech.com, which you excluded" for k in series)
    rows = everything(cli)
    assert all(r["step"] is None and r["reason"] for r in rows if r["state"] == "ignored")
    assert all(r["reason"] is None for r in rows if r["state"] != "ignored")
    table = cli("status", "--all").stdout
    assert table.splitlines()[0].startswith("1 interview · next draft") and " ignored" in table.splitlines()[0]
    assert "ignored (the title says mock)" in table
    assert any("Wed 04 Nov all day" in line and "ignored (all-day)" in line for line in table.splitlines())
    # The weekly sync is one row under the series' id, which `track` and `skip` take.
    (sync,) = [line for line in table.splitlines() if "Hiring manager sync" in line]
    assert sync.startswith("sync ") and f"and {len(series) - 1} more" in sync
    assert "ignored (" not in cli("status").stdout


def test_the_readme_lists_every_json_key(cli: Cli) -> None:
    """The automation contract (README "For scripts") names every key `status --json` has."""
    cli.run(NOW.isoformat())
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    contract = readme.split("### For scripts", 1)[1].split("\n### ", 1)[0]
    keys = {key for row in everything(cli) for key in row}
    assert len(keys) > 20 and {key for key in keys if f"`{key}`" not in contract} == set()


def test_track_makes_an_ignored_event_an_interview_and_skip_undoes_it(cli: Cli, maildir) -> None:  # type: ignore[no-untyped-def]
    cli.run(NOW.isoformat())
    out = cli("track", "globex-1", "--now", NOW.isoformat()).stdout
    assert "tracking globex-1@example.test (Phone screen - Globex) as an interview" in out
    assert cli.step("globex-1@example.test")["state"] == "planned"
    cli.run((NOW + timedelta(minutes=5)).isoformat())  # a pass keeps it: the user's word stands
    assert cli.step("globex-1@example.test")["state"] == "planned"
    assert "globex-1@example.test" not in {r["uid"] for r in everything(cli) if r["state"] == "ignored"}
    cli("skip", "globex-1", "--now", NOW.isoformat())
    assert cli.step("globex-1@example.test")["state"] == "cancelled"
    cli("skip", "globex-1", "--undo", "--now", NOW.isoformat())
    assert cli.step("globex-1@example.test")["state"] == "planned"
    cli.run((END + timedelta(hours=25)).isoformat())
    assert len(drafts(maildir)) == 2  # Acme's and Globex's thank-you


def test_track_an_all_day_event(cli: Cli, maildir) -> None:  # type: ignore[no-untyped-def]
    cli.run(NOW.isoformat())
    explained = cli("explain", "onsite").stdout
    assert "when:         Wed 4 Nov 2026, all day (no times: an interview only if you track it)" in explained
    assert "verdict:      not an interview: all-day" in explained
    # What tracking it would give: the company from the title, the organiser as recipient.
    assert "company:      Initrode" in explained
    assert "peter@initrode.example (organiser) — kept: would get its drafts if you track it" in explained
    out = cli("track", "onsite", "--now", NOW.isoformat()).stdout
    assert "tracking onsite-1@example.test (Onsite interview day - Initrode) as an interview" in out
    row = cli.step("onsite-1@example.test")
    # It fills the working day (business hours 09:00-18:00 in London, UTC in November),
    # so its thank-you window opens Thursday at 18:00, not a day later at midnight.
    assert (row["start"], row["end"]) == ("2026-11-04T09:00:00+00:00", "2026-11-04T18:00:00+00:00")
    # As for any interview that ends at 18:00: due when business hours next begin.
    assert (row["window_start"], row["due_at"]) == ("2026-11-05T18:00:00+00:00", "2026-11-06T09:00:00+00:00")
    cli.run("2026-11-06T10:00:00+00:00")
    assert cli.step("onsite-1@example.test")["state"] == "drafted"
    made = [m for _, m in drafts(maildir) if "peter@initrode.example" in str(m["To"])]
    assert len(made) == 1 and "Initrode" in made[0].get_body(("plain",)).get_content()


def test_track_a_series_and_undo_it(cli: Cli) -> None:
    cli.run(NOW.isoformat())
    out = cli("track", "sync", "--now", NOW.isoformat()).stdout.splitlines()
    assert out[0] == "tracking every occurrence of “Hiring manager sync” (sync), those to come included:"
    followed = int(out[1].split()[0])
    assert followed >= 1 and out[1].endswith(
        "occurrences now followed as interviews" if followed > 1 else "as interviews"
    )
    assert {r["uid"].split("#")[0] for r in cli.status()} == {"acme-1@example.test", "sync@initech.com"}
    out = cli("track", "sync", "--undo", "--now", NOW.isoformat()).stdout.splitlines()
    assert out == [
        "no longer tracking sync (sync@initech.com): the detector decides again",
        f"{followed} interview{'s' if followed > 1 else ''} without a draft listed as ignored again (`status --all`)",
    ]
    assert {r["uid"] for r in cli.status()} == {"acme-1@example.test"}  # as before: nothing left behind
    cli.run((NOW + timedelta(minutes=5)).isoformat())
    assert {r["uid"] for r in cli.status()} == {"acme-1@example.test"}
    ignored = {r["uid"]: r["reason"] for r in everything(cli) if r["state"] == "ignored"}
    assert sum(1 for k in ignored if k.startswith("sync@initech.com#")) >= followed


def test_track_an_event_without_any_keyword(cli: Cli) -> None:
    coffee = vevent(
        "coffee-1@example.test", START, END, "Coffee with Rita", organizer="Rita Recruiter <rita@globex.example>"
    )
    (cli.home / "calendar.ics").write_text(calendar(*events(), coffee), encoding="utf-8")
    cli.run(NOW.isoformat())
    # The ICS reader skips events with no keyword unparsed: not listed, but explained and trackable.
    assert "coffee-1@example.test" not in {r["uid"] for r in everything(cli)}
    assert "keywords:     none of [detect] keywords" in cli("explain", "coffee-1@example.test").stdout
    cli("track", "coffee-1@example.test", "--now", NOW.isoformat())
    cli.run((NOW + timedelta(minutes=5)).isoformat())
    assert cli.step("coffee-1@example.test")["state"] == "planned"


def test_skip_a_series_skips_every_occurrence_and_one_occurrence_alone(ics_cli: Cli) -> None:
    weekly = vevent(
        "weekly@hooli.example",
        START - timedelta(days=7),
        END - timedelta(days=7),
        "Hiring manager interview - Hooli",
        organizer="Gavin <gavin@hooli.example>",
        extra="RRULE:FREQ=WEEKLY;COUNT=4",
    )
    (ics_cli.home / "calendar.ics").write_text(calendar(weekly), encoding="utf-8")
    ics_cli.run((START - timedelta(days=8)).isoformat())
    shown = {r["uid"]: r["short_id"] for r in ics_cli.status() if r["step"] == "thank-you"}
    keys = sorted(shown)
    assert len(keys) == 4
    assert shown[keys[0]] == "weekly#1028"  # the series' first word and the local date: Wed 28 Oct
    ics_cli("skip", shown[keys[0]], "--now", (START - timedelta(days=8)).isoformat())
    states = {r["uid"]: r["state"] for r in ics_cli.status() if r["step"] == "thank-you"}
    assert states[keys[0]] == "cancelled" and states[keys[1]] == "planned"
    result = ics_cli("note", "weekly", "Notes: x", check=False)
    assert (
        result.returncode == 1 and "'weekly' is a recurring series; name one occurrence (weekly#1028," in result.stderr
    )
    out = ics_cli("skip", "weekly", "--now", (START - timedelta(days=8)).isoformat()).stdout
    assert "skipping every occurrence of weekly@hooli.example (4 known now)" in out
    assert {r["state"] for r in ics_cli.status()} == {"cancelled"}


def test_explain_says_what_was_read(cli: Cli) -> None:
    cli.run(NOW.isoformat())
    cli("note", "acme-1", "Notes: their move to event sourcing")
    out = cli("explain", "acme-1").stdout
    assert "keywords:     interview" in out
    assert "your answer:  accepted → counts" in out
    assert "jane.doe@acme.io (organiser) — kept: a recipient of its drafts" in out
    assert "ada@example.org (attendee) — dropped: that is you" in out
    assert "notes:        their move to event sourcing (your note; the event says: -)" in out
    assert "window:       thank-you between Thu 5 Nov 2026 15:00 and Fri 6 Nov 2026 15:00" in out
    assert "verdict:      an interview; now thank-you planned, check-in planned" in out
    out = cli("explain", "sync@initech.com").stdout
    assert out.count("verdict:      not an interview: organised at initech.com, which you excluded") == 4


def test_status_is_readable(cli: Cli) -> None:
    long = "Interview: Senior Staff Principal Backend Platform Engineer (Payments, Ledger) at Acme"
    (cli.home / "calendar.ics").write_text(calendar(vevent("acme-1@example.test", START, END, long)), encoding="utf-8")
    cli.run(NOW.isoformat())
    table = cli("status").stdout
    assert "Interview: Senior Staff Principal Backe…" in table and long not in table
    lines = table.splitlines()
    assert lines[2].split()[:3] == ["ID", "INTERVIEW", "WHEN"]
    assert lines[3].startswith("acme ")  # the first word of acme-1@example.test


def test_a_multi_line_problem_stays_on_one_line(cli: Cli) -> None:
    cli.run(NOW.isoformat())
    from followupd.store import Store

    store = Store.open(cli.home / "state", NOW)
    store.set_health("calendar", "error", "first line\nsecond line\n\tthird", NOW)
    store.close()
    lines = cli("status").stdout.splitlines()
    assert [line for line in lines if line.startswith("! ")] == [
        "! first line second line third  (since Wed 04 Nov 15:05)"
    ]
    assert not any(line.startswith(("second", "\tthird")) for line in lines)


def test_check_says_what_is_missing_offline(ics_cli: Cli) -> None:
    assert "calendar file" in ics_cli("check").stdout
    (ics_cli.home / "calendar.ics").unlink()
    result = ics_cli("check", check=False)
    assert result.returncode != 0 and "calendar.ics does not exist; check [calendar] path" in result.stderr
    (ics_cli.home / "calendar.ics").write_text("BEGIN:VCALENDAR\nthis is not iCalendar\n")
    result = ics_cli("check", check=False)
    assert result.returncode != 0, result.stdout


def test_check_wants_a_password_for_imap(ics_cli: Cli) -> None:
    text = ics_cli.config.read_text()
    start = text.index("[mailbox]")
    end = text.index("[state]")
    ics_cli.config.write_text(
        text[:start]
        + '[mailbox]\nkind = "imap"\nhost = "127.0.0.1"\nusername = "ada"\nsecurity = "none"\n\n'
        + '[secrets]\nbackend = "file"\n\n'
        + text[end:]
    )
    result = ics_cli("check", check=False)
    assert result.returncode != 0
    assert "no imap password: set [mailbox] password_command or run `followupd auth imap`" in result.stderr
    ics_cli.config.write_text(
        ics_cli.config.read_text().replace('security = "none"', 'security = "none"\npassword_command = "echo x"')
    )
    assert "password_command (not run by check)" in ics_cli("check").stdout


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            '[calendar]\nkind = "caldav"\nurl = "http://cal.example.com/dav/"\nusername = "ada"\n'
            'password_command = "echo x"\n\n',
            "calendar.url: http://cal.example.com/dav/ would send your password in clear text",
        ),
        (
            '[calendar]\nkind = "google"\n\n[google]\naccount = "ada@example.org"\nendpoint = "http://api.example.com"\n\n',
            "google.endpoint: http://api.example.com is not https",
        ),
    ],
)
def test_check_refuses_what_run_would_refuse_in_clear_text(ics_cli: Cli, section: str, expected: str) -> None:
    text = ics_cli.config.read_text()
    start = text.index("[calendar]")
    end = text.index("[mailbox]")
    ics_cli.config.write_text(text[:start] + section + text[end:])
    result = ics_cli("check", check=False)
    assert result.returncode != 0
    assert expected in result.stderr


def test_check_notices_the_sample_config(ics_cli: Cli) -> None:
    out = ics_cli("check").stdout
    assert "[me] email is still the sample 'ada@example.org'" in out
