"""Secrets never leak: full passes with a known password and known tokens, at every
log level, through failures too; then every log line, every `status`, every error and
every byte under the state dir is searched for them. And file modes hold under umask 0.
"""

from __future__ import annotations

import json
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.google_emulator import Emulator
from support.google_emulator.fixtures import ACCOUNT, emulator, gevent, google_config, write_grant  # noqa: F401
from support.harness import Cli, write_config
from support.ics import calendar, vevent
from support.mailbox_contract import raw_mail
from support.servers import ImapAccount

START = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
DUE = "2026-11-11T11:05:00+00:00"
LATER = "2026-11-11T12:00:00+00:00"
# A keyring that works without a desktop session, stored outside the state dir: what
# "keyring" means on a laptop, and lets us check that nothing reaches the state dir.
KEYRING = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}


class Recorder:
    """Runs the CLI, keeping everything it printed."""

    def __init__(self, cli: Cli, env: dict[str, str] | None = None) -> None:
        self.cli = cli
        self.env = env
        self.output: list[str] = []

    def __call__(
        self, *args: str, stdin: str | None = None, umask: int | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = self.cli(*args, check=False, stdin=stdin, env=self.env, umask=umask)
        self.output += [result.stdout, result.stderr]
        return result

    def everything(self) -> str:
        for args in (("status",), ("status", "--json"), ("--debug", "check")):
            self(*args)
        return "\n".join(self.output)


def leaked(secret: str, recorder: Recorder, state: Path) -> list[str]:
    places = [f"output of {len(recorder.output) // 2} commands"] if secret in recorder.everything() else []
    for path in state.rglob("*"):
        if path.is_file() and path.name != "secrets.json" and secret.encode() in path.read_bytes():
            places.append(str(path))
    return places


def test_imap_password_never_leaks(home: Path, imap_account: ImapAccount) -> None:
    (home / "calendar.ics").write_text(calendar(vevent("s1", START, START + timedelta(hours=1))))
    cli = Cli(home, write_config(home, f'kind = "ics"\npath = "{home / "calendar.ics"}"', imap_account.mailbox_toml()))
    run = Recorder(cli, KEYRING)
    assert run("auth", "imap", stdin=imap_account.password + "\n").returncode == 0
    client = imap_account.connect()
    for now in ("2026-11-10T12:00:00+00:00", DUE):
        assert run("--debug", "-v", "run", "--once", "--now", now).returncode == 0
    client.append("INBOX", raw_mail(sender="Jane Doe <jane.doe@acme.io>"))
    assert run("--debug", "-v", "run", "--once", "--now", LATER).returncode == 0
    assert cli.step("s1")["state"] == "replied"
    # A wrong password on the way, and a failing password_command: errors, not leaks.
    wrong = "wrong-" + imap_account.password
    assert run("auth", "imap", stdin=wrong + "\n").returncode == 77
    config = cli.config.read_text()
    cli.config.write_text(config.replace('security = "none"', f'security = "none"\npassword_command = "echo {wrong}"'))
    assert run("--debug", "-v", "run", "--once", "--now", LATER).returncode == 77
    cli.config.write_text(config.replace('security = "none"', 'security = "none"\npassword_command = "false"'))
    assert run("--debug", "-v", "run", "--once", "--now", LATER).returncode == 77
    for secret in (imap_account.password, wrong):
        assert leaked(secret, run, home / "state") == []
    # The keyring, not the state dir, holds it.
    assert "followupd_3Aimap" in (home / ".local/share/python_keyring/keyring_pass.cfg").read_text()


def test_google_tokens_never_leak(home: Path, emulator: Emulator) -> None:  # noqa: F811
    cli = Cli(home, google_config(home, emulator))
    cli.config.write_text(cli.config.read_text().replace('backend = "file"', 'backend = "keyring"'))
    run = Recorder(cli, KEYRING)
    grant = emulator.grant()
    assert run("auth", "google", "--import", str(write_grant(home / "grant.json", grant))).returncode == 0
    (home / "grant.json").unlink()
    emulator.put_event(gevent("g1", "Backend Engineer interview at Acme", START))
    for now in ("2026-11-10T12:00:00+00:00", DUE):
        emulator.now = lambda now=now: datetime.fromisoformat(now)
        assert run("--debug", "-v", "run", "--once", "--now", now).returncode == 0
    emulator.revoke()
    assert run("--debug", "-v", "run", "--once", "--now", LATER).returncode == 77
    tokens = [grant["refresh_token"], grant["client_secret"], *emulator.oauth.tokens]
    assert len(tokens) >= 3
    for secret in tokens:
        assert leaked(secret, run, home / "state") == [], secret[:6]


def test_state_and_secret_files_are_private_under_umask_zero(home: Path, emulator: Emulator) -> None:  # noqa: F811
    cli = Cli(home, google_config(home, emulator))  # [secrets] backend = "file"
    run = Recorder(cli)
    grant = emulator.grant()
    assert run("auth", "google", "--import", str(write_grant(home / "grant.json", grant)), umask=0).returncode == 0
    emulator.put_event(gevent("p1", "Backend Engineer interview at Acme", START))
    emulator.now = lambda: datetime.fromisoformat(DUE)
    assert run("run", "--once", "--now", DUE, umask=0).returncode == 0
    state = home / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in state.iterdir() if p.is_file()}
    assert {"state.sqlite3", "lock", "secrets.json"} <= set(files)
    assert set(files.values()) == {0o600}, files
    # With the file backend the grant is in secrets.json and nowhere else.
    assert grant["refresh_token"] in json.loads((state / "secrets.json").read_text())["google:" + ACCOUNT]
    assert leaked(grant["refresh_token"], run, state) == []
