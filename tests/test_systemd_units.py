"""The unit files in systemd/: systemd accepts them without a warning, the system unit
is hardened (exposure ≤ 2.0), and they keep the promises the daemon relies on."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from followupd.daemon import STOP_DEADLINE
from followupd.errors import EXIT_CONFIG

from support.harness import need

REPO = Path(__file__).resolve().parent.parent
USER_UNIT = REPO / "systemd/followupd.service"
SYSTEM_UNIT = REPO / "systemd/followupd@.service"


def _analyze() -> str:
    path = shutil.which("systemd-analyze")
    need(path is not None, "systemd-analyze is not installed (apt install systemd)")
    assert path is not None
    return path


def _settings(unit: Path) -> dict[str, list[str]]:
    """`Section.Key` → every value given, in order (systemd keys may repeat)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for line in unit.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def _runnable_copy(unit: Path, directory: Path) -> Path:
    """The unit with ExecStart pointed at this interpreter.

    `systemd-analyze verify` checks that ExecStart's program exists, and the units
    name where a user installs followupd (~/.local/bin, /usr/local/bin), which a test
    machine does not have. Only the program changes; every other line is verified
    exactly as shipped.
    """
    text = unit.read_text()
    new, count = re.subn(
        r"^ExecStart=\S+ (.*)$",
        lambda m: f"ExecStart={shlex.quote(sys.executable)} -m followupd {m.group(1)}",
        text,
        flags=re.MULTILINE,
    )
    assert count == 1, "exactly one ExecStart="
    copy = directory / unit.name
    copy.write_text(new)
    return copy


def _verify(analyze: str, unit: Path, *extra: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([analyze, *extra, "verify", str(unit)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        f"systemd-analyze verify {unit.name}:\n{result.stdout}{result.stderr}"
    )


def test_system_unit_verifies_without_warnings(tmp_path: Path) -> None:
    analyze = _analyze()
    copy = _runnable_copy(SYSTEM_UNIT, tmp_path)
    _verify(analyze, copy)
    # A template is used through an instance: check that one loads as well.
    _verify(analyze, copy.with_name("followupd@alice.service"))


def test_user_unit_verifies_without_warnings(tmp_path: Path) -> None:
    analyze = _analyze()
    copy = _runnable_copy(USER_UNIT, tmp_path)
    # A user manager needs a runtime dir, even offline.
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(runtime),
    }
    _verify(analyze, copy, "--user", env=env)


def test_system_unit_exposure_is_at_most_2() -> None:
    analyze = _analyze()
    result = subprocess.run(
        [analyze, "security", "--offline=true", str(SYSTEM_UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    match = re.search(r"exposure level for \S+: (\d+\.\d+)", last)
    assert match, f"no score in the last line: {last!r}"
    assert float(match.group(1)) <= 2.0, result.stdout


@pytest.mark.parametrize("unit", [USER_UNIT, SYSTEM_UNIT], ids=["user", "system"])
def test_units_keep_the_daemons_contract(unit: Path) -> None:
    s = _settings(unit)
    assert s["Service.Type"] == ["notify"]
    assert s["Service.NotifyAccess"] == ["main"]
    (exec_start,) = s["Service.ExecStart"]
    assert exec_start.split()[-1] == "run" and "--once" not in exec_start
    assert s["Service.ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    # A config error is not retried; other failures are, but not forever.
    assert s["Service.Restart"] == ["on-failure"]
    assert s["Service.RestartPreventExitStatus"] == [str(EXIT_CONFIG)]
    assert int(s["Unit.StartLimitBurst"][0]) > 0 and s["Unit.StartLimitIntervalSec"]
    # systemd must not kill us before our own stop deadline.
    stop = s["Service.TimeoutStopSec"][0]
    assert stop.endswith("s") and int(stop[:-1]) > STOP_DEADLINE + 1
    assert s["Service.WatchdogSec"]
    assert s["Service.NoNewPrivileges"] == ["yes"]
    assert s["Service.UMask"] == ["0077"]


def test_system_unit_runs_as_the_named_user_with_their_files() -> None:
    s = _settings(SYSTEM_UNIT)
    assert s["Service.User"] == ["%i"]
    env = " ".join(s["Service.Environment"])
    assert "XDG_CONFIG_HOME=/home/%i/.config" in env and "XDG_STATE_HOME=/home/%i/.local/state" in env
    # The home is hidden except what followupd needs: its config (read-only) and its state.
    assert s["Service.ProtectHome"] == ["tmpfs"]
    assert "/home/%i/.config/followupd" in s["Service.BindReadOnlyPaths"]
    assert "/home/%i/.local/state/followupd" in s["Service.BindPaths"]
