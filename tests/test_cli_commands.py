"""The other commands: check, init, preview, skip, status, demo, and how errors read."""

from __future__ import annotations

import http.server
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followupd.config import parse
from followupd.errors import ConfigError

from support.feed import FeedHandler
from support.harness import REPO, Cli, write_config
from support.ics import calendar, vevent
from support.maildir_user import drafts

START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
DUE = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)


def test_bad_config_lists_every_problem_without_a_traceback(ics_cli: Cli) -> None:
    ics_cli.config.write_text(
        """
[me]
name = "Ada"
email = "ada"
timezone = "Nowhere/Special"
[calendar]
kind = "ics"
path = "/tmp/x.ics"
colour = "blue"
[mailbox]
kind = "pigeon"
[window]
after = "banana"
business_hours = "18:00-09:00"
weekdays = ["mon", "funday"]
[[steps]]
name = "thank-you"
[[steps]]
name = "check-in"
[extras]
"""
    )
    result = ics_cli("check", check=False)
    assert result.returncode == 78
    err = result.stderr
    assert "Traceback" not in err
    for expected in (
        "me.email (line 4)",
        "me.timezone (line 5): unknown time zone 'Nowhere/Special'",
        "calendar.colour (line 9): unknown key",
        "mailbox.kind (line 11): 'pigeon' is not one of: maildir, imap, gmail",
        "window.after (line 13): 'banana' is not a duration",
        "window.business_hours (line 14)",
        "window.weekdays (line 15): unknown weekday 'funday'",
        "steps[1].after: a later step needs after",
        "extras (line 20): unknown section",
    ):
        assert expected in err, (expected, err)
    assert str(ics_cli.config) in err


def test_a_missing_kind_and_a_bad_step_name_say_what_to_write() -> None:
    text = (
        '[me]\nname = "Ada"\nemail = "ada@example.org"\n[calendar]\npath = "/tmp/x.ics"\n'
        '[mailbox]\nkind = "maildir"\npath = "/tmp/mail"\n[[steps]]\nname = "Thank You"\n'
    )
    with pytest.raises(ConfigError) as error:
        parse(text, Path("config.toml"))
    problems = [str(p) for p in error.value.problems]
    assert "calendar.kind: required key is missing; set it to one of: ics, google, caldav" in problems
    assert (
        "steps[0].name (line 10): 'Thank You': use lower-case letters, digits and dashes, e.g. 'thank-you'" in problems
    )


def test_invalid_toml_names_the_file_and_line(ics_cli: Cli) -> None:
    ics_cli.config.write_text('[me]\nname = "Ada\n')
    result = ics_cli("run", "--once", check=False)
    assert result.returncode == 78
    assert str(ics_cli.config) in result.stderr and "line 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_says_how_to_make_one(home: Path) -> None:
    cli = Cli(home, home / "nope.toml")
    result = cli("status", check=False)
    assert result.returncode == 78
    assert "followupd init" in result.stderr


def test_config_lookup_order(home: Path, ics_cli: Cli) -> None:
    env = ics_cli.env()
    run = [sys.executable, "-m", "followupd", "check"]
    # $XDG_CONFIG_HOME/followupd/config.toml
    xdg = home / ".config" / "followupd" / "config.toml"
    xdg.parent.mkdir(parents=True)
    xdg.write_text(ics_cli.config.read_text())
    out = subprocess.run(run, env=env, capture_output=True, text=True, check=True).stdout
    assert str(xdg) in out
    # $FOLLOWUPD_CONFIG wins over XDG
    out = subprocess.run(
        run, env=dict(env, FOLLOWUPD_CONFIG=str(ics_cli.config)), capture_output=True, text=True, check=True
    ).stdout
    assert str(ics_cli.config) in out
    # --config wins over both
    other = home / "other.toml"
    other.write_text(ics_cli.config.read_text())
    out = subprocess.run(
        [*run[:3], "--config", str(other), "check"],
        env=dict(env, FOLLOWUPD_CONFIG=str(xdg)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(other) in out


def test_check_reports_template_errors_with_file_and_line(ics_cli: Cli) -> None:
    templates = ics_cli.home / "templates"
    templates.mkdir()
    (templates / "thank-you.txt.j2").write_text("Subject: Hi\n\nHello {{ contacts[0].nickname }}\n")
    (templates / "check-in.txt.j2").write_text("Subject: Hi\n\n{% if %}\n")
    result = ics_cli("check", check=False)
    assert result.returncode == 78
    assert "thank-you.txt.j2" in result.stderr and "nickname" in result.stderr and "line 3" in result.stderr
    assert "check-in.txt.j2" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_template_does_not_stop_other_work(ics_cli: Cli) -> None:
    templates = ics_cli.home / "templates"
    templates.mkdir()
    (templates / "thank-you.txt.j2").write_text("Subject: Hi\n\n{{ no_such_name }}\n")
    (ics_cli.home / "calendar.ics").write_text(calendar(vevent("a", START, END)))
    result = ics_cli.run(DUE.isoformat(), check=False)
    assert result.returncode == 78
    assert "no_such_name" in result.stderr
    row = ics_cli.step("a")
    assert row["state"] == "planned" and "no_such_name" in row["note"]
    (templates / "thank-you.txt.j2").unlink()
    ics_cli.run((DUE + timedelta(minutes=5)).isoformat())
    assert ics_cli.step("a")["state"] == "drafted"


def test_user_templates_override_by_name(ics_cli: Cli) -> None:
    templates = ics_cli.home / "templates"
    templates.mkdir()
    (templates / "thank-you.txt.j2").write_text("Subject: Thanks, {{ names }}\n\nShort and sweet.\n\n{{ me.name }}\n")
    (ics_cli.home / "calendar.ics").write_text(calendar(vevent("a", START, END)))
    ics_cli.run(DUE.isoformat())
    ((_, draft),) = drafts(ics_cli.home / "Mail")
    assert draft["Subject"] == "Thanks, Jane"
    assert draft.get_body(("plain",)).get_content().startswith("Short and sweet.")


def test_init_writes_config_and_templates_and_never_overwrites(home: Path) -> None:
    cli = Cli(home, home / ".config" / "followupd" / "config.toml")
    out = cli("init").stdout
    config = home / ".config" / "followupd" / "config.toml"
    assert config.read_text() == (REPO / "config.example.toml").read_text()
    assert (config.parent / "templates" / "thank-you.txt.j2").exists()
    assert "wrote" in out
    config.write_text("# mine\n")
    out = cli("init").stdout
    assert config.read_text() == "# mine\n" and "kept" in out


def test_preview_prints_the_draft_without_touching_the_mailbox(ics_cli: Cli) -> None:
    (ics_cli.home / "calendar.ics").write_text(calendar(vevent("a", START, END, description="Notes: their API design")))
    out = ics_cli("preview", "a", "--now", DUE.isoformat()).stdout  # before any pass: read from the calendar
    assert "To: Jane Doe <jane.doe@acme.io>" in out
    assert "our discussion of your API design" in out
    ics_cli.run((END + timedelta(minutes=1)).isoformat())
    out = ics_cli("preview", "a", "--step", "check-in").stdout
    assert "Subject: Following up" in out
    assert drafts(ics_cli.home / "Mail") == []
    result = ics_cli("preview", "nope", check=False)
    assert result.returncode == 1 and "no interview with uid 'nope'" in result.stderr


def test_skip_and_undo(ics_cli: Cli) -> None:
    (ics_cli.home / "calendar.ics").write_text(calendar(vevent("a", START, END)))
    ics_cli.run((END + timedelta(minutes=1)).isoformat())
    ics_cli("skip", "a", "--now", (END + timedelta(minutes=2)).isoformat())
    assert {r["state"] for r in ics_cli.status()} == {"cancelled"}
    ics_cli.run(DUE.isoformat())
    assert drafts(ics_cli.home / "Mail") == []
    ics_cli("skip", "a", "--undo", "--now", (DUE + timedelta(minutes=1)).isoformat())
    ics_cli.run((DUE + timedelta(minutes=2)).isoformat())
    assert ics_cli.step("a")["state"] == "drafted"


def test_status_table_for_people(ics_cli: Cli) -> None:
    assert "Nothing tracked yet" in ics_cli("status").stdout
    assert ics_cli("status", "--json").stdout.strip() == "[]"
    (ics_cli.home / "calendar.ics").write_text(calendar(vevent("a", START, END)))
    ics_cli.run((END + timedelta(minutes=1)).isoformat())
    out = ics_cli("status").stdout
    assert out.splitlines()[0].startswith("1 interview · next draft")
    assert "Interview: Backend Engineer at Acme" in out and "planned" in out


def test_state_is_private(ics_cli: Cli) -> None:
    (ics_cli.home / "calendar.ics").write_text(calendar(vevent("a", START, END)))
    os.umask(0o022)
    ics_cli.run(DUE.isoformat())
    state = ics_cli.home / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for path in state.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_now_must_have_an_offset(ics_cli: Cli) -> None:
    result = ics_cli("run", "--once", "--now", "2026-11-05T15:00", check=False)
    assert result.returncode == 2 and "has no UTC offset" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("run", "--once", "--now", "tomorrow"), "'tomorrow' is not an ISO 8601 instant"),
        (("preview", "a", "--now", "2026-13-01T00:00:00Z"), "is not an ISO 8601 instant"),
        (("status", "--jsn"), "unrecognized arguments: --jsn"),
        (("--no-such-option", "status"), "unrecognized arguments: --no-such-option"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(ics_cli: Cli, args: tuple[str, ...], expected: str) -> None:
    result = ics_cli(*args, check=False)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Invalid isoformat" not in result.stderr and "Traceback" not in result.stderr


def test_status_into_a_closed_pipe_is_not_a_bug(ics_cli: Cli) -> None:
    (ics_cli.home / "calendar.ics").write_text(calendar(vevent("a", START, END)))
    ics_cli.run(DUE.isoformat())
    # `followupd status | head -1`, made certain: the reader is gone before we write.
    process = subprocess.Popen(
        [sys.executable, "-m", "followupd", "--config", str(ics_cli.config), "status"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ics_cli.env(),
        cwd=ics_cli.home,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(60) == 0, err
    assert err == ""


def test_demo_runs_the_whole_loop(home: Path) -> None:
    result = Cli(home, home / "unused.toml")("demo")
    out = result.stdout
    assert "Hi Jane and Tom," in out
    assert "I especially enjoyed our discussion of your move from nightly cron jobs" in out
    assert "sent" in out and "replied" in out
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- ICS over http


@pytest.fixture
def ics_server() -> Iterator[tuple[str, type[FeedHandler]]]:
    handler = type("Handler", (FeedHandler,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/secret-token/basic.ics", handler
    finally:
        server.shutdown()
        server.server_close()


def test_ics_url_outage_keeps_state_and_recovers(home: Path, maildir: Path, ics_server) -> None:  # type: ignore[no-untyped-def]
    url, handler = ics_server
    handler.body = calendar(vevent("a", START, END)).encode()
    cli = Cli(home, write_config(home, f'kind = "ics"\nurl = "{url}"', f'kind = "maildir"\npath = "{maildir}"'))
    cli.run((END + timedelta(minutes=1)).isoformat())
    assert cli.step("a")["state"] == "planned"
    handler.status = 500
    result = cli.run(DUE.isoformat(), check=False)
    assert result.returncode == 75
    assert "answered HTTP 500" in result.stderr and "secret-token" not in result.stderr
    # The calendar is down, but the stored interview is still served: its draft is made.
    assert cli.step("a")["state"] == "drafted"
    assert "problem" in cli("status").stdout
    handler.status, handler.body = 200, b"this is not a calendar"
    result = cli.run((DUE + timedelta(minutes=5)).isoformat(), check=False)
    assert result.returncode == 1 and "not an iCalendar file" in result.stderr
    handler.body = calendar(vevent("a", START, END)).encode()
    cli.run((DUE + timedelta(minutes=10)).isoformat())
    assert "problem" not in cli("status").stdout.splitlines()[0]
    assert cli.step("a")["state"] == "drafted"
