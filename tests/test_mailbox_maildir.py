from __future__ import annotations

import email
import email.policy
import os
from datetime import datetime
from pathlib import Path

import pytest

from followupd import config as config_module
from followupd.errors import BackendError
from followupd.mailboxes.maildir import MaildirMailbox

from conftest import make_maildir, write_config
from mailbox_contract import T0, MailboxContract, raw_mail
from maildir_user import edit


class MaildirHarness:
    def __init__(self, root: Path) -> None:
        self.root = make_maildir(root)
        config = config_module.load(
            write_config(root.parent, 'kind = "ics"\npath = "/dev/null"', f'kind = "maildir"\npath = "{root}"')
        )
        self.mailbox = MaildirMailbox(config)
        self.counter = 0

    def deliver(self, raw: bytes, arrived: datetime, folder: str = "inbox") -> None:
        self.counter += 1
        base = self.root if folder == "inbox" else self.root / ".Sent"
        path = base / "new" / f"{int(arrived.timestamp())}.M{self.counter}P1.test"
        tmp = base / "tmp" / path.name
        tmp.write_bytes(raw)
        os.utime(tmp, (arrived.timestamp(), arrived.timestamp()))
        tmp.rename(path)

    def _path(self, message_id: str) -> Path:
        for path in (self.root / ".Drafts" / "cur").iterdir():
            with path.open("rb") as handle:
                if email.message_from_binary_file(handle, policy=email.policy.default)["Message-ID"] == message_id:
                    return path
        raise KeyError(message_id)

    def send_draft(self, message_id: str, at: datetime) -> None:
        path = self._path(message_id)
        target = self.root / ".Sent" / "cur" / (path.name.split(":")[0] + ":2,S")
        path.rename(target)
        os.utime(target, (at.timestamp(), at.timestamp()))

    def delete_draft(self, message_id: str) -> None:
        self._path(message_id).unlink()

    def edit_draft(self, message_id: str, body: str) -> None:
        edit(self._path(message_id), body)

    def draft_count(self) -> int:
        return len(list((self.root / ".Drafts" / "cur").iterdir()))


class TestMaildirMailbox(MailboxContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> MaildirHarness:
        return MaildirHarness(tmp_path / "Mail")


def test_draft_is_written_to_cur_with_draft_flag(tmp_path: Path) -> None:
    from mailbox_contract import draft

    harness = MaildirHarness(tmp_path / "Mail")
    harness.mailbox.create_draft(draft())
    (name,) = [p.name for p in (harness.root / ".Drafts" / "cur").iterdir()]
    assert name.endswith(":2,DS")
    assert list((harness.root / ".Drafts" / "tmp").iterdir()) == []


def test_scan_never_renames_the_users_mail(tmp_path: Path) -> None:
    harness = MaildirHarness(tmp_path / "Mail")
    harness.deliver(raw_mail(), T0)
    before = sorted(p.name for p in (harness.root / "new").iterdir())
    harness.mailbox.changes(None, T0)
    assert sorted(p.name for p in (harness.root / "new").iterdir()) == before


def test_incremental_scan_does_not_open_old_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    harness = MaildirHarness(tmp_path / "Mail")
    for n in range(50):
        harness.deliver(raw_mail(message_id=f"<m{n}@acme.io>"), T0)
    cursor = harness.mailbox.changes(None, T0).cursor
    harness.deliver(raw_mail(message_id="<fresh@acme.io>"), T0)
    opened: list[str] = []
    real_open = open

    def counting_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    changes = harness.mailbox.changes(cursor, T0)
    assert [m.message_id for m in changes.messages] == ["<fresh@acme.io>"]
    assert len([p for p in opened if "/Mail/" in p]) == 1


def test_not_a_maildir_is_a_clear_error(tmp_path: Path) -> None:
    config = config_module.load(
        write_config(tmp_path, 'kind = "ics"\npath = "/dev/null"', f'kind = "maildir"\npath = "{tmp_path / "nope"}"')
    )
    with pytest.raises(BackendError, match="not a Maildir.*\\[mailbox\\] path"):
        MaildirMailbox(config)
