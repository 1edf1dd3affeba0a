"""Connecting to an IMAP server: the password, TLS, login, and turning imapclient's
exceptions into followupd's. Shared by the mailbox (imap.py) and its IDLE watcher
(imap_idle.py), which holds a connection of its own.
"""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING

from followupd.errors import AuthError, BackendError, FollowupdError, TransientError
from followupd.secrets import password_for

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from followupd.config import ImapSettings
    from followupd.secrets import SecretStore


def password(settings: ImapSettings, secrets: SecretStore) -> str:
    """The password from `password_command`, else the one `followupd auth imap` stored."""
    return password_for(secrets, "imap", "mailbox", settings.username, settings.password_command)


def address(settings: ImapSettings) -> str:
    """host:port, for messages."""
    return f"{settings.host}:{settings.effective_port}"


@contextlib.contextmanager
def translated(settings: ImapSettings) -> Iterator[None]:
    """Turn imapclient's and the socket layer's exceptions into ours, naming the server."""
    from imapclient import exceptions as x

    where = address(settings)
    hint = "fix mailbox.password_command" if settings.password_command else "followupd auth imap"
    try:
        yield
    except FollowupdError:
        raise
    except x.LoginError as exc:
        raise AuthError(
            f"IMAP server {where} refused the login for {settings.username}: {_text(exc)}", hint=hint
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise BackendError(
            f"the TLS certificate of IMAP server {where} cannot be verified ({exc.verify_message}); "
            'check [mailbox] host, or see README "IMAP and CalDAV" for local bridges'
        ) from None
    except ssl.SSLError as exc:
        raise TransientError(
            f"TLS with IMAP server {where} failed ({exc.reason or exc}); check [mailbox] port and security "
            '(port 993 usually takes "tls", 143 "starttls")'
        ) from None
    except x.CapabilityError as exc:
        raise BackendError(
            f"IMAP server {where} lacks a needed capability: {_text(exc)}; check [mailbox] security"
        ) from None
    except (x.IMAPClientAbortError, OSError, EOFError) as exc:
        raise TransientError(
            f"cannot reach IMAP server {where}: {_text(exc) or type(exc).__name__}; will retry"
        ) from None
    except x.IMAPClientError as exc:
        raise BackendError(f"IMAP server {where} refused a command: {_text(exc)}") from None


def _text(exc: BaseException) -> str:
    text = str(exc)
    # imaplib wraps server text as a bytes repr: "b'[AUTHENTICATIONFAILED] ...'"
    text = re.sub(r"b'(.*?)'", r"\1", text)
    return text.strip()[:300]


def connect(settings: ImapSettings, secret: str) -> IMAPClient:
    """A logged-in connection. TLS certificates are always verified."""
    import imapclient

    timeout = settings.timeout.total_seconds()
    with translated(settings):
        if settings.security == "tls":
            client = imapclient.IMAPClient(
                settings.host,
                port=settings.effective_port,
                ssl=True,
                ssl_context=ssl.create_default_context(),
                timeout=timeout,
            )
        else:
            client = imapclient.IMAPClient(settings.host, port=settings.effective_port, ssl=False, timeout=timeout)
        try:
            if settings.security == "starttls":
                client.starttls(ssl.create_default_context())
            client.login(settings.username, secret)
        except BaseException:
            drop(client)
            raise
        client.normalise_times = False  # INTERNALDATE as aware datetimes
        return client


def drop(client: IMAPClient) -> None:
    """Close the socket without a goodbye (the connection may be dead already)."""
    with contextlib.suppress(Exception):
        client.shutdown()


def logout(client: IMAPClient) -> None:
    try:
        client.socket().settimeout(5)
        client.logout()
    except Exception:  # noqa: BLE001
        drop(client)
