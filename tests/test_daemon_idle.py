"""A reply appended to INBOX on a real Dovecot stops the sequence through IMAP IDLE,
long before the (one hour) poll would have run another pass."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from followupd.secrets import SecretStore

from support.daemon import DaemonProcess
from support.harness import Cli, round_the_clock, write_config
from support.ics import calendar, vevent
from support.mailbox_contract import raw_mail
from support.servers import Dovecot, ImapAccount


def _drafted_and_idling(
    home: Path,
    account: ImapAccount,
    uid: str,
    start: Callable[..., DaemonProcess],  # noqa: F811
    *args: str,
) -> tuple[Cli, DaemonProcess]:
    """`followupd run` on an interview that ended a minute ago, its thank-you due at once
    (the poll an hour away), once its draft is made and its mailbox is IDLEing."""
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    (home / "calendar.ics").write_text(
        calendar(vevent(uid, end - timedelta(hours=1), end, organizer="Jane Doe <jane.doe@acme.io>"))
    )
    config = write_config(
        home,
        f'kind = "ics"\npath = "{home / "calendar.ics"}"',
        account.mailbox_toml(),
        round_the_clock("1s", "1h") + '\n[secrets]\nbackend = "file"\n',
    )
    SecretStore("file", home / "state").set("imap", account.username, account.password)
    cli = Cli(home, config)
    daemon = start(cli, *args)
    daemon.wait_for(r"thank-you draft created")
    daemon.wait_for(r"pushes new mail")
    return cli, daemon


def test_reply_through_idle_stops_the_sequence(
    home: Path,
    imap_account: ImapAccount,
    start: Callable[..., DaemonProcess],  # noqa: F811
) -> None:
    cli, daemon = _drafted_and_idling(home, imap_account, "idle-1@test", start, "-v")

    client = imap_account.connect()
    client.append("INBOX", raw_mail(sender="Jane Doe <jane.doe@acme.io>", subject="Re: Thank you"))
    # The poll is an hour away and no due job is left: only the push can run this pass.
    daemon.wait_for(r"pass \(new mail\)[\s\S]*reply from jane\.doe@acme\.io", timeout=20)
    assert daemon.stop() == 0
    assert cli.step("idle-1@test")["state"] == "replied"
    assert cli.step("idle-1@test", "check-in")["state"] == "replied"


def test_dovecot_restart_while_idling(
    home: Path,
    own_dovecot: Dovecot,
    start: Callable[..., DaemonProcess],  # noqa: F811
) -> None:
    """The server goes away under the IDLE connection and comes back: the daemon stays
    up, says so once, reconnects by itself and still sees the reply."""
    account = own_dovecot.add_user()
    cli, daemon = _drafted_and_idling(home, account, "idle-2@test", start)

    own_dovecot.stop()
    daemon.wait_for(r"IDLE on .* stopped", timeout=40)
    own_dovecot.start()
    daemon.wait_for(r"IDLE on .* works again", timeout=30)
    assert daemon.proc.poll() is None
    assert daemon.text.count("IDLE on") <= 3  # stopped, works again: said once each

    account.connect().append("INBOX", raw_mail(sender="Jane Doe <jane.doe@acme.io>", subject="Re: Thank you"))
    daemon.wait_for(r"reply from jane\.doe@acme\.io", timeout=20)
    assert daemon.stop() == 0
    assert cli.step("idle-2@test")["state"] == "replied"
