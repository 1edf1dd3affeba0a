"""`followupd run` as a background process whose stderr a test can wait on."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from support.harness import Cli


class DaemonProcess:
    """`followupd run` in the background, its stderr in a file we can wait on."""

    def __init__(self, cli: Cli, *args: str, env: dict[str, str] | None = None) -> None:
        self.log = cli.home / f"daemon-{time.monotonic_ns()}.log"
        with self.log.open("w") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "followupd", "--config", str(cli.config), *args, "run"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**cli.env(), **(env or {})},
                cwd=cli.home,
            )

    @property
    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, pattern: str, timeout: float = 15) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.text)
            if match:
                return match
            if self.proc.poll() is not None:
                raise AssertionError(f"followupd exited {self.proc.returncode} before {pattern!r}:\n{self.text}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} within {timeout}s:\n{self.text}")
            time.sleep(0.05)

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"followupd exited before {what}:\n{self.text}"
            assert time.monotonic() < deadline, f"no {what} within {timeout}s:\n{self.text}"
            time.sleep(0.05)

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 10) -> int:
        self.send(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
