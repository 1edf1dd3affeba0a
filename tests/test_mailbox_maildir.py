from __future__ import annotations

import email
import email.policy
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followupd import config as config_module
from followupd.errors import BackendError
from followupd.mailboxes.maildir import MaildirMailbox
from followupd.model import DraftState

from support.harness import make_maildir, write_config
from support.mailbox_contract import T0, MailboxContract, draft, raw_mail
from support.maildir_user import edit


def make_verbatim(root: Path, folders: tuple[str, ...] = ("INBOX", "Drafts", "Sent")) -> Path:
    """The layout mbsync's `SubFolders Verbatim` and offlineimap make: folders side by side."""
    for name in folders:
        for sub in ("cur", "new", "tmp"):
            (root / name / sub).mkdir(parents=True, exist_ok=True)
    return root


LAYOUTS = {
    "maildir++": (make_maildir, {"inbox": "", "drafts": ".Drafts", "sent": ".Sent"}),
    "verbatim": (make_verbatim, {"inbox": "INBOX", "drafts": "Drafts", "sent": "Sent"}),
}


def maildir_config(root: Path, extra: str = "") -> config_module.Config:
    return config_module.load(
        write_config(root.parent, 'kind = "ics"\npath = "/dev/null"', f'kind = "maildir"\npath = "{root}"\n{extra}')
    )


class MaildirHarness:
    def __init__(self, root: Path, layout: str = "maildir++") -> None:
        make, folders = LAYOUTS[layout]
        self.root = make(root)
        self.inbox, self.drafts, self.sent = (root / folders[k] for k in ("inbox", "drafts", "sent"))
        self.mailbox = MaildirMailbox(maildir_config(root))
        assert self.mailbox.layout.name == layout
        self.counter = 0

    def deliver(self, raw: bytes, arrived: datetime, folder: str = "inbox") -> None:
        self.counter += 1
        base = self.inbox if folder == "inbox" else self.sent
        path = base / "new" / f"{int(arrived.timestamp())}.M{self.counter}P1.test"
        tmp = base / "tmp" / path.name
        tmp.write_bytes(raw)
        os.utime(tmp, (arrived.timestamp(), arrived.timestamp()))
        tmp.rename(path)

    def _path(self, message_id: str) -> Path:
        for path in (self.drafts / "cur").iterdir():
            with path.open("rb") as handle:
                if email.message_from_binary_file(handle, policy=email.policy.default)["Message-ID"] == message_id:
                    return path
        raise KeyError(message_id)

    def send_draft(self, message_id: str, at: datetime) -> None:
        path = self._path(message_id)
        target = self.sent / "cur" / (path.name.split(":")[0] + ":2,S")
        path.rename(target)
        os.utime(target, (at.timestamp(), at.timestamp()))

    def delete_draft(self, message_id: str) -> None:
        self._path(message_id).unlink()

    def edit_draft(self, message_id: str, body: str) -> None:
        edit(self._path(message_id), body)

    def draft_count(self) -> int:
        return len(list((self.drafts / "cur").iterdir()))


class TestMaildirMailbox(MailboxContract):
    @pytest.fixture(params=sorted(LAYOUTS))
    def harness(self, tmp_path: Path, request: pytest.FixtureRequest) -> MaildirHarness:
        return MaildirHarness(tmp_path / "Mail", request.param)


def test_draft_is_written_to_cur_with_draft_flag(tmp_path: Path) -> None:
    from support.mailbox_contract import draft

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


# ---------------------------------------------------------------- layouts


def test_a_verbatim_tree_is_detected_and_read_where_sync_tools_put_it(tmp_path: Path) -> None:
    harness = MaildirHarness(tmp_path / "Mail", "verbatim")
    ref = harness.mailbox.create_draft(draft())
    assert [p.parent.parent.name for p in (tmp_path / "Mail" / "Drafts" / "cur").iterdir()] == ["Drafts"]
    assert not (tmp_path / "Mail" / "INBOX" / ".Drafts").exists()
    harness.deliver(raw_mail(message_id="<in@acme.io>"), T0 + timedelta(hours=1))
    harness.send_draft(ref.message_id, T0 + timedelta(hours=2))
    changes = harness.mailbox.changes(None, T0)
    assert sorted((m.folder, m.message_id) for m in changes.messages) == [
        ("inbox", "<in@acme.io>"),
        ("sent", ref.message_id),
    ]


def test_the_layout_can_be_named_and_folder_names_configured(tmp_path: Path) -> None:
    root = make_verbatim(tmp_path / "Mail", ("Inbox", "[Gmail]/Drafts", "[Gmail]/Sent Mail"))
    config = maildir_config(
        root, 'layout = "verbatim"\ninbox = "Inbox"\ndrafts = "[Gmail]/Drafts"\nsent = "[Gmail]/Sent Mail"'
    )
    mailbox = MaildirMailbox(config)
    mailbox.create_draft(draft())
    assert len(list((root / "[Gmail]" / "Drafts" / "cur").iterdir())) == 1
    plus = make_maildir(tmp_path / "Plus", ("Work.Drafts", "Sent"))
    mailbox = MaildirMailbox(maildir_config(plus, 'layout = "maildir++"\ndrafts = "Work/Drafts"'))
    mailbox.create_draft(draft())
    assert len(list((plus / ".Work.Drafts" / "cur").iterdir())) == 1


def test_path_at_the_inbox_of_a_verbatim_tree_names_the_fix(tmp_path: Path) -> None:
    root = make_verbatim(tmp_path / "Mail")
    with pytest.raises(BackendError) as caught:
        MaildirMailbox(maildir_config(root / "INBOX"))
    message = str(caught.value)
    assert f"{root / 'INBOX' / '.Drafts'} does not exist" in message
    assert f'set [mailbox] path = "{root}"' in message and "create_folders" in message
    assert not (root / "INBOX" / ".Drafts").exists(), "never a folder inside INBOX"


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_missing_drafts_folder_is_an_error_unless_create_folders(tmp_path: Path, layout: str) -> None:
    make, folders = LAYOUTS[layout]
    root = make(tmp_path / "Mail")
    (root / folders["drafts"] / "cur").rmdir()
    with pytest.raises(BackendError, match=r"no Drafts folder: .*Drafts does not exist.*create_folders = true"):
        MaildirMailbox(maildir_config(root))
    mailbox = MaildirMailbox(maildir_config(root, "create_folders = true"))
    mailbox.create_draft(draft())
    assert len(list((root / folders["drafts"] / "cur").iterdir())) == 1
    assert (root / folders["drafts"] / "maildirfolder").exists() is (layout == "maildir++")


def test_check_and_run_report_a_missing_drafts_folder(tmp_path: Path) -> None:
    from support.harness import Cli

    home = tmp_path / "home"
    root = make_verbatim(home / "Mail", ("INBOX", "Sent"))
    (home / "calendar.ics").write_text("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nEND:VCALENDAR\n")
    cli = Cli(
        home,
        write_config(home, f'kind = "ics"\npath = "{home / "calendar.ics"}"', f'kind = "maildir"\npath = "{root}"'),
    )
    for result in (cli("check", check=False), cli.run("2026-11-11T11:00:00+00:00", check=False)):
        assert result.returncode != 0
        assert f"{root / 'Drafts'} does not exist" in result.stderr and "create_folders" in result.stderr
    assert not (root / "Drafts").exists()
    (root / "Drafts" / "cur").mkdir(parents=True)
    (root / "Drafts" / "new").mkdir()
    ok = cli("check")
    assert "verbatim layout" in ok.stdout and f"drafts to {root / 'Drafts'}" in ok.stdout


# ---------------------------------------------------------------- what sync tools do to files


@pytest.mark.parametrize(
    "rename",
    [
        lambda name: name.split(":")[0] + ",U=17:2,DS",  # mbsync stores the server UID in the name
        lambda name: name.split(":")[0] + ",U=17,FMD5=7e33429f656f1e6e9d79b29c3f82c57e:2,DS",  # offlineimap
        lambda name: name.split(":")[0] + ",S=812,W=830:2,DSF",  # Dovecot sizes, a flag added
        lambda name: name.split(":")[0] + ":2,DRS",  # replied-to flag set by a client
    ],
)
def test_renames_by_sync_tools_keep_the_draft_known(tmp_path: Path, rename) -> None:  # type: ignore[no-untyped-def]
    harness = MaildirHarness(tmp_path / "Mail")
    ref = harness.mailbox.create_draft(draft())
    harness.deliver(raw_mail(message_id="<in@acme.io>"), T0 + timedelta(hours=1))
    cursor = harness.mailbox.changes(None, T0).cursor
    (path,) = (harness.drafts / "cur").iterdir()
    path.rename(path.with_name(rename(path.name)))
    (inbox_file,) = (harness.inbox / "new").iterdir()
    inbox_file.rename(harness.inbox / "cur" / rename(inbox_file.name))
    assert harness.mailbox.draft_state(ref) == DraftState.UNTOUCHED
    found = harness.mailbox.locate(ref.message_id)
    assert found is not None and found.ref is not None and found.ref.key == ref.key
    harness.mailbox.changes(cursor, T0)  # a rename may be reported again; nothing is lost
    harness.mailbox.delete_draft(ref)
    assert harness.draft_count() == 0


# ---------------------------------------------------------------- arrival times


def test_an_old_message_downloaded_late_keeps_its_old_arrival(tmp_path: Path) -> None:
    harness = MaildirHarness(tmp_path / "Mail", "verbatim")
    downloaded = T0 + timedelta(days=3)  # mbsync's default CopyArrivalDate no: file time = download time
    harness.deliver(raw_mail(message_id="<dated@acme.io>", date="Sun, 01 Nov 2026 08:00:00 -0500"), downloaded)
    received = "Received: from mx.acme.io by mx.example.org with ESMTPS id 4Q; Sat, 31 Oct 2026 17:02:11 +0000\r\n"
    harness.deliver(raw_mail(message_id="<received@acme.io>", extra=received), downloaded)
    harness.deliver(raw_mail(message_id="<fresh@acme.io>"), downloaded)
    found = {m.message_id: m.arrived for m in harness.mailbox.changes(None, T0 - timedelta(days=7)).messages}
    assert found == {
        "<dated@acme.io>": datetime(2026, 11, 1, 13, 0, tzinfo=UTC),
        "<received@acme.io>": datetime(2026, 10, 31, 17, 2, 11, tzinfo=UTC),
        "<fresh@acme.io>": downloaded,
    }
