"""`followupd run`: passes on a timer until stopped."""

from __future__ import annotations

import logging
import time

from followupd.config import Config

log = logging.getLogger(__name__)


def run_daemon(config: Config, config_arg: str | None) -> int:
    from followupd.app import opened
    from followupd.clock import SystemClock
    from followupd.notify import Notifier

    clock = SystemClock()
    notify = Notifier(config.notify.command)
    log.info("followupd started; a pass every %s", config.daemon.poll)
    while True:
        with opened(config, clock) as (_store, engine):
            for notice in engine.run_pass().notices:
                notify(notice)
        time.sleep(config.daemon.poll.total_seconds())
