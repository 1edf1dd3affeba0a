"""A mailbox in memory: the reference implementation of the contract, and the test fake."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

from followupd.mailboxes import Mailbox, body_fingerprint
from followupd.mailboxes.parse import message_info
from followupd.model import DraftRef, DraftState, Located, MailChanges, ThreadHint


@dataclass
class _Stored:
    raw: bytes
    arrived: datetime
    serial: int


@dataclass
class MemoryMailbox(Mailbox):
    label: str = "memory"
    drafts: dict[str, EmailMessage] = field(default_factory=dict)
    folders: dict[str, list[_Stored]] = field(default_factory=lambda: {"inbox": [], "sent": []})

    def __post_init__(self) -> None:
        self._serial = itertools.count(1)
        self._keys = itertools.count(1)

    # what a mail server or the user does
    def deliver(self, raw: bytes, arrived: datetime, folder: str = "inbox") -> None:
        self.folders[folder].append(_Stored(raw, arrived, next(self._serial)))

    # the contract
    def locate(self, message_id: str) -> Located | None:
        for key, message in self.drafts.items():
            if message["Message-ID"] == message_id:
                return Located("drafts", DraftRef(message_id, key, body_fingerprint(message)))
        for stored in self.folders["sent"]:
            if message_info(stored.raw, "sent", stored.arrived).message_id == message_id:
                return Located("sent", None, stored.arrived)
        return None

    def create_draft(self, message: EmailMessage, thread: ThreadHint | None = None) -> DraftRef:
        key = f"draft-{next(self._keys)}"
        self.drafts[key] = message
        return DraftRef(str(message["Message-ID"]), key, body_fingerprint(message))

    def draft_state(self, ref: DraftRef) -> DraftState:
        message = self.drafts.get(ref.key)
        if message is None:
            return DraftState.GONE
        return DraftState.UNTOUCHED if body_fingerprint(message) == ref.fingerprint else DraftState.EDITED

    def delete_draft(self, ref: DraftRef) -> bool:
        message = self.drafts.get(ref.key)
        if message is not None and body_fingerprint(message) != ref.fingerprint:
            return False
        self.drafts.pop(ref.key, None)
        return True

    def changes(self, cursor: str | None, since: datetime) -> MailChanges:
        last = int(cursor) if cursor else 0
        found = []
        top = last
        for role, stored_list in self.folders.items():
            for stored in stored_list:
                top = max(top, stored.serial)
                if stored.serial > last and (cursor or stored.arrived >= since):
                    found.append(message_info(stored.raw, role, stored.arrived, key=str(stored.serial)))
        return MailChanges(found, str(top))
