"""Real servers for tests: a throwaway Dovecot (IMAP), Radicale and Xandikos (CalDAV).

Each runs as a child process on free loopback ports, is started once per test
session (a start costs little, a stop about a second) and is stopped by PID, also
when a test fails. Every test gets its own account (an IMAP user with a fresh
Maildir, a CalDAV user with a fresh calendar), so tests never see each other's data.

Dovecot runs as root (its mail processes then switch to nobody) or, rootless, as
the current user. Missing servers skip the tests locally and fail them in CI (see
conftest.need).
"""

from __future__ import annotations

import contextlib
import grp
import itertools
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from support.harness import need

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
NOBODY = 65534  # as root, Dovecot's mail processes run as nobody (never as root)
START_TIMEOUT = 15.0
_serial = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    """Return once `port` accepts a connection; fail with the server's log if it dies."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} on start:\n{_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                stop_process(process)
                raise RuntimeError(f"{what} did not listen on port {port}:\n{_tail(log)}") from None
            time.sleep(0.01)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop one child by its PID: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def toml_value(value: object) -> str:
    """A TOML literal for a str, int or list of them (JSON's escapes are TOML's)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, list, tuple)):
        raise TypeError(f"no TOML for {value!r}")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value) if isinstance(value, int) else json.dumps(value, ensure_ascii=False)


def toml_table(keys: dict[str, object]) -> str:
    return "\n".join(f"{k} = {toml_value(v)}" for k, v in keys.items())


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _public_tempdir(prefix: str) -> Path:
    # pytest's tmp_path is 0700 root; Dovecot's auth process runs as `dovecot` and must
    # read the users file, and the mail processes run as nobody.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def _self_signed(directory: Path) -> tuple[Path, Path] | None:
    """A certificate for localhost/127.0.0.1, or None without the openssl tool."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    key.chmod(0o644)
    return cert, key


# ---------------------------------------------------------------- Dovecot


@dataclass
class ImapAccount:
    """One IMAP user with its own empty Maildir (INBOX, Drafts, Sent)."""

    server: Dovecot
    username: str
    password: str
    clients: list[Any] = field(default_factory=list)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self.server.port

    def connect(self) -> Any:
        """A second, logged-in connection: the harness's "mail server and mail client"."""
        import imapclient

        client = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(self.username, self.password)
        self.clients.append(client)
        return client

    def close(self) -> None:
        """Close every connection `connect()` opened."""
        for client in self.clients:
            try:
                client.logout()
            except Exception:  # noqa: BLE001 - already gone (kicked, server stopped)
                with contextlib.suppress(Exception):
                    client.shutdown()
        self.clients.clear()

    def mailbox_toml(self, **overrides: object) -> str:
        """The [mailbox] table body for this account (plain IMAP on loopback)."""
        keys: dict[str, object] = {
            "kind": "imap",
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "security": "none",
        }
        return toml_table({**keys, **overrides})

    def set_uidvalidity(self, folder: str, value: int) -> None:
        """Give `folder` a new UIDVALIDITY, as a server restore or migration does."""
        self.server.doveadm("mailbox", "update", "-u", self.username, "--uid-validity", str(value), folder)


@dataclass
class Dovecot:
    root: Path
    port: int = 0
    tls_port: int = 0
    cafile: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    _stderr: IO[bytes] | None = None
    accounts: list[ImapAccount] = field(default_factory=list)

    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log(self) -> Path:
        return self.root / "dovecot.log"

    @classmethod
    def create(cls) -> Dovecot:
        root = _public_tempdir("followupd-dovecot-")
        server = cls(root, free_port(), free_port())
        for sub in ("run", "state"):
            (root / sub).mkdir()
        mail = root / "mail"
        mail.mkdir()
        if os.geteuid() == 0:
            os.chown(mail, NOBODY, NOBODY)
        (root / "users").mkdir(mode=0o755)
        cert = _self_signed(root)
        server.cafile = cert[0] if cert else None
        server.conf.write_text(server._config(cert))
        return server

    def _config(self, cert: tuple[Path, Path] | None) -> str:
        r = self.root
        if cert is not None:
            dh = "ssl_dh = </usr/share/dovecot/dh.pem\n" if Path("/usr/share/dovecot/dh.pem").exists() else ""
            ssl = f"ssl = yes\nssl_cert = <{cert[0]}\nssl_key = <{cert[1]}\n{dh}"
            imaps = (
                f"  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {self.tls_port}\n    ssl = yes\n  }}\n"
            )
        else:
            ssl, imaps = "ssl = no\n", "  inet_listener imaps {\n    port = 0\n  }\n"
        if os.geteuid() == 0:
            uid, gid, rootless, chroot = NOBODY, NOBODY, "", ""
        else:
            # Without root, every Dovecot process runs as us, and nothing can chroot.
            uid, gid = os.getuid(), os.getgid()
            user, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
            rootless = (
                f"default_internal_user = {user}\ndefault_internal_group = {group}\n"
                f"default_login_user = {user}\nfirst_valid_uid = {uid}\nfirst_valid_gid = {gid}\n"
            )
            chroot = "  chroot =\n"
        return f"""\
{rootless}base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
# Tests log in with wrong passwords on purpose: no delay, and no penalty (which would
# slow every later login from 127.0.0.1 by seconds).
auth_failure_delay = 0
service anvil {{
{chroot}  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
mail_location = maildir:{r}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {r}/users/%u
}}
userdb {{
  driver = passwd-file
  args = {r}/users/%u
  default_fields = uid={uid} gid={gid} home={r}/mail/%u
}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
{imaps}}}
namespace inbox {{
  inbox = yes
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
"""

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        self._stderr = self._stderr or open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )
        wait_for_port(self.port, self.process, self.log, "dovecot")
        if self.cafile is not None:
            wait_for_port(self.tls_port, self.process, self.log, "dovecot (imaps)")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def remove(self) -> None:
        try:
            for account in self.accounts:
                account.close()
        finally:
            self.stop()
            if self._stderr is not None:
                self._stderr.close()
            shutil.rmtree(self.root, ignore_errors=True)

    def add_user(self, password: str | None = None, capability: str | None = None) -> ImapAccount:
        """A new user with an empty Maildir. `capability` replaces what the server
        announces after login (e.g. "IMAP4rev1": a server without IDLE or UIDPLUS)."""
        # One passwd-file per user: Dovecot opens it at the first login, so a new user
        # needs no reload (a changed shared file may not be re-read within the same second).
        n = next(_serial)
        username = f"user{n}@example.org"
        password = password or f"pw-{n}-{os.urandom(4).hex()}"
        extra = f"userdb_imap_capability={capability}" if capability else ""
        path = self.root / "users" / username
        path.write_text(f"{username}:{{PLAIN}}{password}::::::{extra}\n", encoding="utf-8")
        path.chmod(0o644)
        account = ImapAccount(self, username, password)
        self.accounts.append(account)
        return account

    def doveadm(self, *args: str) -> str:
        result = subprocess.run(
            [DOVEADM, "-c", str(self.conf), *args], capture_output=True, text=True, timeout=30, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout


def _have_dovecot() -> None:
    need(os.path.exists(DOVECOT), "Dovecot is not installed (apt install dovecot-imapd)")


@contextlib.contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    """A started Dovecot, removed (stopped by PID, files deleted) on exit."""
    server = Dovecot.create()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot for the whole session; use `imap_account` for a fresh user."""
    _have_dovecot()
    with running_dovecot() as server:
        yield server


@pytest.fixture
def own_dovecot() -> Iterator[Dovecot]:
    """A Dovecot for one test, which it may stop and start again."""
    _have_dovecot()
    with running_dovecot() as server:
        yield server


@pytest.fixture
def imap_account(dovecot: Dovecot) -> Iterator[ImapAccount]:
    """A fresh user on the session's Dovecot; its harness connections close after the test."""
    account = dovecot.add_user()
    yield account
    account.close()


# ---------------------------------------------------------------- Radicale


@dataclass
class CaldavAccount:
    """One CalDAV user; `calendar` is a fresh calendar named "Work"."""

    server: Radicale | Xandikos
    username: str
    password: str
    calendar: Any = None
    _client: Any = None
    endpoint: str | None = None  # the account's own server URL (Xandikos: one server per user)

    @property
    def url(self) -> str:
        return self.endpoint or self.server.url

    def mark(self) -> int:
        """A position in this account's request log, for `requests(since=...)`."""
        return self.server.mark(self.username)

    def requests(self, since: int = 0) -> list[tuple[str, str, str]]:
        """(method, path, detail) of each request this account's server answered since `since`."""
        return self.server.requests(since, self.username)

    def client(self) -> Any:
        """The harness's own caldav client (the user's calendar app)."""
        if self._client is None:
            from caldav.davclient import DAVClient

            self._client = DAVClient(self.url, username=self.username, password=self.password, timeout=10)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def make_calendar(self, name: str) -> Any:
        return self.client().principal().make_calendar(name=name)

    def calendar_toml(self, **overrides: object) -> str:
        """The [calendar] table body for this account."""
        return toml_table({"kind": "caldav", "url": self.url, "username": self.username, **overrides})

    def put(self, ics: str, calendar: Any = None) -> Any:
        """Store one iCalendar object (as a client's PUT); returns caldav's Event."""
        return (calendar or self.calendar).save_event(ics)


@dataclass
class Radicale:
    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    _stderr: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def log(self) -> Path:
        return self.root / "radicale.log"

    @classmethod
    def create(cls) -> Radicale:
        root = _public_tempdir("followupd-radicale-")
        (root / "users").write_text("")
        return cls(root, free_port())

    def start(self) -> None:
        self._stderr = self._stderr or open(self.log, "ab")  # noqa: SIM115 - closed in remove()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "radicale",
                "--config",
                "",
                "--server-hosts",
                f"127.0.0.1:{self.port}",
                "--auth-type",
                "htpasswd",
                "--auth-htpasswd-filename",
                str(self.root / "users"),
                "--auth-htpasswd-encryption",
                "plain",
                "--auth-delay",
                "0",
                "--storage-filesystem-folder",
                str(self.root / "collections"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )
        wait_for_port(self.port, self.process, self.log, "radicale")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            if self._stderr is not None:
                self._stderr.close()
            shutil.rmtree(self.root, ignore_errors=True)

    def add_user(self, password: str | None = None) -> CaldavAccount:
        n = next(_serial)
        username = f"cal{n}"
        password = password or f"pw-{n}-{os.urandom(4).hex()}"
        with open(self.root / "users", "a", encoding="utf-8") as handle:
            handle.write(f"{username}:{password}\n")
        return CaldavAccount(self, username, password)

    def mark(self, user: str | None = None) -> int:
        """A position in the request log, for `requests(since=...)`."""
        return self.log.stat().st_size

    def requests(self, since: int = 0, user: str | None = None) -> list[tuple[str, str, str]]:
        """(method, path, detail) of each request answered since `since`, as Radicale logged it."""
        with open(self.log, "rb") as handle:
            handle.seek(since)
            text = handle.read().decode(errors="replace")
        found = []
        for match in re.finditer(r"\] (\w+) response status for '([^']*)'([^\n]*)", text):
            method, path, detail = match.groups()
            if user is None or path.startswith(f"/{user}/"):
                found.append((method, path, detail))
        return found


@pytest.fixture(scope="session")
def radicale() -> Iterator[Radicale]:
    need(_importable("radicale"), "Radicale is not installed (pip install -e '.[test]')")
    server = Radicale.create()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def caldav_account(radicale: Radicale) -> Iterator[CaldavAccount]:
    """A fresh user on the session's Radicale, with an empty calendar named "Work"."""
    account = radicale.add_user()
    account.calendar = account.make_calendar("Work")
    yield account
    account.close()


# ---------------------------------------------------------------- Xandikos


@dataclass
class Xandikos:
    """Xandikos serves one principal per process and has no password check over plain
    HTTP, so each account gets its own server (a second or so to start), all stopped
    by PID at the end of the session. Requests are logged one line each, access-log
    style, in the account's log."""

    root: Path
    processes: dict[str, tuple[subprocess.Popen[bytes], int, IO[bytes]]] = field(default_factory=dict)

    @classmethod
    def create(cls) -> Xandikos:
        return cls(_public_tempdir("followupd-xandikos-"))

    def log(self, user: str) -> Path:
        return self.root / f"{user}.log"

    def add_user(self, password: str | None = None) -> CaldavAccount:
        n = next(_serial)
        username = f"xcal{n}"
        port = free_port()
        self._start(username, port)
        return CaldavAccount(self, username, password or f"pw-{n}", endpoint=f"http://127.0.0.1:{port}/")

    def _start(self, username: str, port: int) -> None:
        stderr = open(self.log(username), "ab")  # noqa: SIM115 - closed in remove()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "xandikos",
                "serve",
                "-d",
                str(self.root / username),
                "--autocreate",
                "--current-user-principal",
                f"/{username}/",
                "--state-dir",
                str(self.root / f"{username}-state"),
                "--no-detect-systemd",
                "-l",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},  # each request's log line at once
        )
        old = self.processes.get(username)
        if old is not None:
            old[2].close()
        self.processes[username] = (process, port, stderr)
        wait_for_port(port, process, self.log(username), "xandikos")

    def mark(self, user: str | None = None) -> int:
        assert user is not None, "Xandikos logs per account"
        return self._settled(user)

    def requests(self, since: int = 0, user: str | None = None) -> list[tuple[str, str, str]]:
        assert user is not None, "Xandikos logs per account"
        self._settled(user)
        with open(self.log(user), "rb") as handle:
            handle.seek(since)
            text = handle.read().decode(errors="replace")
        return [(m, p, s) for m, p, s in re.findall(r'"(\w+) (\S+) HTTP/[\d.]+" (\d+)', text)]

    def _settled(self, user: str) -> int:
        """The log's size once it has been still for a moment: Xandikos writes a
        request's line just after sending the response."""
        size, still = -1, 0
        for _ in range(200):
            now = self.log(user).stat().st_size
            still = still + 1 if now == size else 0
            if still >= 5:
                break
            size = now
            time.sleep(0.01)
        return size

    def stop(self, user: str) -> None:
        stop_process(self.processes[user][0])

    def restart(self, user: str) -> None:
        """Start the account's server again, on its port, with its data."""
        self.stop(user)
        self._start(user, self.processes[user][1])

    def remove(self) -> None:
        try:
            for process, _, _ in self.processes.values():
                stop_process(process)
        finally:
            for _, _, handle in self.processes.values():
                handle.close()
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def xandikos() -> Iterator[Xandikos]:
    need(_importable("xandikos"), "Xandikos is not installed (pip install -e '.[test]')")
    server = Xandikos.create()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(params=["radicale", "xandikos"])
def dav_account(request: pytest.FixtureRequest) -> Iterator[CaldavAccount]:
    """A fresh CalDAV user with an empty calendar named "Work", on Radicale and on Xandikos."""
    server = request.getfixturevalue(request.param)
    account = server.add_user()
    account.calendar = account.make_calendar("Work")
    yield account
    account.close()


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
