"""`followupd auth google`: importing a grant, the loopback sign-in with PKCE, where the
secret goes, and that it never shows up anywhere else."""

from __future__ import annotations

import contextlib
import json
import re
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from support.google_emulator import ALL_SCOPES, Emulator
from support.google_emulator.fixtures import emulator, gevent, google_config, write_grant  # noqa: F401
from support.harness import Cli
from support.mailbox_contract import raw_mail


@pytest.fixture
def cli(home: Path, emulator: Emulator) -> Cli:  # noqa: F811
    return Cli(home, google_config(home, emulator))


def test_import_stores_the_grant_in_a_private_file(cli: Cli, emulator: Emulator) -> None:  # noqa: F811
    info = emulator.grant()
    result = cli("auth", "google", "--import", str(write_grant(cli.home / "authorized_user.json", info)))
    secrets = cli.home / "state" / "secrets.json"
    assert f"in {secrets}" in result.stdout
    assert "calendar.events.readonly, gmail.compose, gmail.readonly" in result.stdout
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets.parent.stat().st_mode) == 0o700
    stored = json.loads(json.loads(secrets.read_text())["google:ada@example.org"])
    assert stored["refresh_token"] == info["refresh_token"]
    assert stored["token_uri"] == emulator.url + "/token"  # not replaced by Google's
    assert info["refresh_token"] not in result.stdout + result.stderr
    assert info["client_secret"] not in result.stdout + result.stderr


def test_token_uri_is_honoured(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    from google.oauth2.credentials import Credentials

    from followupd.google.credentials import Grant, credentials

    info = emulator.grant()
    # The fact that bites: google-auth's own loader replaces token_uri with Google's.
    assert Credentials.from_authorized_user_info(info).token_uri != info["token_uri"]
    assert credentials(Grant.from_info(info)).token_uri == info["token_uri"]


def test_a_pass_refreshes_at_the_grants_token_uri_and_leaks_nothing(cli: Cli, emulator: Emulator) -> None:  # noqa: F811
    info = emulator.grant()
    cli("auth", "google", "--import", str(write_grant(cli.home / "authorized_user.json", info)))
    emulator.put_event(gevent("iv1", "Interview with Acme", datetime.fromisoformat("2026-11-02T10:00:00+00:00")))
    emulator.deliver(raw_mail(), datetime.fromisoformat("2026-10-30T10:00:00+00:00"))
    outputs = [cli("--debug", "run", "--once", "--now", "2026-11-03T11:05:00+00:00")]
    outputs += [cli("status"), cli("status", "--json")]
    assert emulator.count("oauth.token") >= 1
    text = "".join(r.stdout + r.stderr for r in outputs)
    state = b"".join(p.read_bytes() for p in (cli.home / "state").iterdir() if p.name.startswith("state.sqlite3"))
    access_tokens = list(emulator.oauth.tokens)
    for secret in (info["refresh_token"], info["client_secret"], *access_tokens):
        assert secret not in text
        assert secret.encode() not in state


def test_import_errors_name_the_file_and_the_problem(cli: Cli, emulator: Emulator) -> None:  # noqa: F811
    missing = cli("auth", "google", "--import", str(cli.home / "nope.json"), check=False)
    assert missing.returncode == 1 and "nope.json: no such file" in missing.stderr
    junk = cli.home / "junk.json"
    junk.write_text("{not json")
    assert "junk.json: not JSON" in cli("auth", "google", "--import", str(junk), check=False).stderr
    partial = write_grant(
        cli.home / "partial.json", {"client_id": "x", "token_uri": "https://oauth2.googleapis.com/token"}
    )
    result = cli("auth", "google", "--import", str(partial), check=False)
    assert result.returncode == 1
    assert "partial.json: not an authorized-user file: missing client_secret, refresh_token" in result.stderr
    narrow = emulator.grant(("https://www.googleapis.com/auth/gmail.compose",))
    result = cli("auth", "google", "--import", str(write_grant(cli.home / "narrow.json", narrow)), check=False)
    assert result.returncode == 77
    assert "does not grant calendar.events.readonly, gmail.readonly" in result.stderr
    assert not (cli.home / "state" / "secrets.json").exists()


def test_no_client_secrets_says_what_to_pass(cli: Cli) -> None:
    result = cli("auth", "google", check=False)
    assert result.returncode == 1 and "--client-secrets FILE" in result.stderr and "--import FILE" in result.stderr


def test_nothing_to_sign_in_to(home: Path) -> None:
    from support.harness import make_maildir, write_config

    config = write_config(
        home, 'kind = "ics"\npath = "/dev/null"', f'kind = "maildir"\npath = "{make_maildir(home / "Mail")}"'
    )
    result = Cli(home, config)("auth", "google", "--import", "x.json", check=False)
    assert result.returncode == 1 and "nothing to sign in to" in result.stderr


def test_no_keyring_on_a_headless_machine_is_explained_not_worked_around(home: Path, emulator: Emulator) -> None:  # noqa: F811
    path = google_config(home, emulator)
    path.write_text(path.read_text().replace('backend = "file"', 'backend = "keyring"'))
    cli = Cli(home, path)
    result = cli("auth", "google", "--import", str(write_grant(home / "a.json", emulator.grant())), check=False)
    assert result.returncode == 77  # credentials, not the config file: see README "Exit codes"
    assert "keyring is not usable here" in result.stderr and 'backend = "file"' in result.stderr
    assert not (home / "state" / "secrets.json").exists()  # no silent plaintext fallback


def _port(printed: str) -> int:
    """The loopback port `auth google --no-browser` chose itself and printed (in the tunnel command)."""
    match = re.search(r"ssh -N -L (\d+):localhost:(\d+) ", printed)
    assert match is not None and match[1] == match[2], printed
    return int(match[1])


@contextlib.contextmanager
def signing_in(cli: Cli, emulator: Emulator, *extra: str) -> Iterator[tuple[subprocess.Popen[str], int, str]]:  # noqa: F811
    """`auth google --no-browser` up to "Waiting for the redirect", when its loopback
    server is already listening; yields (process, port, what it printed), kills it after."""
    client_id, client_secret = emulator.oauth.client()
    secrets_file = cli.home / "client_secret.json"
    secrets_file.write_text(
        json.dumps(
            {
                "installed": {
                    "client_id": client_id,
                    "client_secret": client_secret,
                    "auth_uri": emulator.url + "/o/oauth2/auth",
                    "token_uri": emulator.url + "/token",
                    "redirect_uris": ["http://localhost"],
                }
            }
        )
    )
    # oauthlib insists on https for the token endpoint; the emulator speaks http.
    env = {**cli.env(), "PYTHONUNBUFFERED": "1", "OAUTHLIB_INSECURE_TRANSPORT": "1"}
    argv = [sys.executable, "-m", "followupd", "--config", str(cli.config), "auth", "google"]
    process = subprocess.Popen(
        [*argv, "--client-secrets", str(secrets_file), "--no-browser", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cli.home,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        printed = ""
        while "Waiting for the redirect" not in printed:
            line = process.stdout.readline()
            assert line, f"exited early: {process.stderr.read()}"
            printed += line
        yield process, _port(printed), printed
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def browser_sign_in(cli: Cli, emulator: Emulator) -> tuple[str, int, str]:  # noqa: F811
    """Run `auth google --no-browser` and play the browser: open the printed URL, let
    the consent page redirect to the loopback port. Returns (stdout, exit code, stderr)."""
    with signing_in(cli, emulator) as (process, port, printed):
        assert f"http://localhost:{port}/ on this machine" in printed
        url = re.search(r"(http://127\.0\.0\.1:\d+/o/oauth2/auth\?\S+)", printed)
        assert url is not None
        assert "code_challenge_method=S256" in url.group(1) and "access_type=offline" in url.group(1)
        with urllib.request.urlopen(url.group(1), timeout=10) as page:
            page.read()
        out, err = process.communicate(timeout=30)
    return printed + out, process.returncode, err


def test_loopback_sign_in_with_pkce(cli: Cli, emulator: Emulator) -> None:  # noqa: F811
    out, code, err = browser_sign_in(cli, emulator)
    assert code == 0, err
    assert "Stored the Google sign-in for ada@example.org" in out
    stored = json.loads(json.loads((cli.home / "state" / "secrets.json").read_text())["google:ada@example.org"])
    assert stored["refresh_token"] in emulator.oauth.grants
    assert stored["token_uri"] == emulator.url + "/token"
    assert stored["scopes"] == list(ALL_SCOPES)


def test_unticked_permissions_are_refused(cli: Cli, emulator: Emulator) -> None:  # noqa: F811
    emulator.oauth.consent = ("https://www.googleapis.com/auth/gmail.compose",)  # the user unticks the rest
    _, code, err = browser_sign_in(cli, emulator)
    assert code == 77
    assert "does not grant calendar.events.readonly, gmail.readonly" in err
    assert not (cli.home / "state" / "secrets.json").exists()


def test_a_redirect_with_a_foreign_state_shows_an_error_and_stores_nothing(cli: Cli, emulator: Emulator) -> None:  # noqa: F811
    with signing_in(cli, emulator) as (process, port, _):
        # Another page (or a stale link) sends the browser to our port with a state we never issued.
        url = f"http://127.0.0.1:{port}/?state=forged&code=4%2Fattacker-code&scope=x"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        body = refused.value.read().decode()
        assert refused.value.code == 400
        assert "did NOT sign in" in body and "signed in." not in body
        out, err = process.communicate(timeout=30)
    assert process.returncode == 77, err
    assert "state does not match" in err
    assert not (cli.home / "state" / "secrets.json").exists()


def test_the_loopback_server_gives_up_after_its_timeout(cli: Cli, emulator: Emulator) -> None:  # noqa: F811
    began = time.monotonic()
    with signing_in(cli, emulator, "--timeout", "2") as (process, _, printed):
        assert "at most 2 s" in printed
        _, err = process.communicate(timeout=30)
    assert process.returncode == 77, err
    assert "no sign-in arrived within 2 s" in err
    assert time.monotonic() - began < 20
    assert not (cli.home / "state" / "secrets.json").exists()
