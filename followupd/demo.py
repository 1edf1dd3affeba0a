"""`followupd demo`: the whole pipeline on a sample calendar and a throwaway Maildir.

It runs the real engine, store, ICS reader and Maildir code; only the clock is moved
by hand, so two days and a reply fit into a second.
"""

from __future__ import annotations

import email
import email.policy
import logging
import shutil
import string
import tempfile
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from followupd import config as config_module
from followupd import status
from followupd.app import build_engine
from followupd.clock import FixedClock
from followupd.compose import render_for_reading
from followupd.store import Store

CONFIG = """\
[me]
name = "Ada Lovelace"
email = "ada@example.org"

[calendar]
kind = "ics"
path = "{root}/calendar.ics"

[mailbox]
kind = "maildir"
path = "{root}/Mail"

[state]
dir = "{root}/state"
"""

REPLY = """\
From: Jane Doe <jane.doe@acme.example>
To: Ada Lovelace <ada@example.org>
Subject: Re: {subject}
Date: {date}
Message-ID: <demo-reply@acme.example>

Hi Ada, thanks so much! The team enjoyed meeting you too. Could you do a final
call with our CTO next Tuesday?

Jane
"""


def _ical(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _heading(text: str) -> None:
    print(f"\n── {text} " + "─" * max(3, 72 - len(text)))


def build(root: Path, now: datetime) -> Path:
    """Write the sample calendar, an empty Maildir and a config under `root`."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    times = {
        "stamp": _ical(now),
        "acme_start": _ical(hour - timedelta(hours=3)),
        "acme_end": _ical(hour - timedelta(hours=2)),
        "globex_start": _ical(hour - timedelta(hours=5)),
        "globex_end": _ical(hour - timedelta(hours=4, minutes=30)),
        "stranger_start": _ical(hour - timedelta(hours=6)),
        "stranger_end": _ical(hour - timedelta(hours=5)),
        "standup_start": _ical(hour - timedelta(days=3, hours=1)),
        "standup_end": _ical(hour - timedelta(days=3, minutes=45)),
    }
    template = resources.files("followupd").joinpath("data/demo.ics").read_text(encoding="utf-8")
    (root / "calendar.ics").write_text(string.Template(template).substitute(times), encoding="utf-8")
    for folder in (root / "Mail", root / "Mail" / ".Drafts", root / "Mail" / ".Sent"):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
    path = root / "config.toml"
    path.write_text(CONFIG.format(root=root.as_posix()), encoding="utf-8")
    return path


def run_demo(keep: Path | None = None) -> int:
    root = Path(tempfile.mkdtemp(prefix="followupd-demo-")) if keep is None else keep
    root.mkdir(parents=True, exist_ok=True)
    try:
        _run(root)
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def _run(root: Path) -> None:
    # The status tables tell the story; the engine's own log lines would repeat it.
    logging.getLogger("followupd").setLevel(logging.ERROR)
    clock = FixedClock(datetime.now(UTC))
    config = config_module.load(build(root, clock.now()))
    zone = config.me.timezone
    mail = root / "Mail"
    store = Store.open(config.state_dir, clock.now())
    engine = build_engine(config, store, clock)

    def at(moment: datetime, text: str) -> None:
        clock.set(moment)
        _heading(f"{moment.astimezone(zone):%a %d %b %H:%M} — {text}")
        engine.run_pass()
        print(status.table(store, zone, moment))

    print(f"followupd demo in {root}")
    print("A sample calendar with four entries: an on-site interview at Acme that ended two hours")
    print("ago, a phone screen with no address to write to, a stranger's invitation you never")
    print("accepted, and a daily stand-up. The mailbox is an empty Maildir. Nothing is sent, ever.")
    try:
        at(clock.now(), "first pass: interviews found, follow-ups planned")
        acme = store.followup("demo-acme-onsite@followupd.example", "thank-you")
        assert acme is not None and acme.due_at is not None

        at(max(acme.due_at, clock.now()), "the thank-you is due: a draft appears in Drafts")
        drafts = sorted((mail / ".Drafts" / "cur").iterdir())
        _heading(f"the draft, as your mail client shows it ({drafts[0].relative_to(root)})")
        with drafts[0].open("rb") as handle:
            draft = email.message_from_binary_file(handle, policy=email.policy.default)
        print(render_for_reading(draft))

        sent_at = clock.now() + timedelta(minutes=40)
        target = mail / ".Sent" / "cur" / (drafts[0].name.split(":")[0] + ":2,S")
        drafts[0].rename(target)  # what a mail client does when you press Send
        _set_mtime(target, sent_at)
        at(sent_at + timedelta(minutes=5), "you sent it from your mail client; the check-in is planned")

        reply_at = sent_at + timedelta(days=2)
        reply = REPLY.format(subject=draft["Subject"], date=email.utils.format_datetime(reply_at))
        inbox = mail / "new" / "1700000000.demo-reply.acme"
        inbox.write_text(reply, encoding="utf-8")
        _set_mtime(inbox, reply_at)
        at(reply_at + timedelta(minutes=5), "Jane replied: the sequence stops, no check-in")
    finally:
        engine.close()
        store.close()
    print("\nThat is the whole loop. To use it for real: `followupd init`, edit the config, `followupd check`.")


def _set_mtime(path: Path, at: datetime) -> None:
    import os

    os.utime(path, (at.timestamp(), at.timestamp()))
