"""Scale: a calendar of 10,000 events (500 interviews) and a Maildir INBOX of 100,000
messages.

    /tmp/venv/bin/python bench/scale.py [--quick]

Calendar: one ICS file, read through the real IcsSource (file read, prune, parse,
recurrence expansion, normalisation) by a fresh source each time, then the Detector
on every event in the window, then the pure planner on the interviews; then the
same through one Engine (calendar sync and plan with the SQLite store, an empty
Maildir) for a first and an idle pass. Three shapes of calendar (see SHAPES and
`calendar_file`): a calendar kept for years, the same with all 500 interviews in the
window followupd reads (the last 3 days and the next 60 days), and the worst case,
every event in that window. Median of 3 runs (1 with --quick).

Hostile calendars: the 10,000-event calendar with one runaway FREQ=SECONDLY series
(the user accepted it, or not), and a calendar of 1,000 recurring series; each read
in a fresh process (`--case NAME`), so its peak memory is its own.

Maildir: 100,000 INBOX messages over three years (file times set accordingly), a
first scan (the look-back reads only what arrived since the oldest tracked
interview), then incremental scans: nothing new, 5 new messages in new/, and the
user's client moving those 5 to cur/. Files opened are counted with an audit hook
(every `open` of a path in the Maildir); directory listings likewise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common

NOW = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)  # a Wednesday
EVENTS = 10_000
INTERVIEWS = 500
MESSAGES = 100_000


def timed(work: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """(median seconds, the last result)."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return common.median(times), result


# ---------------------------------------------------------------- calendar


SHAPES = {
    "history": "all spread over 3 years",
    "interviews-now": "interviews in the window, the rest over 3 years",
    "window": "all in the window",
}


def calendar_file(path: Path, shape: str, events: int, interviews: int) -> None:
    """`shape`: "history", every event (interviews too) spread over three years, two
    back and one ahead: a calendar kept for years; "interviews-now", the interviews
    all inside the window followupd reads (the last 3 days and the next 60), the
    rest over three years; "window", everything inside the window (the worst case)."""
    window_start, window_minutes = NOW - timedelta(days=3), 63 * 24 * 60
    years_start, years_minutes = NOW - timedelta(days=730), 1095 * 24 * 60
    others = events - interviews
    if shape == "history":  # one interview every 20th event, in time order
        items = [
            common.ics_interview(i // 20, when) if i % 20 == 0 else common.ics_other(i, when)
            for i in range(events)
            for when in [(years_start + timedelta(minutes=i * years_minutes // events)).replace(minute=0)]
        ]
    else:
        items = [
            common.ics_interview(
                i, (window_start + timedelta(minutes=i * window_minutes // interviews)).replace(minute=0)
            )
            for i in range(interviews)
        ]
        first, minutes = (years_start, years_minutes) if shape == "interviews-now" else (window_start, window_minutes)
        items += [common.ics_other(i, first + timedelta(minutes=i * minutes // others)) for i in range(others)]
    path.write_text(common.ics_calendar(items), encoding="utf-8")


def calendar_rows(work: Path, shape: str, runs: int, events: int, interviews: int) -> list[list[Any]]:
    from followupd.app import opened
    from followupd.calendars import TimeRange
    from followupd.calendars.ics import IcsSource
    from followupd.clock import FixedClock
    from followupd.detect import Detector
    from followupd.engine import LOOKAHEAD
    from followupd.policy.plan import Schedule, plan
    from followupd.store import InterviewRecord

    home = work / f"calendar-{shape}"
    home.mkdir()
    ics = home / "calendar.ics"
    calendar_file(ics, shape, events, interviews)
    mailbox = common.make_maildir(home / "Mail")
    config_path = common.write_config(home, f'kind = "ics"\npath = "{ics}"', f'kind = "maildir"\npath = "{mailbox}"')
    config = common.load_config(config_path)
    span = TimeRange(NOW - config.steps[0].before - timedelta(days=1), NOW + LOOKAHEAD)

    detector = Detector(config.me, config.detect)
    relevant = detector.mentions_keyword
    read_s, changes = timed(lambda: IcsSource(config, relevant=relevant).fetch(None, span), runs)
    detect_s, found = timed(lambda: [d.interview for d in map(detector.detect, changes.events) if d.interview], runs)
    records = [InterviewRecord(interview) for interview in found]
    schedule = Schedule(config.me.timezone, config.window.business_hours, config.window.weekdays)
    plan_s, decisions = timed(lambda: plan(records, {}, config.steps, schedule, NOW), runs)

    clock = FixedClock(NOW)
    with opened(config, clock) as (store, engine):
        started = time.perf_counter()
        first = engine.run_pass()
        first_s = time.perf_counter() - started
        assert not first.problems, first.problems
        tracked = len(store.interviews())
        idle = []
        for n in range(runs):
            clock.set(NOW + timedelta(minutes=5 * (n + 1)))
            started = time.perf_counter()
            engine.run_pass()
            idle.append(time.perf_counter() - started)
    label = f"{events:,} events, {SHAPES[shape]}"
    total = read_s + detect_s + plan_s
    return [
        [
            label,
            len(changes.events),
            len(found),
            len(decisions),
            common.ms(read_s),
            common.ms(detect_s),
            common.ms(plan_s),
            common.ms(total),
            common.ms(first_s),
            common.ms(common.median(idle)),
            tracked,
        ]
    ]


# ---------------------------------------------------------------- hostile calendars

HOSTILE = {  # {events} and {series} (a tenth of the events) are filled in
    "secondly-accepted": "{events:,} events + a FREQ=SECONDLY series the user accepted",
    "secondly-unaccepted": "{events:,} events + a FREQ=SECONDLY invitation not answered",
    "series-1000-meetings": "{series:,} weekly series begun over the last two years, one in 50 an interview",
    "series-1000": "{series:,} weekly series begun over the last two years, all interviews (worst case)",
}


def hostile_file(path: Path, case: str, events: int) -> None:
    from support.ics import vevent

    if case.startswith("secondly"):
        calendar_file(path, "history", events, events // 20)
        flood_start = NOW - timedelta(days=365)
        partstat = "ACCEPTED" if case == "secondly-accepted" else "NEEDS-ACTION"
        flood = vevent(
            "flood@bench",
            flood_start,
            flood_start + timedelta(minutes=30),
            "Interview: every second at Evil Corp",
            my_partstat=partstat,
            extra="RRULE:FREQ=SECONDLY",
        )
        text = path.read_text(encoding="utf-8").replace("END:VCALENDAR", flood + "\nEND:VCALENDAR")
        path.write_text(text, encoding="utf-8")
        return
    items = []
    for i in range(events // 10):
        first = (NOW - timedelta(days=730) + timedelta(hours=17 * i)).replace(minute=0)
        make = common.ics_interview if case == "series-1000" or i % 50 == 0 else common.ics_other
        items.append(make(i, first).replace("END:VEVENT", "RRULE:FREQ=WEEKLY\nEND:VEVENT"))
    path.write_text(common.ics_calendar(items), encoding="utf-8")


def hostile_case(case: str, events: int) -> dict[str, Any]:
    """One case, in this process: the read and a whole engine pass, and the peak RSS."""
    from followupd.app import opened
    from followupd.calendars import TimeRange
    from followupd.calendars.ics import IcsSource
    from followupd.clock import FixedClock
    from followupd.detect import Detector
    from followupd.engine import LOOKAHEAD

    work = Path(os.environ["FOLLOWUPD_BENCH_DIR"])
    ics = work / "calendar.ics"
    hostile_file(ics, case, events)
    mailbox = common.make_maildir(work / "Mail")
    config = common.load_config(
        common.write_config(work, f'kind = "ics"\npath = "{ics}"', f'kind = "maildir"\npath = "{mailbox}"')
    )
    span = TimeRange(NOW - config.steps[0].before - timedelta(days=1), NOW + LOOKAHEAD)
    started = time.perf_counter()
    changes = IcsSource(config, relevant=Detector(config.me, config.detect).mentions_keyword).fetch(None, span)
    read_s = time.perf_counter() - started
    clock = FixedClock(NOW)
    with opened(config, clock) as (store, engine):
        started = time.perf_counter()
        report = engine.run_pass()
        pass_s = time.perf_counter() - started
        tracked = len(store.interviews())
    return {
        "events": len(changes.events),
        "problems": len(changes.problems),
        "read_ms": common.ms(read_s),
        "pass_ms": common.ms(pass_s),
        "tracked": tracked,
        "peak_mib": round(common.rss_kib()[1] / 1024, 1),
        "pass_problems": len(report.problems),
    }


def hostile_rows(work: Path, events: int) -> list[list[Any]]:
    rows = []
    for case, label in HOSTILE.items():
        home = work / f"hostile-{case}"
        home.mkdir()
        result = subprocess.run(
            [sys.executable, __file__, "--case", case, "--events", str(events)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "FOLLOWUPD_BENCH_DIR": str(home), "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        found = json.loads(result.stdout)
        rows.append(
            [
                label,
                found["events"],
                found["tracked"],
                found["problems"],
                found["read_ms"],
                found["pass_ms"],
                found["peak_mib"],
            ]
        )
        print(f"hostile {case}: {found}", file=sys.stderr)
    return rows


# ---------------------------------------------------------------- Maildir


class Opens:
    """Counts `open` and `os.scandir` audit events for paths under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.opened = 0
        self.listed = 0
        self.active = False
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        if event == "open" and args and str(args[0]).startswith(self.root):
            self.opened += 1
        elif event == "os.scandir" and args and str(args[0]).startswith(self.root):
            self.listed += 1

    def measure(self, work: Callable[[], Any]) -> tuple[float, int, int, Any]:
        self.opened = self.listed = 0
        self.active = True
        try:
            started = time.perf_counter()
            result = work()
            seconds = time.perf_counter() - started
        finally:
            self.active = False
        return seconds, self.opened, self.listed, result


def fill_maildir(root: Path, count: int) -> None:
    """`count` messages in cur/, one every ~16 minutes over three years, file times to match."""
    first = NOW.timestamp() - 3 * 365 * 86400
    step = 3 * 365 * 86400 / count
    cur = root / "cur"
    for i in range(count):
        at = first + i * step
        path = cur / f"{int(at)}.M{i}P7.bench:2,S"
        path.write_bytes(
            common.mail(
                f"Sender {i % 500} <sender{i % 500}@example.net>",
                f"Message {i}",
                f"<msg{i}@example.net>",
                datetime.fromtimestamp(at, UTC),
            )
        )
        os.utime(path, (at, at))
    past = first + count * step - 3600
    os.utime(cur, (past, past))  # the directory last changed an hour ago, as in a settled mailbox


def maildir_rows(work: Path, count: int) -> list[list[Any]]:
    from followupd.mailboxes.maildir import MaildirMailbox

    home = work / "maildir"
    root = common.make_maildir(home / "Mail")
    started = time.perf_counter()
    fill_maildir(root, count)
    print(f"maildir: {count} messages written in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    config = common.load_config(
        common.write_config(
            home, f'kind = "ics"\npath = "{home / "calendar.ics"}"', f'kind = "maildir"\npath = "{root}"'
        )
    )
    mailbox = MaildirMailbox(config)
    opens = Opens(root)
    since = NOW - timedelta(days=60)  # the oldest tracked interview, say
    rows = []

    seconds, opened, listed, changes = opens.measure(lambda: mailbox.changes(None, since))
    rows.append(["first scan (look-back 60 days)", count, len(changes.messages), opened, listed, common.ms(seconds)])
    cursor = changes.cursor
    time.sleep(2.1)  # the scan trusts a directory's mtime only once it is older than its 2 s margin

    seconds, opened, listed, changes = opens.measure(lambda: mailbox.changes(cursor, since))
    rows.append(["incremental, nothing new", count, len(changes.messages), opened, listed, common.ms(seconds)])
    cursor = changes.cursor

    new = []
    for i in range(5):
        path = root / "new" / f"{int(time.time())}.M{i}P9.bench-new"
        path.write_bytes(
            common.mail(f"Recruiter <r{i}@acme.example>", f"Re: interview {i}", f"<new{i}@acme.example>", NOW)
        )
        new.append(path)
    seconds, opened, listed, changes = opens.measure(lambda: mailbox.changes(cursor, since))
    rows.append(
        ["incremental, 5 new messages in new/", count + 5, len(changes.messages), opened, listed, common.ms(seconds)]
    )
    cursor = changes.cursor
    time.sleep(2.1)

    for path in new:  # the user's mail client marks them seen: new/ → cur/ with flags
        path.rename(root / "cur" / f"{path.name}:2,S")
    seconds, opened, listed, changes = opens.measure(lambda: mailbox.changes(cursor, since))
    rows.append(
        [
            "incremental, the 5 moved to cur/ (read)",
            count + 5,
            len(changes.messages),
            opened,
            listed,
            common.ms(seconds),
        ]
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    if argv is None and "--case" in sys.argv:  # one hostile case, in its own process
        case, events = sys.argv[sys.argv.index("--case") + 1], int(sys.argv[sys.argv.index("--events") + 1])
        print(json.dumps(hostile_case(case, events)))
        return 0
    args = common.arguments(__doc__.splitlines()[0], argv)
    runs = 1 if args.quick else 3
    events, interviews = (2_000, 100) if args.quick else (EVENTS, INTERVIEWS)
    messages = 20_000 if args.quick else MESSAGES
    out = []
    with common.workdir(args.keep, "scale") as work:
        rows = []
        for shape in SHAPES:
            rows += calendar_rows(work, shape, runs, events, interviews)
            print(f"calendar {shape}: {rows[-1]}", file=sys.stderr)
        out.append(
            common.section(
                "5a. A large calendar",
                f"{interviews} interviews among {events:,} events in one ICS file. `read` = IcsSource.fetch (read, parse, "
                "expand, normalise the events overlapping the window), `detect` = Detector on each of those, "
                "`plan` = the planner on the interviews; `total` is their sum. `engine first` / `engine idle` = "
                "a whole Engine pass (calendar sync, store writes, plan; an empty Maildir): the first, and one "
                "where nothing changed.\n\n"
                + common.table(
                    [
                        "calendar",
                        "events in window",
                        "interviews",
                        "steps planned",
                        "read ms",
                        "detect ms",
                        "plan ms",
                        "total ms",
                        "engine first ms",
                        "engine idle ms",
                        "tracked",
                    ],
                    rows,
                ),
            )
        )
        hostile = hostile_rows(work, events)
        out.append(
            common.section(
                "5c. Hostile calendars",
                "Each case in a fresh process. `read` = IcsSource.fetch from scratch, `pass` = a whole first Engine "
                "pass (calendar sync, store writes, plan, an empty Maildir); `peak` = the process's peak RSS "
                "(VmHWM). `problems` = what the source reported it cut or skipped.\n\n"
                + common.table(
                    ["calendar", "events read", "tracked", "problems", "read ms", "pass ms", "peak MiB"], hostile
                ),
            )
        )
        maildir = maildir_rows(work, messages)
        out.append(
            common.section(
                "5b. A large Maildir",
                f"INBOX with {messages:,} messages (one every ~16 minutes over three years). `opened` counts files "
                "opened under the Maildir during the scan, `listed` the directory listings.\n\n"
                + common.table(
                    ["scan", "messages in INBOX", "new messages found", "files opened", "dirs listed", "ms"], maildir
                ),
            )
        )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
