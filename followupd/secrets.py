"""Where passwords and OAuth tokens live: the system keyring, a 0600 file, or a command.

Never in the TOML, never in logs, never in the state database. Each place is a
`SecretBackend`; `SecretStore` is the one the config chose. The file backend exists
for headless machines (a system service has no desktop keyring); it is chosen
explicitly with `[secrets] backend = "file"`, never as a silent fallback. A
`password_command` is a read-only backend of its own (`CommandSecret`).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from followupd.errors import AuthError, ConfigError, FollowupdError, Problem

if TYPE_CHECKING:
    from followupd.config import Config

log = logging.getLogger(__name__)

SERVICE = "followupd"


class SecretBackend(ABC):
    """One place secrets are kept, addressed by (`kind`, `account`), e.g. ("imap", "ada@example.org")."""

    @abstractmethod
    def get(self, kind: str, account: str) -> str | None:
        """The stored secret, or None when there is none. Raises FollowupdError when the
        place itself cannot be used."""

    @abstractmethod
    def set(self, kind: str, account: str, secret: str) -> None:
        """Store (or replace) a secret."""

    @abstractmethod
    def delete(self, kind: str, account: str) -> None:
        """Forget a secret; nothing happens when there is none."""

    @abstractmethod
    def where(self) -> str:
        """Where the secrets are, for messages ("the system keyring", a path)."""


class KeyringBackend(SecretBackend):
    """The system keyring through `keyring`; refuses a keyring that only fell back to plain text."""

    def get(self, kind: str, account: str) -> str | None:
        keyring = self._keyring()
        try:
            return keyring.get_password(f"{SERVICE}:{kind}", account)  # type: ignore[no-any-return]
        except keyring.errors.KeyringError as exc:
            raise NoKeyring(exc) from None

    def set(self, kind: str, account: str, secret: str) -> None:
        keyring = self._keyring()
        try:
            keyring.set_password(f"{SERVICE}:{kind}", account, secret)
        except keyring.errors.KeyringError as exc:
            raise NoKeyring(exc) from None

    def delete(self, kind: str, account: str) -> None:
        keyring = self._keyring()
        try:
            keyring.delete_password(f"{SERVICE}:{kind}", account)
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            raise NoKeyring(exc) from None

    def where(self) -> str:
        return "the system keyring"

    @staticmethod
    def _keyring() -> Any:
        import keyring
        import keyring.core
        import keyring.errors

        # A backend the user chose (PYTHON_KEYRING_BACKEND, keyringrc.cfg) is theirs to
        # choose. One keyring merely fell back to is refused if it keeps secrets in
        # plain text or drops them: that is the silent fallback we promise never to make.
        if keyring.core.load_env() is None and keyring.core.load_config() is None:
            backend = keyring.get_keyring()
            if _unsafe(backend):
                raise NoKeyring(
                    keyring.errors.NoKeyringError(
                        f"the only one available, {type(backend).__module__}.{type(backend).__name__}, "
                        "stores secrets unencrypted or not at all"
                    )
                )
        return keyring


class NoKeyring(AuthError):
    """The keyring cannot be used. Not a config error (exit 78, which systemd does not
    restart): a locked or not yet started keyring (a desktop session logging in after
    the user service started) heals by itself, and the remedy is about credentials, so
    it is an AuthError (exit 77): the daemon shows "re-authorise" and keeps trying."""

    def __init__(self, exc: Exception) -> None:
        super().__init__(
            f"the system keyring is not usable here ({type(exc).__name__}: {exc})",
            hint='unlock the keyring, or on a machine without a desktop session set [secrets] backend = "file" '
            "to keep secrets in a 0600 file in the state directory",
        )


class FileBackend(SecretBackend):
    """A JSON object in a 0600 file, replaced atomically on every change."""

    def __init__(self, state_dir: Path) -> None:
        self.file = state_dir / "secrets.json"

    def get(self, kind: str, account: str) -> str | None:
        return self._read().get(f"{kind}:{account}")

    def set(self, kind: str, account: str, secret: str) -> None:
        data = self._read()
        data[f"{kind}:{account}"] = secret
        self._write(data)

    def delete(self, kind: str, account: str) -> None:
        data = self._read()
        if data.pop(f"{kind}:{account}", None) is not None:
            self._write(data)

    def where(self) -> str:
        return str(self.file)

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(str(self.file), [Problem("", f"cannot read the secrets file: {exc}")]) from None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write(self, data: dict[str, str]) -> None:
        directory = self.file.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".secrets.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class CommandSecret(SecretBackend):
    """`password_command`: the secret is the first line the command prints. Read-only."""

    def __init__(self, command: str, section: str, timeout: float = 60) -> None:
        self.command = command
        self.section = section
        self.timeout = timeout

    def get(self, kind: str, account: str) -> str | None:
        return run_password_command(self.command, self.section, self.timeout)

    def set(self, kind: str, account: str, secret: str) -> None:
        raise FollowupdError(f"{self.section}.password_command provides the password; nothing to store")

    def delete(self, kind: str, account: str) -> None:
        return None

    def where(self) -> str:
        return f"{self.section}.password_command"


class SecretStore(SecretBackend):
    """The backend `[secrets] backend` names ("keyring" or "file")."""

    def __init__(self, backend: str, state_dir: Path) -> None:
        self.backend = backend
        self.file = state_dir / "secrets.json"
        self._impl: SecretBackend = FileBackend(state_dir) if backend == "file" else KeyringBackend()

    @classmethod
    def for_config(cls, config: Config) -> SecretStore:
        return cls(config.secrets.backend, config.state_dir)

    def get(self, kind: str, account: str) -> str | None:
        return self._impl.get(kind, account)

    def set(self, kind: str, account: str, secret: str) -> None:
        self._impl.set(kind, account, secret)

    def delete(self, kind: str, account: str) -> None:
        self._impl.delete(kind, account)

    def where(self) -> str:
        return self._impl.where()


def _unsafe(backend: object) -> bool:
    inner = getattr(backend, "backends", None)
    if inner is not None:  # keyring's chainer: unsafe if every backend in it is
        return all(_unsafe(b) for b in inner)
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    return name.startswith(("keyring.backends.fail", "keyring.backends.null")) or "Plaintext" in name


def run_password_command(command: str, where: str, timeout: float = 60) -> str:
    """Run `password_command` with /bin/sh and return its first output line, without the newline.

    Neither its output nor its stderr appears in an error message: a command that
    fails may well have printed the password to stderr (`echo "$PW" >&2; false`), and
    errors reach the log and the state database. Its stderr is logged at debug level.
    """
    try:
        result = subprocess.run(
            ["/bin/sh", "-c", command], capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, ValueError) as exc:
        raise AuthError(
            f"{where}.password_command could not be run: {exc}", hint=f"fix {where}.password_command"
        ) from None
    except subprocess.TimeoutExpired:
        raise AuthError(
            f"{where}.password_command did not finish within {timeout:.0f} s", hint=f"fix {where}.password_command"
        ) from None
    if result.returncode != 0:
        err = result.stderr.decode(errors="replace").strip().splitlines()
        if err:
            log.debug("%s.password_command said on stderr: %s", where, err[-1][:200])
        raise AuthError(
            f"{where}.password_command exited with status {result.returncode}"
            + (" (run with --debug to see its stderr)" if err else ""),
            hint=f"fix {where}.password_command",
        )
    lines = result.stdout.decode(errors="replace").splitlines()
    if not lines or not lines[0]:
        raise AuthError(f"{where}.password_command printed nothing", hint=f"fix {where}.password_command")
    return lines[0]


def source_for(store: SecretBackend, section: str, password_command: str | None) -> SecretBackend:
    """Where a password comes from: `password_command` when set, else the store."""
    return CommandSecret(password_command, section) if password_command else store


def password_for(store: SecretBackend, kind: str, section: str, username: str, password_command: str | None) -> str:
    """The password from `password_command`, else the one `followupd auth KIND` stored."""
    secret = source_for(store, section, password_command).get(kind, username)
    if not secret:
        label = "IMAP" if kind == "imap" else "CalDAV"
        raise AuthError(
            f"no {label} password is stored for {username} in {store.where()}", hint=f"followupd auth {kind}"
        )
    return secret
