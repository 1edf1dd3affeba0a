"""The stored Google grant: what `followupd auth google` keeps in the secret store.

The record is the authorized-user JSON google-auth writes (`Credentials.to_json()`),
reduced to what a refresh needs. Its `token_uri` is honoured: google-auth's
`from_authorized_user_info` would replace it with Google's, so the Credentials are
built field by field here.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from followupd.errors import AuthError
from followupd.google import HINT, clear_text

if TYPE_CHECKING:
    from google.oauth2.credentials import Credentials

    from followupd.secrets import SecretStore

KIND = "google"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
REQUIRED = ("client_id", "client_secret", "refresh_token")


class GrantFormatError(ValueError):
    """The JSON is not an authorized-user record; the message says which field is wrong."""


@dataclass(frozen=True)
class Grant:
    client_id: str
    client_secret: str
    refresh_token: str
    token_uri: str = GOOGLE_TOKEN_URI
    scopes: tuple[str, ...] | None = None  # None: not recorded (the server knows)
    token: str | None = None
    expiry: datetime | None = None  # aware UTC

    @classmethod
    def from_info(cls, info: Any) -> Grant:
        if not isinstance(info, dict):
            raise GrantFormatError("expected a JSON object as google-auth's Credentials.to_json() writes it")
        missing = [k for k in REQUIRED if not isinstance(info.get(k), str) or not info[k].strip()]
        if missing:
            raise GrantFormatError(f"missing {', '.join(missing)}")
        token_uri = info.get("token_uri") or GOOGLE_TOKEN_URI
        if not isinstance(token_uri, str) or not token_uri.startswith(("https://", "http://")):
            raise GrantFormatError(f"token_uri {token_uri!r} is not an http(s) URL")
        clear = clear_text(token_uri)
        if clear:
            raise GrantFormatError(f"token_uri {clear}: the refresh token and client secret would travel in clear text")
        scopes = info.get("scopes")
        if isinstance(scopes, str):
            scopes = scopes.split()
        if scopes is not None and not (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)):
            raise GrantFormatError("scopes must be a list of strings")
        token = info.get("token")
        return cls(
            client_id=info["client_id"].strip(),
            client_secret=info["client_secret"].strip(),
            refresh_token=info["refresh_token"].strip(),
            token_uri=token_uri,
            scopes=tuple(scopes) if scopes is not None else None,
            token=token if isinstance(token, str) and token else None,
            expiry=_expiry(info.get("expiry")) if token else None,
        )

    def to_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "token_uri": self.token_uri,
        }
        if self.scopes is not None:
            info["scopes"] = list(self.scopes)
        if self.token:
            info["token"] = self.token
            if self.expiry is not None:
                info["expiry"] = self.expiry.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return info


def _expiry(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None  # an unreadable expiry only costs one refresh
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def load(secrets: SecretStore, account: str) -> Grant:
    """The stored grant for `account`; AuthError when there is none or it is unreadable."""
    text = secrets.get(KIND, account)
    if text is None:
        raise AuthError(f"no Google sign-in stored for {account} in {secrets.where()}", hint=HINT)
    try:
        return Grant.from_info(json.loads(text))
    except (ValueError, GrantFormatError) as exc:
        raise AuthError(f"the Google sign-in stored for {account} is unreadable ({exc})", hint=HINT) from None


def save(secrets: SecretStore, account: str, grant: Grant) -> None:
    secrets.set(KIND, account, json.dumps(grant.to_info(), separators=(",", ":")))


def check_scopes(grant: Grant, needed: tuple[str, ...], account: str) -> None:
    """Refuse early when the stored grant is known to lack a scope the config needs."""
    if grant.scopes is None:
        return
    missing = [s for s in needed if s not in grant.scopes and "https://mail.google.com/" not in grant.scopes]
    if missing:
        names = ", ".join(s.rsplit("/", 1)[-1] for s in missing)
        raise AuthError(f"the Google sign-in stored for {account} does not allow {names}", hint=HINT)


def credentials(grant: Grant) -> Credentials:
    """Credentials that refresh at the grant's own token_uri. No scopes are sent with a
    refresh: the token gets what was granted, and a missing scope then shows up as a
    clear "does not allow" on the request that needs it."""
    from google.oauth2.credentials import Credentials

    class _Serialised(Credentials):  # type: ignore[misc]
        # One refresh at a time: every thread has its own Http but they share the grant.
        _lock = threading.Lock()

        def refresh(self, request: Any) -> None:
            with self._lock:
                super().refresh(request)

    expiry = grant.expiry.astimezone(UTC).replace(tzinfo=None) if grant.expiry else None  # google-auth wants naive UTC
    return _Serialised(
        token=grant.token,
        refresh_token=grant.refresh_token,
        token_uri=grant.token_uri,
        client_id=grant.client_id,
        client_secret=grant.client_secret,
        expiry=expiry,
    )
