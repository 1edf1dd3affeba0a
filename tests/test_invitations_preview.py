"""`preview` shows a draft as it will read when it is made; `check` tries templates on
interviews shaped like real ones; a template that breaks at run time is a template
error (exit 78) naming the template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.harness import Cli
from support.ics import calendar, vevent

START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
DUE = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)


def write(cli: Cli, *events: str) -> None:
    (cli.home / "calendar.ics").write_text(calendar(*events), encoding="utf-8")


def test_preview_of_next_weeks_interview_reads_as_it_will_then(ics_cli: Cli) -> None:
    write(ics_cli, vevent("next-week", START + timedelta(days=7), END + timedelta(days=7)))
    now = (START - timedelta(days=1)).isoformat()
    ics_cli.run(now)
    shown = ics_cli("preview", "next-week").stdout
    assert "thank-you for next-week: planned, due Thu 12 Nov 2026 15:00 GMT" in shown
    assert "speak with me yesterday about the Backend Engineer role at Acme" in shown
    assert "today" not in shown
    later = ics_cli("preview", "next-week", "--step", "check-in").stdout
    assert "check-in for next-week: planned; its due time is not known yet" in later
    assert "our conversation on Wednesday 11 November" in later


def test_preview_before_any_pass_and_of_an_ignored_interview(ics_cli: Cli) -> None:
    write(ics_cli, vevent("unanswered", START, END, my_partstat="NEEDS-ACTION"))
    shown = ics_cli("preview", "unanswered", "--now", DUE.isoformat()).stdout
    assert "thank-you for unanswered: not planned yet; rendered as of --now" in shown
    assert "Hi Jane," in shown


def test_check_renders_templates_against_real_shapes(ics_cli: Cli) -> None:
    templates = ics_cli.config.parent / "templates"
    templates.mkdir()
    (templates / "thank-you.txt.j2").write_text(
        "Subject: Thank you – {{ role }} interview\n\nHi {{ contacts[0].first_name }},\n"
    )
    result = ics_cli("check", check=False)
    assert result.returncode == 78
    assert "thank-you.txt.j2" in result.stderr and "(for an interview with no role)" in result.stderr
    assert "None" not in result.stderr and "contacts" not in result.stderr  # contacts[0] always exists
    (templates / "thank-you.txt.j2").write_text("Subject: Thanks\n\n{{ 1 / (role|length - role|length) }}\n")
    result = ics_cli("check", check=False)
    assert result.returncode == 78 and "ZeroDivisionError" in result.stderr and "thank-you.txt.j2" in result.stderr
    assert "This is a bug" not in result.stderr


def test_a_template_runtime_error_stops_the_draft_with_exit_78(ics_cli: Cli, maildir: Path) -> None:
    write(ics_cli, vevent("u1", START, END))
    templates = ics_cli.config.parent / "templates"
    templates.mkdir()
    (templates / "thank-you.txt.j2").write_text("Subject: Thanks\n\n{{ [1, 2][0] / 0 }}\n")
    result = ics_cli.run(DUE.isoformat(), check=False)
    assert result.returncode == 78, result.stderr
    assert "thank-you.txt.j2" in result.stderr and "ZeroDivisionError" in result.stderr
    assert not list((maildir / ".Drafts" / "cur").iterdir()) and not list((maildir / ".Drafts" / "new").iterdir())
    preview = ics_cli("preview", "u1", check=False)
    assert preview.returncode == 78 and "This is a bug" not in preview.stderr
