"""Where passwords and OAuth tokens live: the system keyring, or a 0600 file.

Never in the TOML, never in logs, never in the state database. The file backend
exists for headless machines (a system service has no desktop keyring); it is
chosen explicitly with `[secrets] backend = "file"`, never as a silent fallback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from followupd.errors import EXIT_OK, AuthError, ConfigError, FollowupdError, Problem

SERVICE = "followupd"


class SecretStore:
    def __init__(self, backend: str, state_dir: Path) -> None:
        self.backend = backend
        self.file = state_dir / "secrets.json"

    def get(self, kind: str, account: str) -> str | None:
        """The secret stored for (`kind`, `account`), e.g. ("imap", "ada@example.org")."""
        if self.backend == "file":
            return self._read_file().get(f"{kind}:{account}")
        keyring = self._keyring()
        try:
            return keyring.get_password(f"{SERVICE}:{kind}", account)
        except keyring.errors.KeyringError as exc:
            raise self._no_keyring(exc) from None

    def set(self, kind: str, account: str, secret: str) -> None:
        if self.backend == "file":
            data = self._read_file()
            data[f"{kind}:{account}"] = secret
            self._write_file(data)
            return
        keyring = self._keyring()
        try:
            keyring.set_password(f"{SERVICE}:{kind}", account, secret)
        except keyring.errors.KeyringError as exc:
            raise self._no_keyring(exc) from None

    def delete(self, kind: str, account: str) -> None:
        if self.backend == "file":
            data = self._read_file()
            if data.pop(f"{kind}:{account}", None) is not None:
                self._write_file(data)
            return
        keyring = self._keyring()
        try:
            keyring.delete_password(f"{SERVICE}:{kind}", account)
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            raise self._no_keyring(exc) from None

    def where(self) -> str:
        return str(self.file) if self.backend == "file" else "the system keyring"

    def _keyring(self):  # type: ignore[no-untyped-def]
        import keyring
        import keyring.core
        import keyring.errors

        # A backend the user chose (PYTHON_KEYRING_BACKEND, keyringrc.cfg) is theirs to
        # choose. One keyring merely fell back to is refused if it keeps secrets in
        # plain text or drops them: that is the silent fallback we promise never to make.
        if keyring.core.load_env() is None and keyring.core.load_config() is None:
            backend = keyring.get_keyring()
            if _unsafe(backend):
                raise self._no_keyring(
                    keyring.errors.NoKeyringError(
                        f"the only one available, {type(backend).__module__}.{type(backend).__name__}, "
                        "stores secrets unencrypted or not at all"
                    )
                )
        return keyring

    @staticmethod
    def _no_keyring(exc: Exception) -> ConfigError:
        return ConfigError(
            "secrets",
            [
                Problem(
                    "secrets.backend",
                    f"the system keyring is not usable here ({type(exc).__name__}: {exc}). On a machine "
                    'without a desktop session set backend = "file" to keep secrets in a 0600 file '
                    "in the state directory",
                )
            ],
        )

    def _read_file(self) -> dict[str, str]:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(str(self.file), [Problem("", f"cannot read the secrets file: {exc}")]) from None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_file(self, data: dict[str, str]) -> None:
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


def _unsafe(backend: object) -> bool:
    inner = getattr(backend, "backends", None)
    if inner is not None:  # keyring's chainer: unsafe if every backend in it is
        return all(_unsafe(b) for b in inner)
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    return name.startswith(("keyring.backends.fail", "keyring.backends.null")) or "Plaintext" in name


def run_password_command(command: str, where: str, timeout: float = 60) -> str:
    """Run `password_command` with /bin/sh and return its first output line, without the newline.

    The command's output never appears in an error message; its stderr does, trimmed.
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
        detail = f": {err[-1][:200]}" if err else ""
        raise AuthError(
            f"{where}.password_command exited with status {result.returncode}{detail}",
            hint=f"fix {where}.password_command",
        )
    lines = result.stdout.decode(errors="replace").splitlines()
    if not lines or not lines[0]:
        raise AuthError(f"{where}.password_command printed nothing", hint=f"fix {where}.password_command")
    return lines[0]


def read_password(prompt: str) -> str:
    """For `followupd auth imap|caldav`: ask without echo on a terminal, or read one
    line from stdin when it is piped (`pass show mail | followupd auth imap`).

    getpass alone would not do: it prefers /dev/tty even when stdin is a pipe.
    """
    import getpass

    if sys.stdin is not None and sys.stdin.isatty():
        secret = getpass.getpass(prompt)
    else:
        secret = (sys.stdin.readline() if sys.stdin is not None else "").rstrip("\r\n")
    if not secret:
        raise FollowupdError("no password given; nothing stored")
    return secret


def password_for(store: SecretStore, kind: str, section: str, username: str, password_command: str | None) -> str:
    """The password from `password_command`, else the one `followupd auth KIND` stored."""
    if password_command:
        return run_password_command(password_command, section)
    secret = store.get(kind, username)
    if not secret:
        label = "IMAP" if kind == "imap" else "CalDAV"
        raise AuthError(
            f"no {label} password is stored for {username} in {store.where()}", hint=f"followupd auth {kind}"
        )
    return secret


def sign_in_with_password(
    store: SecretStore,
    kind: str,
    section: str,
    username: str,
    server: str,
    password_command: str | None,
    login: Callable[[str], str],
) -> int:
    """`followupd auth imap|caldav`: get the password (password_command, else a prompt),
    prove it with `login(password)` (which returns a detail to show, and raises AuthError
    when refused), then store it — unless password_command provides it anyway."""
    if password_command:
        secret = run_password_command(password_command, section)
    else:
        secret = read_password(f"{kind.upper() if kind == 'imap' else 'CalDAV'} password for {username} at {server}: ")
    detail = login(secret)
    detail = f" ({detail})" if detail else ""
    if password_command:
        print(f"Logged in to {server} as {username}{detail} with {section}.password_command; nothing to store.")
    else:
        store.set(kind, username, secret)
        print(f"Logged in to {server} as {username}{detail}; the password is stored in {store.where()}.")
    return EXIT_OK
