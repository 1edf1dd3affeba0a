"""The IMAP mailbox against a real Dovecot: the shared contract, then IMAP specifics."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from followupd.errors import AuthError, BackendError, TransientError
from followupd.mailboxes.imap import part_types
from followupd.model import DraftState
from followupd.policy.replies import not_a_reply

from support.harness import need
from support.imap_mailbox import ImapHarness, make_mailbox
from support.mailbox_contract import T0, MailboxContract, draft, raw_mail
from support.servers import ImapAccount, free_port


@pytest.fixture
def harness(imap_account: ImapAccount, tmp_path: Path) -> Any:
    h = ImapHarness(imap_account, tmp_path / "home")
    yield h
    h.close()


class TestImapMailbox(MailboxContract):
    """The contract, on Dovecot (the `harness` fixture above)."""


class TestMinimalServer(MailboxContract):
    """The contract again on a server announcing nothing but IMAP4rev1 (no UIDPLUS,
    IDLE, SPECIAL-USE or NAMESPACE), so every fallback path is exercised."""

    @pytest.fixture
    def harness(self, dovecot: Any, tmp_path: Path) -> Any:
        h = ImapHarness(dovecot.add_user(capability="IMAP4rev1"), tmp_path / "home")
        yield h
        h.close()


# ---------------------------------------------------------------- drafts


def test_draft_is_appended_to_the_special_use_folder_flagged_draft(harness: ImapHarness) -> None:
    ref = harness.mailbox.create_draft(draft())
    uidvalidity, uid = (int(x) for x in ref.key.split(":"))
    harness.client.select_folder("Drafts", readonly=True)
    assert harness.client.folder_status("Drafts", ["UIDVALIDITY"])[b"UIDVALIDITY"] == uidvalidity
    data = harness.client.fetch([uid], ["FLAGS", "INTERNALDATE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])[uid]
    assert set(data[b"FLAGS"]) - {b"\\Recent"} == {b"\\Draft", b"\\Seen"}
    assert b"<followupd.contract1@example.org>" in data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]
    # INTERNALDATE is the draft's Date header (the injected clock's "now"), not the server's.
    assert data[b"INTERNALDATE"].date() == datetime(2026, 11, 2).date()


def test_a_draft_marked_deleted_but_not_expunged_is_gone(harness: ImapHarness) -> None:
    ref = harness.mailbox.create_draft(draft())
    harness.delete_draft(ref.message_id, expunge=False)
    assert harness.mailbox.draft_state(ref) == DraftState.GONE
    assert harness.mailbox.locate(ref.message_id) is None


def test_edit_saved_as_new_message_without_expunge_is_edited(harness: ImapHarness) -> None:
    ref = harness.mailbox.create_draft(draft())
    harness.edit_draft(ref.message_id, "Hi Jane,\n\nMy own words.\n\nAda\n", expunge=False)
    assert harness.mailbox.draft_state(ref) == DraftState.EDITED


def test_delete_draft_expunges_only_our_message(harness: ImapHarness) -> None:
    ref = harness.mailbox.create_draft(draft(1))
    harness.client.append("Drafts", raw_mail(message_id="<mine@example.org>"), flags=[b"\\Draft"])
    harness.client.select_folder("Drafts")
    (mine,) = harness.client.search(["HEADER", "Message-ID", "<mine@example.org>"])
    harness.client.add_flags([mine], [b"\\Deleted"])  # the user's choice, for their client to expunge
    harness.mailbox.delete_draft(ref)
    assert harness.mailbox.draft_state(ref) == DraftState.GONE
    harness.client.select_folder("Drafts", readonly=True)
    assert harness.client.search(["ALL"]) == [mine]


def test_delete_draft_leaves_a_draft_edited_meanwhile(harness: ImapHarness) -> None:
    ref = harness.mailbox.create_draft(draft())
    harness.edit_draft(ref.message_id, "Hi Jane,\n\nMy own words.\n\nAda\n")
    harness.mailbox.delete_draft(ref)
    assert harness.draft_count() == 1


def test_missing_drafts_folder_is_created(harness: ImapHarness, imap_account: ImapAccount, tmp_path: Path) -> None:
    mailbox = make_mailbox(imap_account, tmp_path / "other", drafts="Entwürfe")
    try:
        ref = mailbox.create_draft(draft())
        names = [name for _, _, name in harness.client.list_folders()]
        assert "Entwürfe" in names
        harness.client.select_folder("Entwürfe", readonly=True)
        assert len(harness.client.search(["ALL"])) == 1
        assert mailbox.draft_state(ref) == DraftState.UNTOUCHED
    finally:
        mailbox.close()


def test_a_configured_sent_folder_that_does_not_exist_is_a_clear_error(
    imap_account: ImapAccount, tmp_path: Path
) -> None:
    mailbox = make_mailbox(imap_account, tmp_path / "home", sent="Sent Stuff")
    with pytest.raises(BackendError, match=r"no folder 'Sent Stuff'.*\[mailbox\] sent"):
        mailbox.changes(None, T0)
    mailbox.close()


# ---------------------------------------------------------------- reading


def test_the_scan_never_marks_mail_read(harness: ImapHarness) -> None:
    harness.deliver(raw_mail(message_id="<a@acme.io>"), T0 + timedelta(hours=1))
    cursor = harness.mailbox.changes(None, T0).cursor
    harness.deliver(raw_mail(message_id="<b@acme.io>"), T0 + timedelta(hours=2))
    assert len(harness.mailbox.changes(cursor, T0).messages) == 1
    flags = harness.flags("INBOX")
    assert len(flags) == 2 and not any(b"\\Seen" in f for f in flags)


def test_uid_range_does_not_repeat_the_last_message(harness: ImapHarness) -> None:
    # After a message is expunged, "UID n:*" still matches the newest message (UID < n).
    harness.deliver(raw_mail(message_id="<a@acme.io>"), T0 + timedelta(hours=1))
    cursor = harness.mailbox.changes(None, T0).cursor
    harness.deliver(raw_mail(message_id="<gone@acme.io>"), T0 + timedelta(hours=2))
    harness.client.select_folder("INBOX")
    (gone,) = harness.client.search(["HEADER", "Message-ID", "<gone@acme.io>"])
    harness.client.add_flags([gone], [b"\\Deleted"])
    harness.client.uid_expunge([gone])
    assert harness.mailbox.changes(cursor, T0).messages == []


def test_changed_uidvalidity_rescans_from_since(harness: ImapHarness) -> None:
    harness.deliver(raw_mail(message_id="<old@acme.io>"), T0 - timedelta(days=5))
    harness.deliver(raw_mail(message_id="<a@acme.io>"), T0 + timedelta(hours=1))
    cursor = harness.mailbox.changes(None, T0).cursor
    harness.mailbox.close()
    harness.account.set_uidvalidity("INBOX", 4242)
    harness.deliver(raw_mail(message_id="<b@acme.io>"), T0 + timedelta(hours=2))
    changes = harness.mailbox.changes(cursor, T0)
    assert sorted(m.message_id for m in changes.messages) == ["<a@acme.io>", "<b@acme.io>"]
    assert harness.mailbox.changes(changes.cursor, T0).messages == []


def test_rsvps_and_bounces_are_recognised_from_bodystructure(harness: ImapHarness) -> None:
    rsvp = (
        b"From: Jane Doe <jane.doe@acme.io>\r\nTo: ada@example.org\r\nSubject: Re: Interview\r\n"
        b"Message-ID: <rsvp@acme.io>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain\r\n\r\nJane has accepted.\r\n"
        b"--b1\r\nContent-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n"
        b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n--b1--\r\n"
    )
    bounce = (
        b"From: Mail System <postmaster@acme.io>\r\nTo: ada@example.org\r\nSubject: Message not delivered\r\n"
        b"Message-ID: <bounce@acme.io>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b2"\r\n\r\n'
        b"--b2\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
        b"--b2\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b2--\r\n"
    )
    harness.deliver(rsvp, T0 + timedelta(hours=1))
    harness.deliver(bounce, T0 + timedelta(hours=2))
    found = {m.message_id: m for m in harness.mailbox.changes(None, T0).messages}
    assert "text/calendar; method=REPLY; charset=utf-8" in found["<rsvp@acme.io>"].part_types
    assert not_a_reply(found["<rsvp@acme.io>"]) == "a calendar RSVP (text/calendar; method=REPLY)"
    assert not_a_reply(found["<bounce@acme.io>"]) == "a delivery status report (bounce)"


def test_part_types_survive_odd_structures() -> None:
    assert part_types(None) == ()
    assert part_types((b"TEXT", b"PLAIN", None)) == ("text/plain",)
    assert part_types(([(b"text", b"plain", (b"charset", b"utf-8"))], b"mixed")) == (
        "multipart/mixed",
        "text/plain; charset=utf-8",
    )


# ---------------------------------------------------------------- errors and secrets


def test_wrong_password_is_an_auth_error_without_the_password(imap_account: ImapAccount, tmp_path: Path) -> None:
    mailbox = make_mailbox(imap_account, tmp_path / "home", store_password=False)
    mailbox.secrets.set("imap", imap_account.username, "hunter2-wrong")
    with pytest.raises(AuthError) as caught:
        mailbox.locate("<x@example.org>")
    assert "hunter2" not in str(caught.value)
    assert imap_account.username in str(caught.value) and "followupd auth imap" in str(caught.value)


def test_missing_password_names_the_command_to_run(imap_account: ImapAccount, tmp_path: Path) -> None:
    mailbox = make_mailbox(imap_account, tmp_path / "home", store_password=False)
    with pytest.raises(AuthError, match="no IMAP password is stored.*followupd auth imap"):
        mailbox.changes(None, T0)


def test_password_command_is_used_and_a_failing_one_is_clear(imap_account: ImapAccount, tmp_path: Path) -> None:
    good = make_mailbox(
        imap_account, tmp_path / "a", store_password=False, password_command=f"printf '%s\\n' '{imap_account.password}'"
    )
    assert good.locate("<x@example.org>") is None
    good.close()
    bad = make_mailbox(imap_account, tmp_path / "b", store_password=False, password_command="echo nope >&2; exit 3")
    with pytest.raises(
        AuthError, match=r"password_command exited with status 3.*fix mailbox.password_command"
    ) as raised:
        bad.locate("<x@example.org>")
    assert "nope" not in str(raised.value)  # its stderr may hold the password: debug log only (issue 16 §5)


def test_a_server_that_is_down_is_transient_and_named(imap_account: ImapAccount, tmp_path: Path) -> None:
    port = free_port()
    mailbox = make_mailbox(imap_account, tmp_path / "home", port=port)
    with pytest.raises(TransientError, match=f"127.0.0.1:{port}"):
        mailbox.changes(None, T0)


def test_tls_certificates_are_verified(
    imap_account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = imap_account.server
    need(server.cafile is not None, "no openssl to make a certificate (apt install openssl)")
    untrusted = make_mailbox(imap_account, tmp_path / "a", security="tls", port=server.tls_port)
    with pytest.raises(BackendError, match="certificate of IMAP server 127.0.0.1.*cannot be verified"):
        untrusted.locate("<x@example.org>")
    monkeypatch.setenv("SSL_CERT_FILE", str(server.cafile))
    for home, overrides in (("b", {"security": "tls", "port": server.tls_port}), ("c", {"security": "starttls"})):
        mailbox = make_mailbox(imap_account, tmp_path / home, host="localhost", **overrides)
        assert mailbox.locate("<x@example.org>") is None
        mailbox.close()


# ---------------------------------------------------------------- push


def test_watch_wakes_on_new_mail_in_inbox(harness: ImapHarness) -> None:
    woken = threading.Event()
    stop = harness.mailbox.watch(woken.set)
    assert stop is not None
    try:
        # Once IDLE holds, one wake-up (for mail that came before it did).
        assert woken.wait(timeout=20), "no wake-up when IDLE started"
        woken.clear()
        harness.deliver(raw_mail(message_id="<push@acme.io>"), T0)
        assert woken.wait(timeout=20), "no wake-up within 20 s of a new message"
    finally:
        stop()
    threads = [t for t in threading.enumerate() if t.name == "followupd-imap-idle"]
    assert threads == [], "the IDLE thread must end when stopped"


def test_watch_reconnects_after_the_server_drops_the_connection(harness: ImapHarness) -> None:
    wakes: list[int] = []
    woken = threading.Event()

    def wake() -> None:
        wakes.append(1)
        woken.set()

    stop = harness.mailbox.watch(wake)
    assert stop is not None
    try:
        assert woken.wait(timeout=20), "no wake-up when IDLE started"
        woken.clear()
        harness.account.server.doveadm("kick", harness.account.username)  # drops every session
        # It reconnects at once and wakes the daemon: mail may have come while it was away.
        assert woken.wait(timeout=20), "no wake-up after reconnecting"
        woken.clear()
        harness.client.shutdown()  # kicked too
        harness.client = harness.account.connect()
        harness.deliver(raw_mail(message_id="<two@acme.io>"), T0)
        assert woken.wait(timeout=20), "no wake-up for new mail after reconnecting"
    finally:
        stop()


def test_a_server_without_idle_cannot_push(dovecot: Any, tmp_path: Path) -> None:
    mailbox = make_mailbox(dovecot.add_user(capability="IMAP4rev1"), tmp_path / "home")
    assert mailbox.watch(lambda: None) is None
    mailbox.close()


def test_idle_is_renewed_without_losing_news(harness: ImapHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    from followupd.mailboxes import imap_idle

    monkeypatch.setattr(imap_idle, "IDLE_RENEW", 0.05)  # instead of 29 minutes: renew all the time
    woken = threading.Event()
    stop = harness.mailbox.watch(woken.set)
    assert stop is not None
    try:
        assert woken.wait(timeout=20)
        woken.clear()
        harness.deliver(raw_mail(message_id="<renewed@acme.io>"), T0)
        assert woken.wait(timeout=20), "a message that came while IDLE was being renewed was missed"
    finally:
        stop()


def test_watch_on_a_server_that_is_down_keeps_trying_and_stops_at_once(
    imap_account: ImapAccount, tmp_path: Path
) -> None:
    mailbox = make_mailbox(imap_account, tmp_path / "home", port=free_port())
    stop = mailbox.watch(lambda: None)
    assert stop is not None, "push may work once the server is back"
    assert [t for t in threading.enumerate() if t.name == "followupd-imap-idle"]
    stop()
    assert [t for t in threading.enumerate() if t.name == "followupd-imap-idle"] == []
