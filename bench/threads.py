"""What threads cost: the look-up of the conversation a thank-you joins, per draft, on
Gmail (emulator, real googleapiclient) and IMAP (real Dovecot); and a whole first and
later Engine pass on a Maildir of 100,000 messages, whose conversations are indexed in
the store as they are scanned.

    .venv/bin/python bench/threads.py [--quick]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common
from api_cost import ImapCommands
from scale import NOW, Opens, fill_maildir

BEFORE = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
JANE = "jane.doe@acme.example"


def real(i: int, when: datetime) -> bytes:
    return common.mail(f"Jane Doe <{JANE}>", f"Interview {i}", f"<real{i}@acme.example>", when)


def invitation(i: int, when: datetime) -> bytes:
    return (
        f"From: Jane Doe <{JANE}>\r\nTo: {common.ME}\r\nSubject: Invitation: interview {i}\r\n"
        f"Message-ID: <inv{i}@acme.example>\r\nDate: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\ninvited\r\n--b\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\n"
        "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n--b--\r\n"
    ).encode()


CASES: list[tuple[str, Callable[[Callable[[bytes, datetime, str], Any]], None]]] = [
    ("no earlier mail with them", lambda deliver: None),
    (
        "the latest is a real message",
        lambda deliver: deliver(real(1, BEFORE - timedelta(days=3)), BEFORE - timedelta(days=3), "inbox"),
    ),
    (
        "an invitation after the real message",
        lambda deliver: (
            deliver(real(1, BEFORE - timedelta(days=3)), BEFORE - timedelta(days=3), "inbox"),
            deliver(invitation(1, BEFORE - timedelta(days=2)), BEFORE - timedelta(days=2), "inbox"),
        ),
    ),
    (
        "200 other messages, 20 with them",
        lambda deliver: [
            deliver(
                real(i, BEFORE - timedelta(hours=i + 1))
                if i % 10 == 0
                else common.mail(f"x{i}@other.example", f"m{i}", f"<o{i}@other.example>", BEFORE - timedelta(hours=i)),
                BEFORE - timedelta(hours=i + 1),
                "inbox",
            )
            for i in range(200)
        ],
    ),
]


def gmail_rows(work: Path) -> list[list[Any]]:
    from followupd.app import opened
    from followupd.clock import FixedClock

    rows = []
    for n, (label, fill) in enumerate(CASES):
        emulator = common.start_emulator()
        try:
            home = work / f"gmail-{n}"
            config_path = common.google_config(home, emulator)
            common.sign_in(home, config_path, emulator)
            fill(emulator.deliver)
            with opened(common.load_config(config_path), FixedClock(BEFORE)) as (_store, engine):
                mailbox = engine.ports.mailbox()
                emulator.reset_counts()
                hint = mailbox.conversation([JANE], BEFORE)
                methods, requests, units = common.api_counts(emulator)
            rows.append([label, common.describe(methods), requests, units, hint.in_reply_to if hint else "-"])
        finally:
            emulator.stop()
    return rows


def imap_rows(work: Path, server: Any, commands: ImapCommands) -> list[list[Any]]:
    from followupd.mailboxes.imap import ImapMailbox
    from followupd.secrets import SecretStore

    rows = []
    for n, (label, fill) in enumerate(CASES):
        account = server.add_user()
        client = account.connect()
        fill(lambda raw, at, folder, c=client: c.append("INBOX" if folder == "inbox" else "Sent", raw, msg_time=at))
        home = work / f"imap-{n}"
        home.mkdir()
        config = common.load_config(
            common.write_config(
                home, 'kind = "ics"\npath = "x.ics"', account.mailbox_toml(), '[secrets]\nbackend = "file"\n'
            )
        )
        secrets = SecretStore("file", home / "state")
        secrets.set("imap", account.username, account.password)
        mailbox = ImapMailbox(config, secrets)
        mailbox.changes(None, BEFORE)  # connected, folders known: as in a pass before drafting
        before = commands.count
        hint = mailbox.conversation([JANE], BEFORE)
        rows.append([label, commands.count - before, hint.in_reply_to if hint else "-"])
        mailbox.close()
    return rows


def maildir_rows(work: Path, count: int) -> list[list[Any]]:
    """Whole Engine passes (ICS calendar with one interview a week ago, Maildir INBOX of
    `count` messages over three years): the first, then later ones."""
    from followupd.app import opened
    from followupd.clock import FixedClock

    home = work / "maildir"
    root = common.make_maildir(home / "Mail")
    started = time.perf_counter()
    fill_maildir(root, count)
    print(f"maildir: {count} messages written in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    start = NOW - timedelta(days=1, hours=2)
    (home / "calendar.ics").write_text(common.ics_calendar([common.ics_interview(0, start)]), encoding="utf-8")
    config = common.load_config(
        common.write_config(
            home, f'kind = "ics"\npath = "{home / "calendar.ics"}"', f'kind = "maildir"\npath = "{root}"'
        )
    )
    opens = Opens(root / "cur")
    clock = FixedClock(NOW)
    rows = []
    with opened(config, clock) as (store, engine):
        seconds, opened_files, listed, report = opens.measure(engine.run_pass)
        assert not report.problems, report.problems
        indexed = store.db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
        rows.append(["first pass", count, opened_files, listed, indexed, common.ms(seconds)])
        for n in range(2):
            time.sleep(2.1)  # the scan trusts a directory's mtime once it is older than its 2 s margin
            clock.set(NOW + (n + 1) * common.POLL)
            seconds, opened_files, listed, report = opens.measure(engine.run_pass)
            rows.append([f"later pass {n + 1}, nothing new", count, opened_files, listed, "", common.ms(seconds)])
    return rows


def main(argv: list[str] | None = None) -> int:
    args = common.arguments(__doc__.splitlines()[0], argv)
    count = 20_000 if args.quick else 100_000
    out = []
    with common.workdir(args.keep, "threads") as work:
        commands = ImapCommands()
        gmail = gmail_rows(work)
        out.append(
            common.section(
                "6a. Thread look-up per draft: Gmail",
                "`Mailbox.conversation` for one thank-you, after the given mail; counted by the emulator.\n\n"
                + common.table(
                    ["mail before the interview", "requests by method", "requests", "units", "joins"], gmail
                ),
            )
        )
        with common.dovecot_if_installed("no IMAP figures") as server:
            if server is not None:
                imap = imap_rows(work, server, commands)
                out.append(
                    common.section(
                        "6b. Thread look-up per draft: IMAP",
                        "Tagged IMAP commands of `Mailbox.conversation` on Dovecot: per folder (INBOX, Sent) one "
                        "EXAMINE, one UID SORT (UID SEARCH without the SORT extension) and, when it found "
                        "anything, one FETCH of at most 10 header blocks.\n\n"
                        + common.table(["mail before the interview", "IMAP commands", "joins"], imap),
                    )
                )
        maildir = maildir_rows(work, count)
        out.append(
            common.section(
                "6c. A large Maildir, whole passes",
                f"INBOX with {count:,} messages over three years; `opened` = files opened in cur/, `indexed` = "
                "rows of the store's conversation index after the pass.\n\n"
                + common.table(["pass", "messages", "files opened", "dirs listed", "indexed", "ms"], maildir),
            )
        )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
