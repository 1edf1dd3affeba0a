"""Run the user's `[notify] command` when something needs their attention."""

from __future__ import annotations

import logging
import os
import subprocess

from followupd.report import Notice

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, command: str | None, timeout: float = 30) -> None:
        self.command = command
        self.timeout = timeout

    def __call__(self, notice: Notice) -> None:
        """Run the command with the facts in FOLLOWUPD_* variables; a failure is logged, never raised."""
        if not self.command:
            return
        env = dict(
            os.environ,
            FOLLOWUPD_EVENT=notice.event,
            FOLLOWUPD_MESSAGE=notice.message,
            FOLLOWUPD_UID=notice.uid,
            FOLLOWUPD_SUBJECT=notice.subject,
        )
        try:
            result = subprocess.run(
                ["/bin/sh", "-c", self.command],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("[notify] command failed: %s", exc)
            return
        if result.returncode != 0:
            err = result.stderr.decode(errors="replace").strip().splitlines()
            log.warning(
                "[notify] command exited with status %d%s",
                result.returncode,
                f": {err[-1][:200]}" if err else "",
            )
