from __future__ import annotations

from datetime import datetime

import pytest

from followupd.mailboxes.memory import MemoryMailbox
from followupd.mailboxes.parse import message_info

from support.mailbox_contract import MailboxContract


class MemoryHarness:
    def __init__(self) -> None:
        self.mailbox = MemoryMailbox()

    def deliver(self, raw: bytes, arrived: datetime, folder: str = "inbox") -> None:
        self.mailbox.deliver(raw, arrived, folder)

    def _key(self, message_id: str) -> str:
        return next(k for k, m in self.mailbox.drafts.items() if m["Message-ID"] == message_id)

    def send_draft(self, message_id: str, at: datetime) -> None:
        message = self.mailbox.drafts.pop(self._key(message_id))
        self.mailbox.deliver(message.as_bytes(), at, "sent")

    def delete_draft(self, message_id: str) -> None:
        del self.mailbox.drafts[self._key(message_id)]

    def edit_draft(self, message_id: str, body: str) -> None:
        message = self.mailbox.drafts[self._key(message_id)]
        message.set_content(body)

    def draft_count(self) -> int:
        return len(self.mailbox.drafts)


class TestMemoryMailbox(MailboxContract):
    reads_bodies = False

    @pytest.fixture
    def harness(self) -> MemoryHarness:
        return MemoryHarness()


def test_message_info_survives_garbage() -> None:
    info = message_info(b"\x00\xff\r\n\r\n", "inbox", None)
    assert info.message_id is None
