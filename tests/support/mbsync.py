"""Real mbsync (isync), and offlineimap, between a local Maildir and the test Dovecot,
for end-to-end tests.

The .mbsyncrc is the one README.md "With mbsync / offlineimap" shows, with the test
server's port, user and password file filled in. Semantics relied on (mbsync(1), isync
1.4): `SubFolders Verbatim` puts folders at Path/NAME and INBOX where `Inbox` says;
`SubFolders Maildir++` puts INBOX at `Inbox` and folders at Inbox/.NAME and rejects
`Path`; `Create Both` makes missing folders on either side; `Expunge Both` propagates
deletions; `SyncState *` keeps the state inside each local folder; `CopyArrivalDate`
defaults to no, so a downloaded message's file time is the download time.

offlineimap (offlineimap(1), offlineimap3): a Maildir repository's `localfolders` holds
one directory per server folder (nested names joined by `sep`, "." by default); it
renames every file it uploads to its own `TIME_N.PID.HOST,U=UID,FMD5=MD5:2,FLAGS`; with
`utime_from_header` off (the default) a downloaded file's time is the download time.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.harness import need
from support.servers import ImapAccount

MBSYNC = shutil.which("mbsync") or "/usr/bin/mbsync"
OFFLINEIMAP = shutil.which("offlineimap") or "/usr/bin/offlineimap"

STORES = {
    "verbatim": "Path {maildir}/\nInbox {maildir}/INBOX\nSubFolders Verbatim\n",
    "maildir++": "Inbox {maildir}\nSubFolders Maildir++\n",
}


def rc(layout: str, maildir: Path, host: str, port: int, user: str, password_command: str) -> str:
    """An .mbsyncrc for one account, one channel for every folder, in `layout`."""
    return f"""\
IMAPAccount work
Host {host}
Port {port}
User {user}
PassCmd "{password_command}"
SSLType None
AuthMechs LOGIN

IMAPStore work-remote
Account work

MaildirStore work-local
{STORES[layout].format(maildir=maildir)}
Channel work
Far :work-remote:
Near :work-local:
Patterns *
Create Both
Expunge Both
SyncState *
"""


@dataclass
class Mbsync:
    """One mbsync configuration in `directory`, syncing `account` into `maildir`."""

    directory: Path
    account: ImapAccount
    layout: str
    maildir: Path

    @property
    def config(self) -> Path:
        return self.directory / "mbsyncrc"

    def write(self) -> None:
        need(Path(MBSYNC).exists(), "mbsync is not installed (apt install isync)")
        self.maildir.mkdir(parents=True, exist_ok=True)  # mbsync creates folders, not the store's own directory
        password = self.directory / "imap-password"
        password.write_text(self.account.password)
        password.chmod(0o600)
        self.config.write_text(
            rc(
                self.layout,
                self.maildir,
                self.account.host,
                self.account.port,
                self.account.username,
                f"cat {password}",
            )
        )

    def sync(self) -> str:
        """`mbsync -a` once; its output. A failure raises with mbsync's own words."""
        result = subprocess.run(
            [MBSYNC, "-c", str(self.config), "-a"], capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            raise AssertionError(f"mbsync exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result.stdout + result.stderr


def offlineimaprc(maildir: Path, metadata: Path, host: str, port: int, user: str, password_file: Path) -> str:
    """An offlineimaprc for one account, every folder, its default (verbatim) layout."""
    return f"""\
[general]
accounts = work
metadata = {metadata}
ui = quiet

[Account work]
localrepository = work-local
remoterepository = work-remote

[Repository work-local]
type = Maildir
localfolders = {maildir}

[Repository work-remote]
type = IMAP
remotehost = {host}
remoteport = {port}
remoteuser = {user}
remotepassfile = {password_file}
ssl = no
starttls = no
"""


@dataclass
class Offlineimap(Mbsync):
    """The same, with offlineimap (verbatim layout only: it has no other)."""

    @property
    def config(self) -> Path:
        return self.directory / "offlineimaprc"

    def write(self) -> None:
        need(Path(OFFLINEIMAP).exists(), "offlineimap is not installed (apt install offlineimap3)")
        assert self.layout == "verbatim"
        password = self.directory / "imap-password"
        password.write_text(self.account.password)
        password.chmod(0o600)
        self.config.write_text(
            offlineimaprc(
                self.maildir,
                self.directory / "offlineimap",
                self.account.host,
                self.account.port,
                self.account.username,
                password,
            )
        )

    def sync(self) -> str:
        result = subprocess.run(
            [OFFLINEIMAP, "-c", str(self.config), "-o"], capture_output=True, text=True, timeout=60, check=False
        )
        output = result.stdout + result.stderr
        if result.returncode != 0 or "ERROR" in output:
            raise AssertionError(f"offlineimap exited {result.returncode}:\n{output}")
        return output
