"""Wiring shared by the CLI, the daemon and the demo: config + store + backends → Engine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from followupd.calendars import open_calendar
from followupd.clock import Clock
from followupd.config import Config
from followupd.detect import Detector
from followupd.engine import Engine
from followupd.mailboxes import open_mailbox
from followupd.secrets import SecretStore
from followupd.store import PassLock, Store


def secret_store(config: Config) -> SecretStore:
    return SecretStore.for_config(config)


def build_engine(config: Config, store: Store, clock: Clock) -> Engine:
    secrets = secret_store(config)
    relevant = Detector(config.me, config.detect).mentions_keyword
    return Engine(
        config,
        store,
        clock,
        calendar=lambda: open_calendar(config, secrets, relevant),
        mailbox=lambda: open_mailbox(config, secrets),
    )


@contextlib.contextmanager
def opened(config: Config, clock: Clock) -> Iterator[tuple[Store, Engine]]:
    """The store (under the pass lock) and an engine for it; both closed on exit."""
    pass_lock = PassLock(config.state_dir)
    pass_lock.acquire()
    try:
        store = Store.open(config.state_dir, clock.now())
        engine = build_engine(config, store, clock)
        try:
            yield store, engine
        finally:
            engine.close()
            store.close()
    finally:
        pass_lock.release()
