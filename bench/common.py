"""Shared pieces for the benchmark scripts: paths, markdown tables, the machine, temp
homes, configs, the Google emulator with a stored sign-in, calendar builders.

The scripts reuse the test infrastructure (tests/support/google_emulator, tests/support/servers.py,
tests/support/ics.py) and always run *this* checkout's followupd: the repo root goes first on
sys.path here, and PYTHONPATH points at it for every subprocess.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO / "tests", REPO):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import followupd  # noqa: E402

assert Path(followupd.__file__).resolve().is_relative_to(REPO), f"not this checkout's followupd: {followupd.__file__}"

PYTHON = sys.executable
ME = "ada@example.org"
# A Monday in November: Europe/London is on UTC, business hours are easy to reason about.
BASE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
POLL = timedelta(minutes=5)  # the default [daemon] poll


# ---------------------------------------------------------------- command line and output


def arguments(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repetitions")
    parser.add_argument(
        "--keep", metavar="DIR", help="build everything in DIR and keep it (default: a temp dir, removed)"
    )
    return parser.parse_args(argv)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; numbers right-aligned."""
    text = [[_cell(v) for v in row] for row in rows]
    numeric = [all(_is_number(r[i]) for r in rows) and bool(rows) for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in text]
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


# ---------------------------------------------------------------- the machine


def machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:", 1)[1].split()[0])
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    system = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                system = f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
    dovecot = "not installed"
    if shutil.which("dovecot") or Path("/usr/sbin/dovecot").exists():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            dovecot = subprocess.run(
                [shutil.which("dovecot") or "/usr/sbin/dovecot", "--version"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.split()[0]
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores",
        "RAM": ram,
        "OS": system,
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Dovecot": dovecot,
        "load average (1, 5, 15 min)": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def machine_table() -> str:
    return table(["", ""], list(machine().items()))


# ---------------------------------------------------------------- homes and configs


@contextlib.contextmanager
def workdir(keep: str | None, name: str) -> Iterator[Path]:
    """A fresh directory for one benchmark: under --keep DIR, else a temp dir removed after."""
    if keep:
        path = Path(keep) / name
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix=f"followupd-bench-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_config(home: Path, calendar: str, mailbox: str, extra: str = "") -> Path:
    """The tests' config (Ada Lovelace, Europe/London), state under home/state."""
    from support.harness import write_config as _write

    home.mkdir(parents=True, exist_ok=True)
    return _write(home, calendar, mailbox, extra)


def make_maildir(root: Path) -> Path:
    from support.harness import make_maildir as _make

    return _make(root)


def env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a followupd subprocess from this checkout, with its own XDG dirs."""
    from support.harness import Cli

    result = Cli(home, home / "config.toml").env()
    result.update(extra)
    return result


def followupd(
    home: Path, config: Path, *args: str, check: bool = True, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [PYTHON, "-m", "followupd", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env(home),
        cwd=home,
        timeout=600,
        **kwargs,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"followupd {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def load_config(path: Path) -> Any:
    from followupd import config as config_module

    return config_module.load(path)


# ---------------------------------------------------------------- Google


def google_config(home: Path, emulator: Any, extra: str = "") -> Path:
    google = (
        f'\n[google]\naccount = "{ME}"\nendpoint = "{emulator.url}"\ntimeout = "30s"\n\n[secrets]\nbackend = "file"\n'
    )
    return write_config(home, 'kind = "google"\ncalendars = ["primary"]', 'kind = "gmail"', google + extra)


def sign_in(home: Path, config: Path, emulator: Any) -> None:
    """`followupd auth google --import`, as a user moving a grant to a server does."""
    import json

    grant = home / "authorized_user.json"
    grant.write_text(json.dumps(emulator.grant()), encoding="utf-8")
    followupd(home, config, "auth", "google", "--import", str(grant))


def start_emulator() -> Any:
    from support.google_emulator import Emulator

    emulator = Emulator(ME).start()
    # Google allows up to 2500 events per events.list page; the emulator defaults to 250
    # to exercise paging in tests. Both followupd and the naive reference ask for 2500.
    emulator.calendar.page_size = 2500
    return emulator


def google_interview(i: int, start: datetime, hours: float = 1.0) -> dict[str, Any]:
    """Interview number i: its own company and recruiter, accepted by the user."""
    from support.google_emulator.fixtures import gevent

    recruiter = recruiter_address(i)
    return gevent(
        f"iv{i:05d}",
        f"Backend Engineer interview at Company{i}",
        start,
        hours,
        organizer=recruiter,
        others=(recruiter,),
        description="Notes: their move to event sourcing",
    )


def recruiter_address(i: int) -> str:
    return f"recruiter{i}@company{i}.example"


def mail(sender: str, subject: str, message_id: str, when: datetime, to: str = ME) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
        f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"\r\nThanks, we'll be in touch.\r\n"
    ).encode()


def api_counts(emulator: Any) -> tuple[dict[str, int], int, int]:
    """(requests per API method, total API requests, Gmail quota units), without the OAuth
    token endpoint (it is not a Gmail or Calendar request and costs no quota)."""
    methods = {k: v for k, v in sorted(emulator.requests.items()) if k != "oauth.token" and v}
    return methods, sum(methods.values()), sum(emulator.units.values())


def describe(methods: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in methods.items()) or "none"


# ---------------------------------------------------------------- ICS


def ics_interview(i: int, start: datetime, hours: float = 1.0, summary: str | None = None) -> str:
    from support.ics import vevent

    recruiter = f"Recruiter {i} <{recruiter_address(i)}>"
    return vevent(
        f"iv{i:05d}@bench",
        start,
        start + timedelta(hours=hours),
        summary or f"Interview: Backend Engineer at Company{i}",
        description="Notes: their move to event sourcing",
        organizer=recruiter,
    )


def ics_other(i: int, start: datetime, hours: float = 1.0) -> str:
    from support.ics import vevent

    return vevent(
        f"ev{i:05d}@bench",
        start,
        start + timedelta(hours=hours),
        f"Team sync {i}",
        organizer=f"Colleague <colleague{i % 50}@example.org>",
    )


def ics_calendar(events: Sequence[str]) -> str:
    from support.ics import calendar

    return calendar(*events)


# ---------------------------------------------------------------- processes


def rss_kib(pid: int | str = "self") -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            values[key] = int(value.split()[0])
    return values["VmRSS"], values["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def wait_until(condition: Any, timeout: float, interval: float = 0.01, what: str = "condition") -> float:
    """Poll `condition()` until true; return the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def section(title: str, body: str) -> str:
    return f"## {title}\n\n{body.strip()}\n"


@contextlib.contextmanager
def dovecot_if_installed(without: str | None) -> Iterator[Any]:
    """A throwaway Dovecot (tests/support/servers.py), stopped by PID at the end. Without
    Dovecot: yield None and say `without` on stderr, or exit when `without` is None."""
    from support.servers import DOVECOT, running_dovecot

    if not Path(DOVECOT).exists():
        if without is None:
            raise SystemExit("Dovecot is not installed (apt install dovecot-imapd); this benchmark needs it")
        print(f"Dovecot is not installed: {without}", file=sys.stderr)
        yield None
        return
    with running_dovecot() as server:
        yield server
