"""The Gmail mailbox against the emulator: the shared mailbox contract, then Gmail's own rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from followupd.mailboxes.gmail import GmailMailbox
from google_emulator import Emulator
from google_emulator.fixtures import emulator, google_config, signed_in  # noqa: F401 - fixture
from mailbox_contract import MailboxContract, T0, draft, raw_mail


class GmailHarness:
    def __init__(self, emulator: Emulator, mailbox: GmailMailbox) -> None:
        self.emulator = emulator
        self.mailbox = mailbox

    def deliver(self, raw: bytes, arrived: datetime, folder: str = "inbox") -> None:
        self.emulator.deliver(raw, arrived, folder)

    def send_draft(self, message_id: str, at: datetime) -> None:
        self.emulator.send_draft(message_id, at)

    def delete_draft(self, message_id: str) -> None:
        self.emulator.delete_draft(message_id)

    def edit_draft(self, message_id: str, body: str) -> None:
        self.emulator.edit_draft(message_id, body)

    def draft_count(self) -> int:
        return len(self.emulator.drafts())


def make_mailbox(tmp_path: Path, emulator: Emulator, **api_options: object) -> GmailMailbox:
    config, api = signed_in(google_config(tmp_path, emulator, calendar="ics"), emulator, **api_options)
    return GmailMailbox(config, None, api=api)  # type: ignore[arg-type]


@pytest.fixture
def gmail(tmp_path: Path, emulator: Emulator) -> Iterator[GmailMailbox]:  # noqa: F811
    mailbox = make_mailbox(tmp_path, emulator)
    yield mailbox
    mailbox.close()


class TestGmailMailbox(MailboxContract):
    @pytest.fixture
    def harness(self, emulator: Emulator, gmail: GmailMailbox) -> GmailHarness:  # noqa: F811
        return GmailHarness(emulator, gmail)
