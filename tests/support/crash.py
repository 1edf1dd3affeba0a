"""Kill a pass with SIGKILL at chosen moments and check what the next pass leaves behind.

Each pass runs in a forked child (no interpreter start-up per kill, so hundreds of
kills take seconds). A profile hook counts Python call/return events in the child and
SIGKILLs it at the chosen one — anywhere in followupd, the libraries it calls, or at
the dangerous gap right after a mailbox write returns and before the store records it.
The code under test is not changed in any way.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from support.maildir_user import drafts

# `drafts_of(n, message_ids)`: how many drafts trial n's mailbox holds per Message-ID.
DraftCounter = Callable[[int, list[str]], dict[str, int]]

# Function names whose return is "the mailbox has written, the store does not know yet".
GAPS = ("create_draft", "delete_draft", "locate")


@dataclass(frozen=True)
class Kill:
    """Where to kill: at the n-th profile event, or on returning from a named function."""

    event: int | None = None
    after: str | None = None

    def __str__(self) -> str:
        return f"after {self.after}()" if self.after else f"at event {self.event}"


def _hook(kill: Kill | None, counter: list[int]) -> Callable:  # type: ignore[type-arg]
    def profile(frame, event, arg):  # type: ignore[no-untyped-def]
        if event not in ("call", "return"):
            return
        counter[0] += 1
        if kill is None:
            return
        if kill.event is not None and counter[0] >= kill.event:
            os.kill(os.getpid(), signal.SIGKILL)
        if (
            kill.after is not None
            and event == "return"
            and frame.f_code.co_name == kill.after
            and "mailboxes" in frame.f_code.co_filename
        ):
            os.kill(os.getpid(), signal.SIGKILL)

    return profile


def preload(*modules: str) -> None:
    """Import in the parent what a pass imports lazily, so children start warm and no
    kill point is spent inside an import."""
    import importlib

    import jinja2  # noqa: F401
    import recurring_ical_events  # noqa: F401

    for name in ("followupd.app", "followupd.calendars.ics", "followupd.compose", *modules):
        importlib.import_module(name)
    from followupd.people import registered_domain

    # The public-suffix list is read on first use: tens of thousands of profile events
    # that would take most kill points away from the pass itself.
    registered_domain("acme.io")


def run_pass(config_path: Path, now: datetime, kill: Kill | None = None) -> tuple[bool, int]:
    """Run one pass in a forked child; return (was it killed, profile events counted)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read)
            logging.disable(logging.CRITICAL)
            from followupd import config as config_module
            from followupd.app import opened
            from followupd.clock import FixedClock

            counter = [0]
            config = config_module.load(config_path)
            sys.setprofile(_hook(kill, counter))
            with opened(config, FixedClock(now)) as (_store, engine):
                engine.run_pass()
            sys.setprofile(None)
            os.write(write, json.dumps(counter[0]).encode())
        except BaseException:  # noqa: BLE001
            code = 3
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        output = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return True, 0
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"pass failed with status {status}"
    return False, json.loads(output or b"0")


@dataclass
class Tally:
    kills: int = 0
    gap_kills: int = 0
    trials: int = 0
    duplicates: int = 0
    losses: int = 0
    stuck: int = 0
    failures: list[str] = field(default_factory=list)


def check_store(state_dir: Path) -> dict[tuple[str, str], str]:
    db = sqlite3.connect(state_dir / "state.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {(u, s): st for u, s, st in db.execute("SELECT uid, step, state FROM followups")}
    finally:
        db.close()


def trials(
    *,
    seed: int,
    count: int,
    max_events: int,
    world: Callable[[int], tuple[Path, Path, datetime, list[str]]],
    drafts_of: DraftCounter,
    expected_ids: Callable[[int, Path], list[str]],
) -> Tally:
    """Run `count` kills. `world(n)` builds a fresh calendar and state for trial n and
    returns (config path, state dir, due time, interview uids); `drafts_of(n, message_ids)`
    counts drafts per Message-ID in trial n's mailbox; `expected_ids` gives the Message-IDs
    that must exist exactly once after recovery."""
    rng = random.Random(seed)
    tally = Tally()
    while tally.kills < count:
        n = tally.trials
        tally.trials += 1
        config, state, due, _uids = world(n)
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.35:
                kill = Kill(after=rng.choice(GAPS))
            else:
                kill = Kill(event=rng.randint(1, max_events))
            killed, _ = run_pass(config, due, kill)
            if killed:
                tally.kills += 1
                tally.gap_kills += kill.after is not None
        run_pass(config, due)  # the recovery pass, not killed
        states = check_store(state)
        ids = expected_ids(n, config)
        counts = drafts_of(n, ids)
        for mid in ids:
            if counts.get(mid, 0) > 1:
                tally.duplicates += 1
                tally.failures.append(f"seed {seed} trial {n}: {counts[mid]} drafts for {mid}")
            elif counts.get(mid, 0) == 0:
                tally.losses += 1
                tally.failures.append(f"seed {seed} trial {n}: no draft for {mid}")
        for key, st in states.items():
            if st == "drafting":
                tally.stuck += 1
                tally.failures.append(f"seed {seed} trial {n}: {key} stuck in drafting")
    return tally


def events_in_a_full_pass(world: Callable[[int], tuple[Path, Path, datetime, list[str]]]) -> int:
    """The profile events of one whole untouched pass (on a world of its own): the
    range kill points are drawn from."""
    config, _state, due, _ = world(10_000)
    killed, events = run_pass(config, due)
    assert not killed and events > 100
    return events


def kill_and_check(
    name: str,
    *,
    seed: int,
    count: int,
    world: Callable[[int], tuple[Path, Path, datetime, list[str]]],
    drafts_of: DraftCounter,
    expected_ids: Callable[[int, Path], list[str]],
) -> None:
    """Run `count` kills on one backend, print the tally and require a clean one."""
    tally = trials(
        seed=seed,
        count=count,
        max_events=events_in_a_full_pass(world),
        world=world,
        drafts_of=drafts_of,
        expected_ids=expected_ids,
    )
    print(f"\n{name}: {tally}")
    assert tally.failures == [], tally.failures[:5]
    assert tally.kills >= count and tally.gap_kills > 0


def _wanted(found: Iterable[str], wanted: list[str]) -> dict[str, int]:
    return dict(Counter(mid for mid in found if mid in wanted))


def maildir_drafts(maildir_of: Callable[[int], Path]) -> DraftCounter:
    """Counts the drafts in trial n's Maildir, `maildir_of(n)`."""
    return lambda n, wanted: _wanted((str(m["Message-ID"]) for _, m in drafts(maildir_of(n))), wanted)


def imap_drafts(accounts: Mapping[int, Any]) -> DraftCounter:
    """Counts the drafts of trial n's Dovecot user (an ImapAccount), undeleted ones only."""

    def count(n: int, wanted: list[str]) -> dict[str, int]:
        client = accounts[n].connect()
        try:
            client.select_folder("Drafts", readonly=True)
            found = {mid: len(client.search(["NOT", "DELETED", "HEADER", "Message-ID", mid])) for mid in wanted}
            return {mid: k for mid, k in found.items() if k}
        finally:
            accounts[n].close()

    return count


def gmail_drafts(accounts: Mapping[int, Any]) -> DraftCounter:
    """Counts the drafts of trial n's emulated Gmail account."""

    def count(n: int, wanted: list[str]) -> dict[str, int]:
        gmail = accounts[n]
        return _wanted((gmail.messages[stored].header("Message-ID") for stored in gmail.drafts.values()), wanted)

    return count
