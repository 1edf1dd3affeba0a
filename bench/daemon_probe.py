"""Run the real followupd Daemon in this process and report its footprint; a child of
bench/footprint.py, kept apart so that nothing but followupd is loaded here.

    python bench/daemon_probe.py CONFIG 12,100,1000

The Daemon (APScheduler, the pass thread, the engine and its backends) runs as
`followupd run` runs it; passes are requested one after the other through
`Daemon.wake()` (the push seam), each after the previous one finished, instead of
waiting 5 minutes for each. After the passes listed, one JSON line per checkpoint:
pass number, VmRSS and VmHWM (KiB), process CPU seconds (all threads) and wall time.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from followupd.config import load  # noqa: E402
from followupd.daemon import Daemon  # noqa: E402
from followupd.sdnotify import SystemdNotifier  # noqa: E402


class Counting(SystemdNotifier):
    """systemd's status line is sent once after every pass: count them."""

    def __init__(self) -> None:
        super().__init__({})
        self.passes = 0
        self.changed = threading.Condition()

    def _passed(self) -> bool:
        with self.changed:
            self.passes += 1
            self.changed.notify_all()
        return False

    def ready(self, status: str) -> bool:
        return self._passed()

    def status(self, status: str) -> bool:
        return self._passed()

    def wait_for(self, count: int, timeout: float = 120) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: self.passes >= count, timeout):
                raise TimeoutError(f"pass {count} did not finish within {timeout} s")


def memory() -> tuple[int, int]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            values[key] = int(value.split()[0])
    return values["VmRSS"], values["VmHWM"]


def main() -> int:
    config = load(Path(sys.argv[1]))
    checkpoints = sorted(int(n) for n in sys.argv[2].split(","))
    systemd = Counting()
    daemon = Daemon(config, systemd=systemd, handle_signals=False)
    result: dict[str, int] = {}
    runner = threading.Thread(target=lambda: result.update(rc=daemon.run()), name="daemon-main")
    started = time.monotonic()
    runner.start()
    try:
        systemd.wait_for(1)  # the start-up pass
        for n in range(2, checkpoints[-1] + 1):
            daemon.wake()
            systemd.wait_for(n)
            if n in checkpoints:
                rss, hwm = memory()
                line = {
                    "pass": n,
                    "rss_kib": rss,
                    "hwm_kib": hwm,
                    "cpu_s": time.process_time(),
                    "wall_s": time.monotonic() - started,
                    "threads": threading.active_count(),
                }
                print(json.dumps(line), flush=True)
    finally:
        daemon.stop()
        runner.join(30)
    return result.get("rc", 1)


if __name__ == "__main__":
    sys.exit(main())
