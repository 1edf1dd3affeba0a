"""The tests' common set-up: a config file, a Maildir, the CLI in a subprocess, and
`need` for real servers that may be missing locally but never in CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent

# Real-server tests (Dovecot, Radicale, systemd-analyze) may skip on a developer's
# machine that lacks the server, but never in CI: .ci/run sets this.
REQUIRE_SERVERS = os.environ.get("FOLLOWUPD_REQUIRE_SERVERS") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip locally when a real server is missing; fail in CI, where it must be there."""
    if not condition:
        if REQUIRE_SERVERS:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


def make_maildir(root: Path, folders: tuple[str, ...] = ("Drafts", "Sent")) -> Path:
    for folder in (root, *(root / f".{name}" for name in folders)):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
    return root


@dataclass
class Cli:
    """Runs `python -m followupd` from this checkout, with its own XDG dirs."""

    home: Path
    config: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FOLLOWUPD_", "XDG_", "JOURNAL_", "NOTIFY_"))}
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_STATE_HOME=str(self.home / ".local/state"),
            PYTHONPATH=str(REPO),
            TZ="UTC",
        )
        return env

    def __call__(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 120,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
        umask: int | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`followupd ARGS`; `stdin` is typed in, `env` adds to this home's environment."""
        result = subprocess.run(
            [sys.executable, "-m", "followupd", "--config", str(self.config), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env(), **(env or {})},
            timeout=timeout,
            cwd=self.home,
            preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,  # noqa: PLW1509
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"followupd {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def run(
        self,
        now: str,
        *extra: str,
        check: bool = True,
        env: dict[str, str] | None = None,
        umask: int | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return self("run", "--once", "--now", now, *extra, check=check, env=env, umask=umask)

    def status(self) -> list[dict]:
        return json.loads(self("status", "--json").stdout)

    def step(self, uid: str, step: str = "thank-you") -> dict:
        rows = [r for r in self.status() if r["uid"] == uid and r["step"] == step]
        assert len(rows) == 1, rows
        return rows[0]


def round_the_clock(after: str, before: str, poll: str = "1h") -> str:
    """[window] and [daemon] tables for tests on the real clock: business hours all day
    every day, so a follow-up's due_at is exactly end + after; a long poll, so only the
    due job (or a push) can run the pass a test waits for."""
    days = '["mon", "tue", "wed", "thu", "fri", "sat", "sun"]'
    return (
        f'\n[window]\nafter = "{after}"\nbefore = "{before}"\nbusiness_hours = "00:00-24:00"\n'
        f'weekdays = {days}\n\n[daemon]\npoll = "{poll}"\n'
    )


def write_config(home: Path, calendar: str, mailbox: str, extra: str = "", zone: str = "Europe/London") -> Path:
    path = home / "config.toml"
    path.write_text(
        f"""
[me]
name = "Ada Lovelace"
email = "ada@example.org"
aliases = ["ada.lovelace@gmail.com"]
timezone = "{zone}"

[calendar]
{calendar}

[mailbox]
{mailbox}

[state]
dir = "{home / "state"}"
{extra}
""",
        encoding="utf-8",
    )
    return path
