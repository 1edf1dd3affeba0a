"""Issue 16 §5–§6 on this machine: file modes whatever the umask, no credentials over
clear-text http to another host, a password_command's stderr never stored, and event
text (a NUL, terminal escapes) that reaches the log, the terminal and the `[notify]`
environment only escaped. Every case runs the real CLI in a process."""

from __future__ import annotations

import json
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from followupd.errors import EXIT_CONFIG, EXIT_ERROR, EXIT_NOPERM, EXIT_OK

from support.google_emulator import Emulator
from support.google_emulator.fixtures import emulator, google_config, write_grant  # noqa: F401
from support.harness import Cli, write_config
from support.ics import calendar, vevent
from support.maildir_user import drafts

START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
DUE = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------- files


def test_init_under_umask_zero_makes_a_private_config(home: Path) -> None:
    cli = Cli(home, home / ".config" / "followupd" / "config.toml")
    cli("init", umask=0)
    directory = cli.config.parent
    # Another local user must not be able to edit password_command or [notify] command.
    assert _mode(directory) == 0o700
    assert _mode(directory.parent) == 0o700  # ~/.config did not exist either
    assert _mode(cli.config) == 0o600
    assert _mode(directory / "templates") == 0o700
    templates = list((directory / "templates").iterdir())
    assert templates and all(_mode(t) == 0o600 for t in templates)


def test_drafts_are_private_under_umask_zero(ics_cli: Cli) -> None:
    (ics_cli.home / "calendar.ics").write_text(calendar(vevent("a", START, END)))
    ics_cli.run((END + timedelta(hours=1)).isoformat(), umask=0)
    ics_cli.run(DUE.isoformat(), umask=0)
    ((draft, _),) = drafts(ics_cli.home / "Mail")
    assert _mode(draft) == 0o600


# ---------------------------------------------------------------- clear text


def test_a_google_endpoint_over_http_to_another_host_is_refused(home: Path, emulator: Emulator) -> None:  # noqa: F811
    path = google_config(home, emulator)
    path.write_text(path.read_text().replace(emulator.url, "http://google-proxy.example:8080"))
    cli = Cli(home, path)
    write_grant(home / "grant.json", emulator.grant())
    for args in (("auth", "google", "--import", str(home / "grant.json")), ("run", "--once")):
        result = cli(*args, check=False)
        assert result.returncode == EXIT_CONFIG, (args, result.stderr)
        assert "google.endpoint" in result.stderr and "clear text" in result.stderr
    assert not (home / "state" / "secrets.json").exists()


def test_a_grant_with_an_http_token_uri_to_another_host_is_refused(home: Path, emulator: Emulator) -> None:  # noqa: F811
    cli = Cli(home, google_config(home, emulator))
    grant = {**emulator.grant(), "token_uri": "http://oauth.example/token"}
    result = cli("auth", "google", "--import", str(write_grant(home / "grant.json", grant)), check=False)
    assert result.returncode == EXIT_ERROR
    assert "token_uri http://oauth.example is not https" in result.stderr and "clear text" in result.stderr
    assert not (home / "state" / "secrets.json").exists()

    # One stored before this rule (or by hand) is refused when used, not refreshed.
    (home / "state").mkdir(exist_ok=True)
    (home / "state" / "secrets.json").write_text(json.dumps({"google:ada@example.org": json.dumps(grant)}))
    run = cli("run", "--once", check=False)
    assert run.returncode == EXIT_NOPERM, run.stderr
    assert "clear text" in run.stderr and "followupd auth google" in run.stderr


def test_loopback_http_stays_allowed_for_emulators(home: Path, emulator: Emulator) -> None:  # noqa: F811
    cli = Cli(home, google_config(home, emulator))  # endpoint and token_uri are http://127.0.0.1
    result = cli("auth", "google", "--import", str(write_grant(home / "grant.json", emulator.grant())), check=False)
    assert result.returncode == EXIT_OK, result.stderr


# ---------------------------------------------------------------- password_command


def test_password_command_stderr_is_neither_logged_nor_stored(home: Path, maildir: Path) -> None:
    secret = "hunter2-on-stderr"
    mailbox = (
        'kind = "imap"\nhost = "127.0.0.1"\nport = 1\nusername = "ada"\nsecurity = "none"\n'
        f'password_command = "echo {secret} >&2; exit 3"'
    )
    cli = Cli(home, write_config(home, f'kind = "ics"\npath = "{home / "calendar.ics"}"', mailbox))
    (home / "calendar.ics").write_text(calendar(vevent("a", START, END)))
    result = cli.run(DUE.isoformat(), check=False)
    assert result.returncode == EXIT_NOPERM, result.stderr
    assert "mailbox.password_command exited with status 3" in result.stderr
    assert secret not in result.stdout + result.stderr
    status = cli("status", "--json").stdout + cli("status").stdout
    assert secret not in status
    # Debug logging (-v, --debug) shows it to the user at the terminal, and still never stores it.
    debug = cli("--debug", "run", "--once", "--now", DUE.isoformat(), check=False)
    assert secret in debug.stderr
    for path in (home / "state").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


# ---------------------------------------------------------------- event text at the output edge


def test_a_nul_in_a_uid_reaches_the_notify_command_escaped(ics_cli: Cli) -> None:
    seen = ics_cli.home / "notified"
    ics_cli.config.write_text(
        ics_cli.config.read_text() + f'\n[notify]\ncommand = "printf %s \\"$FOLLOWUPD_UID\\" >> {seen}"\n'
    )
    (ics_cli.home / "calendar.ics").write_text(calendar(vevent("evil\x00uid@acme.io", START, END)))
    first = ics_cli.run((END + timedelta(hours=1)).isoformat(), check=False)
    assert first.returncode == EXIT_OK, first.stderr
    result = ics_cli.run(DUE.isoformat(), check=False)
    assert result.returncode == EXIT_OK, result.stderr
    assert "embedded null byte" not in result.stderr and "This is a bug" not in result.stderr
    assert "\\x00" in seen.read_text()


ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202e"


def test_terminal_escapes_in_a_uid_and_title_never_reach_the_terminal_raw(ics_cli: Cli) -> None:
    uid = f"esc{ESCAPES}@acme.io"
    title = f"Interview{ESCAPES} at Acme"
    (ics_cli.home / "calendar.ics").write_text(calendar(vevent(uid, START, END, title)))
    outputs = []
    for args in (
        ("-v", "run", "--once", "--now", (END + timedelta(hours=1)).isoformat()),
        ("-v", "run", "--once", "--now", DUE.isoformat()),
        ("status",),
        ("status", "--json"),
        ("skip", uid),
    ):
        result = ics_cli(*args)
        outputs.append(result.stdout + result.stderr)
    text = "".join(outputs)
    assert "esc" in text  # the event was there to show
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in text, repr(raw)
    assert "\\x1b" in text
    # JSON stays JSON, and the escaped UID parses back to the stored one.
    rows = json.loads(outputs[3])
    assert {r["uid"] for r in rows} <= {uid, uid.replace("\x9b", "").replace("\u202e", "")} or rows


def test_the_store_keeps_the_uid_as_the_calendar_gave_it(ics_cli: Cli) -> None:
    uid = "plain\x1b[31m@acme.io"
    (ics_cli.home / "calendar.ics").write_text(calendar(vevent(uid, START, END)))
    ics_cli.run((END + timedelta(hours=1)).isoformat())
    db = sqlite3.connect(ics_cli.home / "state" / "state.sqlite3")
    try:
        (count,) = db.execute("SELECT count(*) FROM followups WHERE uid = ?", (uid,)).fetchone()
    finally:
        db.close()
    assert count >= 1  # escaping is for showing it; matching still uses the real UID


def test_an_unusable_keyring_at_run_time_is_exit_77_not_78(home: Path, maildir: Path) -> None:
    mailbox = 'kind = "imap"\nhost = "127.0.0.1"\nport = 1\nusername = "ada"\nsecurity = "none"'
    cli = Cli(home, write_config(home, f'kind = "ics"\npath = "{home / "calendar.ics"}"', mailbox))
    (home / "calendar.ics").write_text(calendar(vevent("a", START, END)))
    result = cli.run(DUE.isoformat(), check=False, env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert result.returncode == EXIT_NOPERM, result.stderr
    assert "keyring" in result.stderr
