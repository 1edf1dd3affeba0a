"""SIGKILL a pass at random moments and at the dangerous gaps; the next pass must leave
exactly one draft per due step, nothing stuck in `drafting`, and a store that opens.

FOLLOWUPD_CRASH_KILLS sets the number of kills per backend (default 200; the figures in
docs/reliability.md come from a larger count run by hand), FOLLOWUPD_CRASH_SEED the seed.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from followupd import config as config_module
from followupd.compose import message_id

from support.crash import DraftCounter, gmail_drafts, imap_drafts, kill_and_check, maildir_drafts, preload
from support.harness import make_maildir, write_config
from support.ics import calendar, vevent

KILLS = int(os.environ.get("FOLLOWUPD_CRASH_KILLS", "200"))
# The Gmail and IMAP runs talk to a server on every pass; CI runs fewer kills there
# (docs/reliability.md has the figures of a larger run by hand).
REMOTE_KILLS = int(os.environ.get("FOLLOWUPD_CRASH_KILLS_REMOTE", "100"))
SEED = int(os.environ.get("FOLLOWUPD_CRASH_SEED", "20261125"))
START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
INTERVIEWS = 4


def _world_factory(root: Path, mailbox_toml, extra: str = ""):  # type: ignore[no-untyped-def]
    """`mailbox_toml(n, home)` gives trial n's [mailbox] table."""

    def world(n: int) -> tuple[Path, Path, datetime, list[str]]:
        home = root / f"trial{n}"
        home.mkdir(parents=True)
        uids = [f"t{n}-i{k}@crash.test" for k in range(INTERVIEWS)]
        events = [
            vevent(uid, START, START + timedelta(hours=1), organizer=f"Jane <jane{k}@acme.io>")
            for k, uid in enumerate(uids)
        ]
        (home / "calendar.ics").write_text(calendar(*events))
        config = write_config(home, f'kind = "ics"\npath = "{home / "calendar.ics"}"', mailbox_toml(n, home), extra)
        return config, home / "state", DUE, uids

    return world


def _expected(n: int, config: Path) -> list[str]:
    me = config_module.load(config).me
    return [message_id(f"t{n}-i{k}@crash.test", "thank-you", me) for k in range(INTERVIEWS)]


def _kill_and_check(name: str, count: int, world, drafts_of: DraftCounter) -> None:  # type: ignore[no-untyped-def]
    kill_and_check(name, seed=SEED, count=count, world=world, drafts_of=drafts_of, expected_ids=_expected)


def test_sigkill_anywhere_on_maildir(tmp_path: Path) -> None:
    preload("followupd.mailboxes.maildir")

    def mailbox(n: int, home: Path) -> str:
        return f'kind = "maildir"\npath = "{make_maildir(home / "Mail")}"'

    worlds = tmp_path / "worlds"
    _kill_and_check(
        "maildir", KILLS, _world_factory(worlds, mailbox), maildir_drafts(lambda n: worlds / f"trial{n}" / "Mail")
    )


def test_sigkill_anywhere_on_gmail(tmp_path: Path) -> None:
    from followupd.google import credentials
    from followupd.secrets import SecretStore

    from support.google_emulator import Emulator
    from support.google_emulator.fixtures import ACCOUNT
    from support.google_emulator.gmail import Gmail

    preload("followupd.mailboxes.gmail", "followupd.google.api", "googleapiclient.discovery")
    with Emulator(ACCOUNT) as emulator:
        emulator.now = lambda: DUE
        google = f'\n[google]\naccount = "{ACCOUNT}"\nendpoint = "{emulator.url}"\ntimeout = "5s"\n[secrets]\nbackend = "file"\n'
        worlds = tmp_path / "worlds"
        accounts: dict[int, Gmail] = {}

        def mailbox(n: int, home: Path) -> str:
            # A fresh Gmail account per trial, so one trial's drafts never slow the next.
            with emulator.lock:
                emulator.gmail = accounts.setdefault(n, Gmail(ACCOUNT))
            credentials.save(
                SecretStore("file", home / "state"), ACCOUNT, credentials.Grant.from_info(emulator.grant())
            )
            return 'kind = "gmail"'

        world = _world_factory(worlds, mailbox, google)
        _kill_and_check("gmail", REMOTE_KILLS, world, gmail_drafts(accounts))


def test_sigkill_anywhere_on_imap(tmp_path: Path, dovecot) -> None:  # type: ignore[no-untyped-def]
    from followupd.secrets import SecretStore

    preload("followupd.mailboxes.imap", "imapclient")
    accounts: dict[int, object] = {}

    def mailbox(n: int, home: Path) -> str:
        account = accounts.setdefault(n, dovecot.add_user())  # a fresh Dovecot user per trial
        SecretStore("file", home / "state").set("imap", account.username, account.password)
        return account.mailbox_toml()

    world = _world_factory(tmp_path / "worlds", mailbox, '[secrets]\nbackend = "file"\n')

    _kill_and_check("imap", REMOTE_KILLS, world, imap_drafts(accounts))
