"""The OAuth side: clients, grants (refresh tokens), access tokens, the token endpoint and a
consent page that approves at once (the sign-in test plays the browser)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from .discovery import ApiFailure


@dataclass
class Grant:
    client_id: str
    scopes: tuple[str, ...]
    revoked: bool = False


@dataclass
class AccessToken:
    refresh_token: str | None
    scopes: tuple[str, ...]
    valid: bool = True


class OAuth:
    def __init__(self) -> None:
        self.clients: dict[str, str] = {}
        self.grants: dict[str, Grant] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.consent: tuple[str, ...] | None = None  # scopes the "user" ticks; None: all asked for

    def client(self) -> tuple[str, str]:
        client_id = f"{secrets.token_hex(6)}.apps.googleusercontent.com"
        self.clients[client_id] = f"GOCSPX-{secrets.token_urlsafe(18)}"
        return client_id, self.clients[client_id]

    def grant(self, scopes: tuple[str, ...], token_uri: str, with_token: bool = False) -> dict[str, Any]:
        """A grant as `Credentials.to_json()` writes it."""
        client_id, client_secret = self.client()
        refresh = f"1//{secrets.token_urlsafe(24)}"
        self.grants[refresh] = Grant(client_id, tuple(scopes))
        info: dict[str, Any] = {
            "token": None,
            "refresh_token": refresh,
            "token_uri": token_uri,
            "client_id": client_id,
            "client_secret": client_secret,
            "scopes": list(scopes),
            "universe_domain": "googleapis.com",
            "account": "",
            "expiry": None,
        }
        if with_token:
            info["token"] = self._issue(refresh, tuple(scopes))
            info["expiry"] = "2099-01-01T00:00:00Z"
        return info

    def revoke(self) -> None:
        """The user removed the app at myaccount.google.com, or the Testing grant expired."""
        for grant in self.grants.values():
            grant.revoked = True
        for token in self.tokens.values():
            token.valid = False

    def expire_access_tokens(self) -> None:
        for token in self.tokens.values():
            token.valid = False

    def _issue(self, refresh: str | None, scopes: tuple[str, ...]) -> str:
        token = f"ya29.{secrets.token_urlsafe(24)}"
        self.tokens[token] = AccessToken(refresh, scopes)
        return token

    def scopes_of(self, authorization: str | None) -> tuple[str, ...]:
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiFailure(401, "Request is missing required authentication credential.", "required")
        token = self.tokens.get(authorization[len("Bearer ") :].strip())
        if token is None or not token.valid:
            raise ApiFailure(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential.",
                "authError",
            )
        return token.scopes

    # ------------------------------------------------------------ endpoints

    def token_endpoint(self, form: dict[str, str], authorization: str | None = None) -> tuple[int, dict[str, Any]]:
        if authorization and authorization.startswith("Basic "):  # client credentials by HTTP Basic
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            form = {**form, "client_id": unquote_plus(user), "client_secret": unquote_plus(password)}
        client_id = form.get("client_id", "")
        if client_id not in self.clients or self.clients[client_id] != form.get("client_secret"):
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        kind = form.get("grant_type")
        if kind == "refresh_token":
            refresh = form.get("refresh_token", "")
            grant = self.grants.get(refresh)
            if grant is None or grant.revoked or grant.client_id != client_id:
                return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
            scopes = grant.scopes
            if form.get("scope"):
                asked = tuple(form["scope"].split())
                if not set(asked) <= set(grant.scopes):
                    return 400, {"error": "invalid_scope", "error_description": "Bad Request"}
                scopes = asked
            return 200, {
                "access_token": self._issue(refresh, scopes),
                "expires_in": 3599,
                "scope": " ".join(scopes),
                "token_type": "Bearer",
            }
        if kind == "authorization_code":
            code = self.codes.pop(form.get("code", ""), None)
            if code is None or code["client_id"] != client_id or code["redirect_uri"] != form.get("redirect_uri"):
                return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            if code["challenge_method"] != "S256" or digest != code["challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "Missing code verifier."}
            refresh = f"1//{secrets.token_urlsafe(24)}"
            self.grants[refresh] = Grant(client_id, code["scopes"])
            return 200, {
                "access_token": self._issue(refresh, code["scopes"]),
                "expires_in": 3599,
                "refresh_token": refresh,
                "scope": " ".join(code["scopes"]),
                "token_type": "Bearer",
            }
        return 400, {"error": "unsupported_grant_type", "error_description": f"Invalid grant_type: {kind}"}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        redirect = query.get("redirect_uri", "")
        host = urlsplit(redirect).hostname
        if query.get("client_id") not in self.clients or host not in ("localhost", "127.0.0.1"):
            return 400, {"Content-Type": "text/plain"}, b"Error 400: redirect_uri_mismatch or invalid_client"
        if query.get("response_type") != "code" or not query.get("code_challenge"):
            return 400, {"Content-Type": "text/plain"}, b"Error 400: invalid_request (PKCE required in this emulator)"
        asked = tuple(query.get("scope", "").split())
        scopes = tuple(s for s in asked if self.consent is None or s in self.consent)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "client_id": query["client_id"],
            "redirect_uri": redirect,
            "scopes": scopes,
            "challenge": query["code_challenge"],
            "challenge_method": query.get("code_challenge_method", "plain"),
        }
        target = redirect + "?" + urlencode({"state": query.get("state", ""), "code": code, "scope": " ".join(scopes)})
        return 302, {"Location": target, "Content-Type": "text/plain"}, b""
