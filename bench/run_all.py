"""Run every benchmark, one process each, and print one markdown report.

    /tmp/venv/bin/python bench/run_all.py [--quick] [--output FILE] [--only NAME ...]

Each script builds what it needs in a temp dir and removes it; nothing is written
elsewhere unless --output names a file for the report. The full run takes a few
minutes on a 2-core machine; --quick uses smaller sizes and fewer repetitions.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("api_cost", "latency", "footprint", "scale", "threads")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions")
    parser.add_argument("--output", metavar="FILE", help="also write the report to FILE")
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, help="run only these")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE))
    import common

    command = f"python bench/run_all.py{' --quick' if args.quick else ''}"
    parts = [
        "# followupd benchmarks\n",
        f"`{command}`, {time.strftime('%Y-%m-%d %H:%M %Z')}\n",
        common.machine_table() + "\n",
    ]
    failed = []
    for name in args.only or SCRIPTS:
        started = time.monotonic()
        print(f"running {name}…", file=sys.stderr, flush=True)
        result = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py"), *(["--quick"] if args.quick else [])],
            stdout=subprocess.PIPE,
            text=True,
            cwd=HERE.parent,
        )
        seconds = time.monotonic() - started
        print(f"{name}: exit {result.returncode} after {seconds:.0f} s", file=sys.stderr, flush=True)
        if result.returncode != 0:
            failed.append(name)
            parts.append(f"## {name}\n\nfailed (exit {result.returncode}); see stderr\n")
            continue
        parts.append(result.stdout.strip() + f"\n\n_{name}.py took {seconds:.0f} s._\n")
    parts.append(f"Load average (1, 5, 15 min) at the end: {common.machine()['load average (1, 5, 15 min)']}\n")
    report = "\n".join(parts)
    print(report)
    if args.output:
        Path(args.output).write_text(report, encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
