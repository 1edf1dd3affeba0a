"""`followupd auth google`: sign in with Google, or import a grant made elsewhere.

Signing in is the installed-app flow with PKCE (google-auth-oauthlib's `Flow`): a
loopback redirect to a local port. The redirect server is our own, not
`Flow.run_local_server`, for two reasons: it waits a bounded time, and it answers a
redirect whose `state` is not ours (a forged or stale one) with an error page
instead of "signed in". `--no-browser` prints the URL and the port so the browser
can be on another machine (through an SSH tunnel); Google retired the copy-paste
"out-of-band" flow. `--import FILE` stores an authorized-user JSON as google-auth
writes it, which is also how a grant made on a laptop reaches a headless server.

Nothing here prints: what the user must read goes through the `show` callback the
CLI passes in, and the result comes back as a message.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
import wsgiref.simple_server
import wsgiref.util
from collections.abc import Callable, Iterable
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from followupd.config import Config
from followupd.errors import AuthError, FollowupdError
from followupd.google import HINT, account_for, check_endpoint, scopes_for
from followupd.google.credentials import Grant, GrantFormatError, save
from followupd.secrets import SecretStore

log = logging.getLogger(__name__)

SIGN_IN_TIMEOUT = 300.0  # seconds to wait for the browser's redirect
_SUCCESS = "followupd is signed in. You can close this tab and go back to the terminal."
_MISMATCH = (
    "followupd did NOT sign in: this page was not reached from the sign-in that followupd started "
    "(its state does not match). Start again with `followupd auth google`."
)


def main(config: Config, args: argparse.Namespace, show: Callable[[str], None]) -> str:
    """Sign in (or import), store the grant; return what to tell the user."""
    scopes = scopes_for(config)
    if not scopes:
        raise FollowupdError(
            f"{config.path}: neither [calendar] kind nor [mailbox] kind is a Google one "
            '("google", "gmail"), so there is nothing to sign in to'
        )
    check_endpoint(config)
    account = account_for(config)
    if args.import_file:
        grant = _import(Path(args.import_file).expanduser(), scopes)
    else:
        grant = _sign_in(args, scopes, show)
    secrets = SecretStore.for_config(config)
    save(secrets, account, grant)
    names = ", ".join(s.rsplit("/", 1)[-1] for s in grant.scopes or scopes)
    return (
        f"Stored the Google sign-in for {account} in {secrets.where()} (access: {names}).\n"
        "Next: `followupd run --once` uses it."
    )


def _import(path: Path, scopes: tuple[str, ...]) -> Grant:
    try:
        info: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FollowupdError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FollowupdError(f"{path}: cannot read it: {exc}") from None
    except ValueError as exc:
        raise FollowupdError(f"{path}: not JSON ({exc})") from None
    try:
        grant = Grant.from_info(info)
    except GrantFormatError as exc:
        raise FollowupdError(
            f"{path}: not an authorized-user file: {exc}. Expected the JSON google-auth's "
            "Credentials.to_json() writes (client_id, client_secret, refresh_token, token_uri)"
        ) from None
    _require(grant.scopes, scopes, str(path))
    return grant


def _require(granted: tuple[str, ...] | None, scopes: tuple[str, ...], source: str) -> None:
    if granted is None or "https://mail.google.com/" in granted:
        return
    missing = [s for s in scopes if s not in granted]
    if missing:
        names = ", ".join(s.rsplit("/", 1)[-1] for s in missing)
        raise AuthError(
            f"{source} does not grant {names}, which your [calendar]/[mailbox] kinds need; "
            "sign in again and allow every access Google asks about",
            hint=HINT,
        )


def _sign_in(args: argparse.Namespace, scopes: tuple[str, ...], show: Callable[[str], None]) -> Grant:
    if not args.client_secrets:
        raise FollowupdError(
            'auth google needs --client-secrets FILE (the OAuth client JSON of a "Desktop app" client, '
            'see README "Google Calendar and Gmail") or --import FILE'
        )
    from google_auth_oauthlib.flow import Flow
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error

    path = Path(args.client_secrets).expanduser()
    try:
        flow = Flow.from_client_secrets_file(str(path), scopes=list(scopes), autogenerate_code_verifier=True)
    except FileNotFoundError:
        raise FollowupdError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError) as exc:
        raise FollowupdError(
            f"{path}: not an OAuth client file for a desktop app ({exc}); download it from "
            "Google Cloud console → APIs & Services → Credentials"
        ) from None
    # With granular consent a user may untick a permission; let oauthlib accept the
    # narrower grant so we can say which permission is missing (it raises otherwise).
    os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    port = args.port or 0  # 0: any free one; the URL and the tunnel command are printed once it is bound
    timeout = float(getattr(args, "timeout", None) or SIGN_IN_TIMEOUT)
    try:
        server = wsgiref.simple_server.make_server(
            "localhost", port, _Redirect(), server_class=_Server, handler_class=_QuietHandler
        )
    except OSError as exc:
        raise FollowupdError(f"cannot listen on localhost port {port} for Google's redirect: {exc}") from None
    try:
        app: _Redirect = server.get_app()  # type: ignore[assignment]
        flow.redirect_uri = f"http://localhost:{server.server_port}/"
        url, app.state = flow.authorization_url(access_type="offline", prompt="consent")
        if args.no_browser:
            show(
                f"Open this URL in a browser and allow access:\n\n    {url}\n\n"
                f"Google then redirects the browser to http://localhost:{server.server_port}/ on this machine. If the\n"
                "browser runs elsewhere, first open a tunnel from that computer:\n\n"
                f"    ssh -N -L {server.server_port}:localhost:{server.server_port} USER@THIS-HOST\n\n"
                f"Waiting for the redirect (at most {timeout:.0f} s)…"
            )
        else:
            import webbrowser

            webbrowser.open(url, new=1, autoraise=True)
            show(f"Your browser should open Google's sign-in page. If it does not, open:\n\n    {url}\n")
        response = _wait(server, app, timeout)
    finally:
        server.server_close()
    try:
        # oauthlib insists on https for the redirect URI it parses; the loopback one is http by design.
        flow.fetch_token(authorization_response=response.replace("http://", "https://", 1))
    except OAuth2Error as exc:
        raise AuthError(f"Google sign-in failed: {exc.error} {exc.description or ''}".strip(), hint=HINT) from None
    creds = flow.credentials
    if not creds.refresh_token:
        raise AuthError(
            "Google returned no refresh token; remove followupd at https://myaccount.google.com/permissions "
            "and sign in again",
            hint=HINT,
        )
    granted = tuple(getattr(creds, "granted_scopes", None) or scopes)
    _require(granted, scopes, "Google")
    expiry = creds.expiry.replace(tzinfo=UTC) if creds.expiry is not None else None
    return Grant(
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        refresh_token=creds.refresh_token,
        token_uri=creds.token_uri,
        scopes=granted,
        token=creds.token,
        expiry=expiry,
    )


class _Server(wsgiref.simple_server.WSGIServer):
    allow_reuse_address = False  # fail fast when the port is taken


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        # The query holds the authorization code: never at more than debug level.
        log.debug("redirect server: " + format, *args)


class _Redirect:
    """The WSGI app the browser is redirected to: accepts one redirect that carries our
    `state`, refuses one that carries another, ignores anything else (a favicon)."""

    def __init__(self) -> None:
        self.state: str | None = None
        self.response: str | None = None
        self.refused: str | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        state = (query.get("state") or [None])[0]
        if state is None and "code" not in query and "error" not in query:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not here"]
        if self.state is None or state != self.state:
            self.refused = "the redirect's state does not match this sign-in (a stale or forged link)"
            start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
            return [_MISMATCH.encode()]
        if "error" in query:
            self.refused = f"Google answered {query['error'][0]!r}"
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"followupd did NOT sign in: {self.refused}.".encode()]
        self.response = wsgiref.util.request_uri(environ)
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return [_SUCCESS.encode()]


def _wait(server: _Server, app: _Redirect, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while app.response is None and app.refused is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AuthError(f"no sign-in arrived within {timeout:.0f} s; nothing was stored", hint=HINT)
        server.timeout = remaining
        server.handle_request()
    if app.refused is not None:
        raise AuthError(f"Google sign-in refused: {app.refused}; nothing was stored", hint=HINT)
    assert app.response is not None
    return app.response
