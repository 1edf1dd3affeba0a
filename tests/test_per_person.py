"""`[[steps]] per_person = true`: one draft per recipient, each greeting that person
alone, each with its own Message-ID and its own exactly-once guarantee, on Maildir,
IMAP (Dovecot) and Gmail (the emulator). The panel is shaped like a Greenhouse panel
invitation: a recruiter organises, two interviewers attend, a room is booked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from followupd.compose import message_id
from followupd.config import Me
from followupd.secrets import SecretStore

from support.crash import gmail_drafts, imap_drafts, kill_and_check, maildir_drafts, preload
from support.google_emulator.fixtures import ACCOUNT, emulator, gevent, google_config, write_grant  # noqa: F401
from support.harness import Cli, make_maildir, write_config
from support.ics import calendar, vevent
from support.maildir_user import deliver, drafts, send

START = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
DUE = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
UID = "panel-1@acme.io"
GOOGLE_UID = "panel1"
ME = Me(name="Ada Lovelace", email="ada@example.org")
PEOPLE = ["jane.doe@acme.io", "tom.baker@acme.io", "priya.shah@acme.io"]
# The IMAP and Gmail kill runs talk to a server on every pass: fewer kills than Maildir's.
REMOTE_KILLS = 30
STEPS = """
[[steps]]
name = "thank-you"
per_person = true

[[steps]]
name = "check-in"
after = "7d"
before = "9d"
"""


def panel() -> str:
    return vevent(
        UID,
        START,
        END,
        "Panel interview: Backend Engineer at Acme",
        organizer="Jane Doe <jane.doe@acme.io>",
        attendees=[
            "Tom Baker <tom.baker@acme.io>",
            "Priya Shah <priya.shah@acme.io>",
            "Room 4 <room4@acme.io>;CUTYPE=ROOM",
        ],
    )


def google_panel() -> dict:
    """The panel as Google Calendar gives it: its id is GOOGLE_UID."""
    return gevent(GOOGLE_UID, "Panel interview: Backend Engineer at Acme", START, others=tuple(PEOPLE))


def ics_world(home: Path, mailbox: str, extra: str = "") -> Cli:
    (home / "calendar.ics").write_text(calendar(panel()), encoding="utf-8")
    return Cli(home, write_config(home, f'kind = "ics"\npath = "{home / "calendar.ics"}"', mailbox, STEPS + extra))


def thank_yous(cli: Cli) -> dict[str, dict]:
    return {r["person"]: r for r in cli.status() if r["step"] == "thank-you"}


def ids(uid: str = UID) -> dict[str, str]:
    return {p: message_id(uid, "thank-you", ME, p) for p in PEOPLE}


def test_message_ids_differ_per_person_and_keep_the_old_ones() -> None:
    assert len(set(ids().values())) == 3
    assert message_id(UID, "thank-you", ME) == message_id(UID, "thank-you", ME, None)


def test_one_draft_per_person_greeting_them_alone(home: Path) -> None:
    maildir = make_maildir(home / "Mail")
    cli = ics_world(home, f'kind = "maildir"\npath = "{maildir}"')
    cli.run((END + timedelta(minutes=5)).isoformat())
    rows = thank_yous(cli)
    assert sorted(rows) == sorted(PEOPLE) and {r["state"] for r in rows.values()} == {"planned"}
    assert [r["person"] for r in cli.status() if r["step"] == "check-in"] == [None]
    cli.run(DUE.isoformat())
    made = {str(m["To"]): m for _, m in drafts(maildir)}
    assert sorted(made) == [
        "Jane Doe <jane.doe@acme.io>",
        "Priya Shah <priya.shah@acme.io>",
        "Tom Baker <tom.baker@acme.io>",
    ]
    for to, message in made.items():
        first = to.split()[0]
        assert message.get_body(("plain",)).get_content().startswith(f"Hi {first},")
    assert {str(m["Message-ID"]) for m in made.values()} == set(ids().values())
    table = cli("status").stdout
    assert all(p in table for p in PEOPLE) and "planned (after a thank-you is sent)" in table
    shown = cli("preview", "panel").stdout  # each person's draft, as the pass wrote it
    assert shown.count("\nHi ") == 3 and "Hi Tom,\n" in shown and "thank-you to tom.baker@acme.io for" in shown
    assert {line.split(": ", 1)[1] for line in shown.splitlines() if line.startswith("Message-ID:")} == set(
        ids().values()
    )
    one = cli("preview", "panel", "--person", "priya.shah@acme.io").stdout
    assert one.count("Message-ID:") == 1 and "Hi Priya," in one
    verdict = cli("explain", "panel", "--now", DUE.isoformat()).stdout.splitlines()[-1]
    assert "thank-you to tom.baker@acme.io drafted" in verdict and "/" not in verdict
    cli.run((DUE + timedelta(hours=1)).isoformat())  # no second draft for anyone
    assert len(drafts(maildir)) == 3
    # Lost state: the drafts are found again by their Message-IDs, none is made twice.
    for path in (home / "state").iterdir():
        path.unlink()
    cli.run(DUE.isoformat())
    assert len(drafts(maildir)) == 3
    assert {r["state"] for r in thank_yous(cli).values()} == {"drafted"}


def test_a_reply_stops_the_whole_sequence_and_the_check_in_follows_the_first_sent(home: Path) -> None:
    maildir = make_maildir(home / "Mail")
    cli = ics_world(home, f'kind = "maildir"\npath = "{maildir}"')
    cli.run(DUE.isoformat())
    by_to = {str(m["To"]): p for p, m in drafts(maildir)}
    send(maildir, by_to["Tom Baker <tom.baker@acme.io>"], DUE + timedelta(minutes=10))
    cli.run((DUE + timedelta(minutes=30)).isoformat())
    rows = thank_yous(cli)
    assert rows["tom.baker@acme.io"]["state"] == "sent"
    checkin = [r for r in cli.status() if r["step"] == "check-in"][0]
    assert checkin["due_at"] is not None and checkin["due_at"] >= (DUE + timedelta(days=7)).isoformat()
    reply = (
        b"From: Priya Shah <priya.shah@acme.io>\r\nTo: ada@example.org\r\nSubject: Re: Thank you\r\n"
        b"Date: Thu, 05 Nov 2026 17:00:00 +0000\r\nMessage-ID: <r1@acme.io>\r\n\r\nThanks Ada!\r\n"
    )
    deliver(maildir, reply, DUE + timedelta(hours=2))
    cli.run((DUE + timedelta(hours=3)).isoformat())
    states = {(r["step"], r["person"]): r["state"] for r in cli.status()}
    assert states[("thank-you", "tom.baker@acme.io")] == "sent"
    assert states[("check-in", None)] == "replied"
    # untouched drafts of the others are removed (on_reply = delete-untouched)
    assert states[("thank-you", "jane.doe@acme.io")] == states[("thank-you", "priya.shah@acme.io")] == "replied"
    assert len(drafts(maildir)) == 0


def test_sigkill_per_person_exactly_once_on_maildir(tmp_path: Path) -> None:
    preload("followupd.mailboxes.maildir")
    root = tmp_path / "worlds"

    def world(n: int):  # type: ignore[no-untyped-def]
        home = root / f"trial{n}"
        home.mkdir(parents=True)
        cli = ics_world(home, f'kind = "maildir"\npath = "{make_maildir(home / "Mail")}"')
        return cli.config, home / "state", DUE, [UID]

    kill_and_check(
        "per-person maildir",
        seed=12,
        count=40,
        world=world,
        drafts_of=maildir_drafts(lambda n: root / f"trial{n}" / "Mail"),
        expected_ids=lambda n, config: list(ids().values()),
    )


def test_per_person_on_imap(home: Path, imap_account) -> None:  # type: ignore[no-untyped-def]
    SecretStore("file", home / "state").set("imap", imap_account.username, imap_account.password)
    cli = ics_world(home, imap_account.mailbox_toml(), '\n[secrets]\nbackend = "file"\n')
    cli.run(DUE.isoformat())
    cli.run((DUE + timedelta(minutes=5)).isoformat())
    client = imap_account.connect()
    try:
        client.select_folder("Drafts", readonly=True)
        found = {mid: len(client.search(["NOT", "DELETED", "HEADER", "Message-ID", mid])) for mid in ids().values()}
    finally:
        imap_account.close()
    assert found == {mid: 1 for mid in ids().values()}
    for path in (home / "state").glob("state.sqlite3*"):
        path.unlink()  # lost state: found again, not made again
    cli.run((DUE + timedelta(minutes=10)).isoformat())
    client = imap_account.connect()
    try:
        client.select_folder("Drafts", readonly=True)
        assert len(client.search(["NOT", "DELETED"])) == 3
    finally:
        imap_account.close()


def test_per_person_on_gmail(home: Path, emulator) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    cli = Cli(home, google_config(home, emulator, extra=STEPS))
    cli("auth", "google", "--import", str(write_grant(home / "authorized_user.json", emulator.grant())))
    emulator.put_event(google_panel())
    for at in (DUE, DUE + timedelta(minutes=5)):
        emulator.now = lambda at=at: at
        cli.run(at.isoformat())
    made = sorted(m.header("To") for _, m in emulator.drafts())
    assert len(made) == 3 and all("," not in to for to in made)
    assert {m.header("Message-ID") for _, m in emulator.drafts()} == set(ids(GOOGLE_UID).values())
    assert sorted(r["person"] for r in cli.status() if r["step"] == "thank-you") == sorted(PEOPLE)


def test_sigkill_per_person_exactly_once_on_imap(tmp_path: Path, dovecot) -> None:  # type: ignore[no-untyped-def]
    from support.servers import ImapAccount

    preload("followupd.mailboxes.imap", "imapclient")
    root = tmp_path / "worlds"
    accounts: dict[int, ImapAccount] = {}

    def world(n: int):  # type: ignore[no-untyped-def]
        home = root / f"trial{n}"
        home.mkdir(parents=True)
        account = accounts.setdefault(n, dovecot.add_user())  # a fresh Dovecot user per trial
        SecretStore("file", home / "state").set("imap", account.username, account.password)
        cli = ics_world(home, account.mailbox_toml(), '\n[secrets]\nbackend = "file"\n')
        return cli.config, home / "state", DUE, [UID]

    kill_and_check(
        "per-person imap",
        seed=13,
        count=REMOTE_KILLS,
        world=world,
        drafts_of=imap_drafts(accounts),
        expected_ids=lambda n, config: list(ids().values()),
    )


def test_sigkill_per_person_exactly_once_on_gmail(tmp_path: Path, emulator) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from followupd.google import credentials

    from support.google_emulator.gmail import Gmail

    preload("followupd.mailboxes.gmail", "followupd.calendars.google", "googleapiclient.discovery")
    emulator.now = lambda: DUE
    emulator.put_event(google_panel())
    root = tmp_path / "worlds"
    accounts: dict[int, Gmail] = {}

    def world(n: int):  # type: ignore[no-untyped-def]
        home = root / f"trial{n}"
        home.mkdir(parents=True)
        with emulator.lock:  # a fresh Gmail account per trial, on the one calendar
            emulator.gmail = accounts.setdefault(n, Gmail(ACCOUNT))
        config = google_config(home, emulator, extra=STEPS)
        credentials.save(SecretStore("file", home / "state"), ACCOUNT, credentials.Grant.from_info(emulator.grant()))
        return config, home / "state", DUE, [GOOGLE_UID]

    kill_and_check(
        "per-person gmail",
        seed=14,
        count=REMOTE_KILLS,
        world=world,
        drafts_of=gmail_drafts(accounts),
        expected_ids=lambda n, config: list(ids(GOOGLE_UID).values()),
    )
