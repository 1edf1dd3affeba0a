"""The [notify] command: runs with the facts in its environment, and never stops a pass."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from followupd.engine import Notice
from followupd.notify import Notifier

NOTICE = Notice(
    "draft-created",
    "thank-you draft created for Acme interview, Wed 25 Nov 15:00, to jane.doe@acme.io",
    "acme-1@example.org",
    "Thank you — Backend Engineer",
)


def test_command_gets_the_facts_in_its_environment(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    command = (
        "python3 -c 'import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
        f'if k.startswith("FOLLOWUPD_")}}))\' > {out}'
    )
    Notifier(command)(NOTICE)
    seen = json.loads(out.read_text())
    seen.pop("FOLLOWUPD_REQUIRE_SERVERS", None)  # from the test run's own environment
    assert seen == {
        "FOLLOWUPD_EVENT": "draft-created",
        "FOLLOWUPD_MESSAGE": NOTICE.message,
        "FOLLOWUPD_UID": "acme-1@example.org",
        "FOLLOWUPD_SUBJECT": "Thank you — Backend Engineer",
    }


def test_the_documented_example_quotes_the_message_safely(tmp_path: Path) -> None:
    # The message comes from a calendar: shell syntax in it must stay text.
    out = tmp_path / "out"
    hostile = Notice("needs-contact", '`touch pwned`; $(touch pwned) "quoted"', "u")
    Notifier(f"printf '%s' \"$FOLLOWUPD_MESSAGE\" > {out}")(hostile)
    assert out.read_text() == hostile.message
    assert not (Path.cwd() / "pwned").exists()


def test_a_failing_command_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        Notifier("echo 'notify-send: cannot open display' >&2; exit 3")(NOTICE)
    assert "[notify] command exited with status 3: notify-send: cannot open display" in caplog.text


def test_a_hanging_command_is_cut_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        Notifier("sleep 30", timeout=0.2)(NOTICE)
    assert "[notify] command failed" in caplog.text


def test_no_command_means_no_notification(caplog: pytest.LogCaptureFixture) -> None:
    Notifier(None)(NOTICE)
    assert caplog.text == ""
