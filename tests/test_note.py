"""`followupd note`, the interview-ended nudge and short ids, end to end on ICS + Maildir.

The invitation is shaped like a recruiter-owned Google Calendar invitation (the guest
cannot edit its description): organiser at the company, the user an accepted guest.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.harness import Cli
from support.ics import calendar, vevent
from support.maildir_user import drafts, only_draft

START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
DUE = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
UID = "7kq2m9x0acme@google.com"


@pytest.fixture
def cli(ics_cli: Cli) -> Cli:
    event = vevent(
        UID,
        START,
        END,
        "Interview: Backend Engineer at Acme",
        attendees=["Tom Baker <tom.baker@acme.io>"],
        description="Join with Google Meet: https://meet.google.com/abc-defg-hij",
    )
    (ics_cli.home / "calendar.ics").write_text(calendar(event), encoding="utf-8")
    notices = ics_cli.home / "notices.jsonl"
    ics_cli.config.write_text(
        ics_cli.config.read_text()
        + '\n[notify]\ncommand = \'printf "%s\\t%s\\n" "$FOLLOWUPD_EVENT" "$FOLLOWUPD_MESSAGE" >> '
        + str(notices)
        + "'\n"
    )
    return ics_cli


def notices(cli: Cli) -> list[tuple[str, str]]:
    path = cli.home / "notices.jsonl"
    if not path.exists():
        return []
    return [tuple(line.split("\t", 1)) for line in path.read_text().splitlines()]  # type: ignore[misc]


def body(maildir: Path) -> str:
    return only_draft(maildir)[1].get_body(("plain",)).get_content()


def test_a_note_overrides_the_event_and_reaches_the_draft(cli: Cli, maildir: Path) -> None:
    cli.run((END + timedelta(minutes=5)).isoformat())
    short = cli.step(UID)["short_id"]
    assert UID.startswith(short) and len(short) >= 6
    out = cli("note", short, "Role: Staff Engineer\nNotes: their move to event sourcing").stdout
    assert f"saved your notes for {UID}" in out
    row = cli.step(UID)
    assert (row["role"], row["company"], row["notes"]) == ("Staff Engineer", "Acme", "their move to event sourcing")
    shown = cli("preview", short).stdout  # the draft to come reads the note too
    assert "the Staff Engineer role at Acme" in shown and "your move to event sourcing" in shown
    cli.run(DUE.isoformat())
    text = body(maildir)
    assert "the Staff Engineer role at Acme" in text
    assert "our discussion of your move to event sourcing" in text


def test_unlabelled_text_is_all_notes_and_fields_merge(cli: Cli, maildir: Path) -> None:
    cli.run((END + timedelta(minutes=5)).isoformat())
    cli("note", UID, "we talked about billing")
    cli("note", UID, "Company: Acme Corporation")
    row = cli.step(UID)
    assert (row["role"], row["company"], row["notes"]) == (
        "Backend Engineer",
        "Acme Corporation",
        "we talked about billing",
    )
    cli("note", UID, "--clear")
    row = cli.step(UID)
    assert (row["company"], row["notes"]) == ("Acme", None)


def test_a_draft_already_made_is_not_rewritten(cli: Cli, maildir: Path) -> None:
    cli.run(DUE.isoformat())
    before = only_draft(maildir)[0].read_bytes()
    out = cli("note", UID, "Notes: their on-call rota").stdout
    assert "thank-you draft was made already and is not rewritten" in out
    cli.run((DUE + timedelta(hours=1)).isoformat())
    assert [p.read_bytes() for p, _ in drafts(maildir)] == [before]
    assert cli.step(UID)["notes"] == "their on-call rota"  # kept for the check-in


def test_the_editor_is_prefilled_and_an_unchanged_file_changes_nothing(cli: Cli, maildir: Path) -> None:
    cli.run((END + timedelta(minutes=5)).isoformat())
    seen = cli.home / "prefilled.txt"
    editor = cli.home / "editor.sh"
    editor.write_text(f'#!/bin/sh\ncp "$1" {seen}\n')
    editor.chmod(0o755)
    env = {"EDITOR": str(editor)}
    out = cli("note", UID, env=env).stdout
    assert out.strip() == "no change"
    text = seen.read_text()
    assert "Role: Backend Engineer\nCompany: Acme\nNotes: \n" in text
    assert "#   tom.baker@acme.io (Tom Baker)" in text and "#   jane.doe@acme.io (Jane Doe)" in text
    assert cli.step(UID)["notes"] is None
    # An editor that writes a note; $VISUAL wins over $EDITOR, as in git.
    visual = cli.home / "visual.sh"
    visual.write_text('#!/bin/sh\nsed -i "s/^Notes: $/Notes: their migration to Kubernetes/" "$1"\n')
    visual.chmod(0o755)
    cli("note", UID[:8], env={**env, "VISUAL": str(visual)})
    assert cli.step(UID)["notes"] == "their migration to Kubernetes"
    cli.run(DUE.isoformat())
    assert "our discussion of your migration to Kubernetes" in body(maildir)


def test_interview_ended_is_told_once_with_how_to_add_notes(cli: Cli, maildir: Path) -> None:
    cli.run((START + timedelta(minutes=30)).isoformat())  # not over yet
    assert notices(cli) == []
    cli.run((END + timedelta(minutes=1)).isoformat())
    result = cli.run((END + timedelta(minutes=10)).isoformat())
    told = notices(cli)
    assert [e for e, _ in told] == ["interview-ended"]
    short = cli.step(UID)["short_id"]
    assert f'followupd note {short} "Notes: …"' in told[0][1]
    assert "has ended" not in result.stderr  # logged by the pass that told it, not again
    cli.run(DUE.isoformat())
    assert [e for e, _ in notices(cli)] == ["interview-ended", "draft-created"]


def test_a_problem_that_needs_the_user_is_told_once(cli: Cli, maildir: Path) -> None:
    import shutil

    drafts_dir = next(p for p in maildir.rglob("*Drafts") if p.is_dir())
    shutil.rmtree(drafts_dir)  # the user renamed it in their mail client, say
    cli.run((END + timedelta(minutes=5)).isoformat(), check=False)
    cli.run((END + timedelta(minutes=10)).isoformat(), check=False)
    told = [m for e, m in notices(cli) if e == "problem"]
    assert len(told) == 1 and "Drafts" in told[0], notices(cli)


def test_an_unknown_or_ambiguous_id_is_a_clear_error(cli: Cli, maildir: Path) -> None:
    other = vevent("7kq2m9x0beta@google.com", START, END, "Phone screen - Globex")
    first = vevent(UID, START, END, "Interview: Backend Engineer at Acme")
    (cli.home / "calendar.ics").write_text(calendar(first, other), encoding="utf-8")
    cli.run((END + timedelta(minutes=5)).isoformat())
    result = cli("note", "7kq2", "Notes: x", check=False)
    assert result.returncode == 1 and "is the start of several ids" in result.stderr
    result = cli("note", "nope", "Notes: x", check=False)
    assert result.returncode == 1 and "no interview or event with id 'nope'" in result.stderr
    ids = {r["uid"]: r["short_id"] for r in json.loads(cli("status", "--json").stdout)}
    assert ids == {UID: "7kq2m9x0acme", "7kq2m9x0beta@google.com": "7kq2m9x0beta"}
    assert cli("preview", "7kq2m9x0beta").stdout.startswith("thank-you for 7kq2m9x0beta@google.com:")
