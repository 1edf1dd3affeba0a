"""Footprint: start-up time, what `--help` imports, and the daemon's memory and CPU per
idle pass.

    /tmp/venv/bin/python bench/footprint.py [--quick]

- Start-up: `python -m followupd --help` against `python -c pass`, wall time of the
  whole process, median of 21 alternating runs (9 with --quick).
- Imports: `python -X importtime -m followupd --help` must not load googleapiclient,
  caldav, imapclient, apscheduler, icalendar or jinja2.
- Daemon: the real Daemon (bench/daemon_probe.py, a child process holding nothing
  else) on three set-ups with 100 tracked interviews: ICS + Maildir, Google Calendar
  + Gmail (on the emulator, which runs in this process), ICS + IMAP with IDLE (a real
  Dovecot). Passes are requested back to back; 12 passes are an hour at the default
  5-minute poll, 288 a day. Memory is VmRSS of the child; CPU is the child's CPU time
  (all threads) per idle pass, between pass 12 and the last.
- The real `followupd run` with `poll = "1s"` for 12 passes on the Google set-up, as
  a cross-check of the in-process figure.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common

HEAVY = (
    "googleapiclient",
    "google",
    "caldav",
    "imapclient",
    "apscheduler",
    "icalendar",
    "recurring_ical_events",
    "jinja2",
)
TRACKED = 100
OTHER_EVENTS = 400


# ---------------------------------------------------------------- start-up


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def startup(home: Path, runs: int) -> tuple[str, dict[str, float]]:
    env = common.env(home)
    bare = [common.PYTHON, "-c", "pass"]
    help_ = [common.PYTHON, "-m", "followupd", "--help"]
    for command in (bare, help_):  # warm the page cache
        timed(command, env)
    times: dict[str, list[float]] = {"bare": [], "help": []}
    for _ in range(runs):
        times["bare"].append(timed(bare, env))
        times["help"].append(timed(help_, env))
    rows = []
    for label, key in (("`python -c pass`", "bare"), ("`python -m followupd --help`", "help")):
        values = times[key]
        rows.append(
            [label, common.ms(common.median(values)), common.ms(min(values)), common.ms(common.percentile(values, 90))]
        )
    difference = common.median(times["help"]) - common.median(times["bare"])
    rows.append(["difference of the medians", common.ms(difference), "", ""])
    figures = {"bare": common.median(times["bare"]), "help": common.median(times["help"]), "difference": difference}
    return common.table(["command", "median ms", "min ms", "p90 ms"], rows), figures


def imports(home: Path) -> tuple[str, list[str], float]:
    result = subprocess.run(
        [common.PYTHON, "-X", "importtime", "-m", "followupd", "--help"],
        env=common.env(home),
        capture_output=True,
        text=True,
        check=True,
    )
    loaded: dict[str, tuple[int, int]] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        self_us, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        loaded[name] = (int(self_us), int(cumulative))
    heavy = sorted({n for n in loaded if n.split(".")[0] in HEAVY})
    top = [n for n in loaded if "." not in n]  # top-level modules: cumulative times add up
    total = sum(loaded[n][1] for n in top) / 1e6
    largest = sorted(top, key=lambda n: -loaded[n][1])[:8]
    rows = [[n, round(loaded[n][1] / 1000, 1)] for n in largest]
    return common.table(["top-level import", "cumulative ms"], rows), heavy, total


# ---------------------------------------------------------------- set-ups


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def ics_file(path: Path) -> None:
    """100 interviews in the coming weeks (thank-yous planned) among 400 other events."""
    start = now() + timedelta(days=3)
    events = [common.ics_interview(i, start + timedelta(hours=3 * i)) for i in range(TRACKED)]
    events += [common.ics_other(i, start - timedelta(days=10) + timedelta(hours=2 * i)) for i in range(OTHER_EVENTS)]
    path.write_text(common.ics_calendar(events), encoding="utf-8")


def maildir_with_mail(root: Path, count: int = 1000) -> Path:
    common.make_maildir(root)
    old = time.time() - 90 * 86400
    for i in range(count):
        path = root / "cur" / f"{int(old) + i}.M{i}P1.bench:2,S"
        path.write_bytes(
            common.mail(
                f"Someone {i} <someone{i}@example.net>",
                f"Hello {i}",
                f"<m{i}@example.net>",
                datetime.fromtimestamp(old + i * 600, UTC),
            )
        )
    return root


DAEMON = '\n[daemon]\npoll = "1h"\n'


def ics_maildir_home(work: Path) -> Path:
    home = work / "ics-maildir"
    home.mkdir()
    ics_file(home / "calendar.ics")
    mailbox = maildir_with_mail(home / "Mail")
    return common.write_config(
        home, f'kind = "ics"\npath = "{home / "calendar.ics"}"', f'kind = "maildir"\npath = "{mailbox}"', DAEMON
    )


def google_home(work: Path, emulator: Any, extra: str = DAEMON) -> Path:
    home = work / "google"
    home.mkdir(exist_ok=True)
    config = common.google_config(home, emulator, extra)
    common.sign_in(home, config, emulator)
    start = now() + timedelta(days=3)
    for i in range(TRACKED):
        emulator.put_event(common.google_interview(i, start + timedelta(hours=3 * i)))
    for i in range(200):
        emulator.deliver(
            common.mail(
                f"Someone {i} <someone{i}@example.net>", f"Hello {i}", f"<m{i}@example.net>", now() - timedelta(days=5)
            ),
            now() - timedelta(days=5, minutes=i),
        )
    return config


def imap_home(work: Path, account: Any) -> Path:
    from followupd.secrets import SecretStore

    home = work / "imap"
    home.mkdir()
    ics_file(home / "calendar.ics")
    config = common.write_config(
        home,
        f'kind = "ics"\npath = "{home / "calendar.ics"}"',
        account.mailbox_toml(),
        DAEMON + '\n[secrets]\nbackend = "file"\n',
    )
    SecretStore("file", home / "state").set("imap", account.username, account.password)
    return config


@contextlib.contextmanager
def dovecot() -> Iterator[Any]:
    with common.dovecot_if_installed("no IMAP footprint") as server:
        yield server


# ---------------------------------------------------------------- the daemon


def probe(config: Path, checkpoints: list[int]) -> list[dict[str, Any]]:
    home = config.parent
    result = subprocess.run(
        [common.PYTHON, str(Path(__file__).with_name("daemon_probe.py")), str(config), ",".join(map(str, checkpoints))],
        env=common.env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != 0:
        raise RuntimeError(f"daemon probe failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def real_daemon(config: Path, emulator: Any, passes: int = 12) -> tuple[int, float]:
    """`followupd run` with poll = 1s: (VmRSS KiB after `passes` passes, CPU s per pass)."""
    home = config.parent
    config.write_text(config.read_text().replace('poll = "1h"', 'poll = "1s"'), encoding="utf-8")
    emulator.reset_counts()
    process = subprocess.Popen(
        [common.PYTHON, "-m", "followupd", "--config", str(config), "run"],
        env=common.env(home),
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: list[str] = []
    threading.Thread(target=lambda: errors.extend(process.stderr or []), daemon=True).start()
    try:
        common.wait_until(lambda: emulator.count("history.list") >= 2, 60, what="the daemon's second pass")
        cpu_at, passes_at = common.cpu_seconds(process.pid), emulator.count("history.list")
        common.wait_until(lambda: emulator.count("history.list") >= passes, 120, 0.05, "12 passes")
        rss, _ = common.rss_kib(process.pid)
        done = emulator.count("history.list")
        cpu = (common.cpu_seconds(process.pid) - cpu_at) / max(done - passes_at, 1)
    finally:
        process.terminate()  # SIGTERM to this one child, by its PID
        process.wait(30)
    if process.returncode != 0:
        raise RuntimeError(f"followupd run exited {process.returncode}: {''.join(errors)[-2000:]}")
    return rss, cpu


def daemon_rows(name: str, points: list[dict[str, Any]]) -> list[list[Any]]:
    first, last = points[0], points[-1]
    per_pass = (last["cpu_s"] - first["cpu_s"]) / (last["pass"] - first["pass"])
    wall = (last["wall_s"] - first["wall_s"]) / (last["pass"] - first["pass"])
    rows = []
    for point in points:
        rows.append(
            [
                name,
                point["pass"],
                round(point["rss_kib"] / 1024, 1),
                round(point["hwm_kib"] / 1024, 1),
                round(per_pass * 1000, 1) if point is last else "",
                round(wall * 1000, 1) if point is last else "",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    args = common.arguments(__doc__.splitlines()[0], argv)
    checkpoints = [12, 100] if args.quick else [12, 288, 576]
    out = []
    with common.workdir(args.keep, "footprint") as work:
        startup_table, figures = startup(work, 9 if args.quick else 21)
        import_table, heavy, total = imports(work)
        verdict = "none of them" if not heavy else "**" + ", ".join(heavy) + "**"
        out.append(
            common.section(
                "4a. Start-up",
                f"{startup_table}\n\n`python -X importtime -m followupd --help` imports {total * 1000:.0f} ms worth of modules "
                f"(import-time total, itself inflated by the measurement); of {', '.join(HEAVY)}: {verdict}. "
                f"Largest top-level imports:\n\n{import_table}",
            )
        )
        print(f"startup {figures}", file=sys.stderr)

        rows = []
        setups: list[tuple[str, Any]] = [("ICS + Maildir", lambda: ics_maildir_home(work))]
        emulator = common.start_emulator()
        try:
            setups.append(("Google Calendar + Gmail", lambda: google_home(work, emulator)))
            with dovecot() as server:
                if server is not None:
                    setups.append(("ICS + IMAP (Dovecot, IDLE)", lambda: imap_home(work, server.add_user())))
                for name, make in setups:
                    points = probe(make(), checkpoints)
                    rows += daemon_rows(name, points)
                    print(f"daemon {name}: {points}", file=sys.stderr)
                rss, cpu = real_daemon(work / "google" / "config.toml", emulator)
        finally:
            emulator.stop()
        out.append(
            common.section(
                "4b. Daemon memory and CPU per idle pass",
                f"{TRACKED} tracked interviews (upcoming); the ICS file also holds {OTHER_EVENTS} other events, the "
                "Maildir 1,000 old messages, Gmail 200. Passes requested back to back through `Daemon.wake()`; "
                "pass 12 = an hour at the default 5-minute poll, 288 = a day, 576 = two days. CPU and wall time per idle pass are "
                "averaged from pass 12 to the last.\n\n"
                + common.table(
                    ["set-up", "after pass", "RSS MiB", "peak RSS MiB", "CPU ms / idle pass", "wall ms / idle pass"],
                    rows,
                )
                + f'\n\nCross-check, the real `followupd run` process (Google set-up, `poll = "1s"`): '
                f"{rss / 1024:.1f} MiB RSS after 12 passes, {cpu * 1000:.1f} ms CPU per idle pass.",
            )
        )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
