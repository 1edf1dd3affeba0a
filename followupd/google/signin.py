"""`followupd auth google`: sign in with Google, or import a grant made elsewhere.

Signing in runs google-auth-oauthlib's installed-app flow: a loopback redirect to a
local port, with PKCE. `--no-browser` prints the URL and the port so the browser can
be on another machine (through an SSH tunnel); Google retired the copy-paste
"out-of-band" flow. `--import FILE` stores an authorized-user JSON as google-auth
writes it, which is also how a grant made on a laptop reaches a headless server.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
from datetime import UTC
from pathlib import Path
from typing import Any

from followupd.config import Config
from followupd.errors import EXIT_OK, AuthError, FollowupdError
from followupd.google import HINT, account_for, scopes_for
from followupd.google.credentials import Grant, GrantFormatError, save
from followupd.secrets import SecretStore

log = logging.getLogger(__name__)

_SUCCESS = "followupd is signed in. You can close this tab and go back to the terminal."


def main(config: Config, args: argparse.Namespace) -> int:
    scopes = scopes_for(config)
    if not scopes:
        raise FollowupdError(
            f"{config.path}: neither [calendar] kind nor [mailbox] kind is a Google one "
            '("google", "gmail"), so there is nothing to sign in to'
        )
    account = account_for(config)
    if args.import_file:
        grant = _import(Path(args.import_file).expanduser(), scopes)
    else:
        grant = _sign_in(args, scopes)
    secrets = SecretStore(config.secrets.backend, config.state_dir)
    save(secrets, account, grant)
    names = ", ".join(s.rsplit("/", 1)[-1] for s in grant.scopes or scopes)
    print(f"Stored the Google sign-in for {account} in {secrets.where()} (access: {names}).")
    print("Next: `followupd run --once` uses it.")
    return EXIT_OK


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


def _sign_in(args: argparse.Namespace, scopes: tuple[str, ...]) -> Grant:
    if not args.client_secrets:
        raise FollowupdError(
            'auth google needs --client-secrets FILE (the OAuth client JSON of a "Desktop app" client, '
            'see README "Google Calendar and Gmail") or --import FILE'
        )
    from google_auth_oauthlib.flow import InstalledAppFlow
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error

    path = Path(args.client_secrets).expanduser()
    try:
        flow = InstalledAppFlow.from_client_secrets_file(str(path), scopes=list(scopes))
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
    port = args.port or (_free_port() if args.no_browser else 0)
    if args.no_browser:
        prompt = (
            "Open this URL in a browser and allow access:\n\n    {url}\n\n"
            f"Google then redirects the browser to http://localhost:{port}/ on this machine. If the\n"
            "browser runs elsewhere, first open a tunnel from that computer:\n\n"
            f"    ssh -N -L {port}:localhost:{port} USER@THIS-HOST\n\nWaiting for the redirect…"
        )
    else:
        prompt = "Your browser should open Google's sign-in page. If it does not, open:\n\n    {url}\n"
    try:
        creds = flow.run_local_server(
            host="localhost",
            port=port,
            open_browser=not args.no_browser,
            authorization_prompt_message=prompt,
            success_message=_SUCCESS,
            access_type="offline",
            prompt="consent",  # always hand out a refresh token, also on a second sign-in
        )
    except OAuth2Error as exc:
        raise AuthError(f"Google sign-in failed: {exc.error} {exc.description or ''}".strip(), hint=HINT) from None
    except OSError as exc:
        raise FollowupdError(f"cannot listen on localhost port {port} for Google's redirect: {exc}") from None
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


def _free_port() -> int:
    # The port must be known before the URL is printed, so the tunnel command can name it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("localhost", 0))
        return int(probe.getsockname()[1])
