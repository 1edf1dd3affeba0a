"""An IMAP mailbox on a test Dovecot account, and the harness that plays the server
and the user's mail client for the mailbox contract."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from pathlib import Path

from followupd import config as config_module
from followupd.mailboxes.imap import ImapMailbox
from followupd.secrets import SecretStore

from support.harness import write_config
from support.servers import ImapAccount


def make_mailbox(account: ImapAccount, home: Path, store_password: bool = True, **overrides: object) -> ImapMailbox:
    home.mkdir(parents=True, exist_ok=True)
    path = write_config(
        home, 'kind = "ics"\npath = "/dev/null"', account.mailbox_toml(**overrides), extra='[secrets]\nbackend = "file"'
    )
    config = config_module.load(path)
    secrets = SecretStore("file", config.state_dir)
    if store_password:
        secrets.set("imap", account.username, account.password)
    return ImapMailbox(config, secrets)


class ImapHarness:
    """Plays the mail server and the user's mail client over a second connection."""

    def __init__(self, account: ImapAccount, home: Path) -> None:
        self.account = account
        self.mailbox = make_mailbox(account, home)
        self.client = account.connect()

    def deliver(self, raw: bytes, arrived: datetime, folder: str = "inbox") -> None:
        self.client.append("INBOX" if folder == "inbox" else "Sent", raw, msg_time=arrived)

    def _draft(self, message_id: str) -> tuple[int, bytes]:
        self.client.select_folder("Drafts")
        (uid,) = self.client.search(["NOT", "DELETED", "HEADER", "Message-ID", message_id])
        return uid, self.client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]

    def _remove(self, uid: int, expunge: bool = True) -> None:
        self.client.add_flags([uid], [b"\\Deleted"])
        if expunge:
            self.client.expunge()

    def send_draft(self, message_id: str, at: datetime) -> None:
        uid, raw = self._draft(message_id)
        self.client.append("Sent", raw, flags=[b"\\Seen"], msg_time=at)
        self.client.select_folder("Drafts")
        self._remove(uid)

    def delete_draft(self, message_id: str, expunge: bool = True) -> None:
        self._remove(self._draft(message_id)[0], expunge)

    def edit_draft(self, message_id: str, body: str, expunge: bool = True) -> None:
        # Like Thunderbird: store the new version, then delete the old one.
        uid, raw = self._draft(message_id)
        message = email.message_from_bytes(raw, policy=email.policy.SMTP)
        message.set_content(body)  # type: ignore[attr-defined]
        self.client.append("Drafts", message.as_bytes(), flags=[b"\\Draft", b"\\Seen"])
        self.client.select_folder("Drafts")
        self._remove(uid, expunge)

    def draft_count(self) -> int:
        self.client.select_folder("Drafts", readonly=True)
        return len(self.client.search(["NOT", "DELETED"]))

    def flags(self, folder: str) -> list[tuple[bytes, ...]]:
        self.client.select_folder(folder, readonly=True)
        uids = self.client.search(["ALL"])
        return [d[b"FLAGS"] for d in self.client.fetch(uids, ["FLAGS"]).values()] if uids else []

    def close(self) -> None:
        self.mailbox.close()
        self.client.logout()
