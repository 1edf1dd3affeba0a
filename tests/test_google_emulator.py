"""The emulator rejects what Google rejects; otherwise the other tests prove little."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any

from support.google_emulator import ALL_SCOPES, QUOTA, Emulator
from support.google_emulator.fixtures import emulator  # noqa: F401

METADATA = "https://www.googleapis.com/auth/gmail.metadata"
READONLY = "https://www.googleapis.com/auth/gmail.readonly"


def token(emulator: Emulator, scopes: tuple[str, ...] = ALL_SCOPES) -> str:  # noqa: F811
    return str(emulator.grant(scopes, with_token=True)["token"])


def call(emulator: Emulator, method: str, path: str, bearer: str | None, body: Any = None) -> tuple[int, Any]:  # noqa: F811
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(emulator.url + path, data=data, method=method)
    if bearer:
        request.add_header("Authorization", f"Bearer {bearer}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, raw.decode()


def reason(answer: Any) -> str:
    return str(answer["error"]["errors"][0]["reason"])


def test_unknown_query_parameter_is_400(emulator: Emulator) -> None:  # noqa: F811
    status, answer = call(emulator, "GET", "/gmail/v1/users/me/messages?sortOrder=asc", token(emulator))
    assert status == 400 and 'Unknown name "sortOrder"' in answer["error"]["message"]


def test_bad_values_are_400(emulator: Emulator) -> None:  # noqa: F811
    bearer = token(emulator)
    assert call(emulator, "GET", "/gmail/v1/users/me/messages?maxResults=lots", bearer)[0] == 400
    assert call(emulator, "GET", "/gmail/v1/users/me/drafts/r1?format=html", bearer)[0] == 400
    assert (
        call(
            emulator,
            "GET",
            "/gmail/v1/users/me/history?historyTypes=messageAdded&startHistoryId=1&startHistoryId=2",
            bearer,
        )[0]
        == 400
    )
    assert call(emulator, "GET", "/calendar/v3/calendars/primary/events?timeMin=yesterday", bearer)[0] == 400


def test_unknown_body_field_is_400_at_any_depth(emulator: Emulator) -> None:  # noqa: F811
    bearer = token(emulator)
    status, answer = call(
        emulator,
        "POST",
        "/gmail/v1/users/me/drafts",
        bearer,
        {"message": {"raw": "RnJvbTogYUBiLmMNCg0KeA", "thread_id": "x"}},
    )
    assert status == 400 and "Unknown name \"thread_id\" at 'message'" in answer["error"]["message"]
    status, _ = call(
        emulator,
        "POST",
        "/gmail/v1/users/me/drafts",
        bearer,
        {"message": {"raw": "RnJvbTogYUBiLmMNCg0KeA", "payload": {"headers": [{"name": "a", "valu": "b"}]}}},
    )
    assert status == 400
    status, answer = call(
        emulator, "POST", "/gmail/v1/users/me/drafts", bearer, {"message": {"raw": "RnJvbTogYUBiLmMNCg0KeA"}}
    )
    assert status == 200 and answer["message"]["labelIds"] == ["DRAFT"]


def test_unknown_paths_and_methods_are_404(emulator: Emulator) -> None:  # noqa: F811
    bearer = token(emulator)
    # where media uploads and batch requests would go: not under api_endpoint
    assert call(emulator, "POST", "/upload/gmail/v1/users/me/drafts", bearer, {})[0] == 404
    assert call(emulator, "POST", "/batch/gmail/v1", bearer, {})[0] == 404
    assert call(emulator, "PATCH", "/gmail/v1/users/me/profile", bearer, {})[0] == 404


def test_bearer_token_is_required_and_checked(emulator: Emulator) -> None:  # noqa: F811
    status, answer = call(emulator, "GET", "/gmail/v1/users/me/profile", None)
    assert status == 401 and reason(answer) == "required"
    status, answer = call(emulator, "GET", "/gmail/v1/users/me/profile", "ya29.forged")
    assert status == 401 and reason(answer) == "authError"
    bearer = token(emulator)
    emulator.revoke()
    assert call(emulator, "GET", "/gmail/v1/users/me/profile", bearer)[0] == 401


def test_each_method_needs_one_of_its_scopes(emulator: Emulator) -> None:  # noqa: F811
    compose_only = token(emulator, ("https://www.googleapis.com/auth/gmail.compose",))
    assert call(emulator, "GET", "/gmail/v1/users/me/drafts", compose_only)[0] == 200
    for path in (
        "/gmail/v1/users/me/history?startHistoryId=1",
        "/gmail/v1/users/me/messages/abc",
        "/gmail/v1/users/me/threads/abc",
    ):
        status, answer = call(emulator, "GET", path, compose_only)
        assert status == 403 and reason(answer) == "insufficientPermissions", path
    calendar_only = token(emulator, ("https://www.googleapis.com/auth/calendar.events.readonly",))
    assert call(emulator, "GET", "/calendar/v3/calendars/primary/events", calendar_only)[0] == 200
    assert call(emulator, "GET", "/calendar/v3/users/me/calendarList", calendar_only)[0] == 403
    assert call(emulator, "GET", "/gmail/v1/users/me/profile", calendar_only)[0] == 403


def test_metadata_scope_forbids_search_and_bodies_even_with_readonly(emulator: Emulator) -> None:  # noqa: F811
    both = token(emulator, (METADATA, READONLY))
    status, answer = call(emulator, "GET", "/gmail/v1/users/me/messages?q=from%3Ajane", both)
    assert status == 403 and "'q'" in answer["error"]["message"]
    assert call(emulator, "GET", "/gmail/v1/users/me/messages", both)[0] == 200
    message_id = emulator.deliver(b"From: jane@acme.io\r\nSubject: hi\r\n\r\nbody\r\n", datetime.now(UTC))
    assert call(emulator, "GET", f"/gmail/v1/users/me/messages/{message_id}", both)[0] == 403  # format=full
    assert call(emulator, "GET", f"/gmail/v1/users/me/messages/{message_id}?format=metadata", both)[0] == 200
    readonly = token(emulator, (READONLY,))
    assert call(emulator, "GET", "/gmail/v1/users/me/messages?q=from%3Ajane", readonly)[0] == 200


def test_requests_and_quota_units_are_counted(emulator: Emulator) -> None:  # noqa: F811
    bearer = token(emulator)
    call(emulator, "GET", "/gmail/v1/users/me/profile", bearer)
    call(emulator, "GET", "/gmail/v1/users/me/drafts", bearer)
    call(emulator, "GET", "/gmail/v1/users/me/history?startHistoryId=1", bearer)
    assert emulator.requests == {"getProfile": 1, "drafts.list": 1, "history.list": 1}
    assert sum(emulator.units.values()) == QUOTA["getProfile"] + QUOTA["drafts.list"] + QUOTA["history.list"] == 8


def test_token_endpoint(emulator: Emulator) -> None:  # noqa: F811
    info = emulator.grant()

    def refresh(**extra: str) -> tuple[int, Any]:
        form = {
            "grant_type": "refresh_token",
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "refresh_token": info["refresh_token"],
            **extra,
        }
        request = urllib.request.Request(emulator.url + "/token", data=urllib.parse.urlencode(form).encode())
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, answer = refresh()
    assert status == 200 and answer["scope"].split() == list(ALL_SCOPES)
    assert refresh(client_secret="wrong")[1]["error"] == "invalid_client"
    assert refresh(scope="https://mail.google.com/")[1]["error"] == "invalid_scope"
    emulator.revoke()
    assert refresh() == (400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})


def test_stale_sync_token_is_410_and_sync_token_excludes_time_bounds(emulator: Emulator) -> None:  # noqa: F811
    bearer = token(emulator)
    _, first = call(emulator, "GET", "/calendar/v3/calendars/primary/events?singleEvents=true", bearer)
    sync = urllib.parse.quote(first["nextSyncToken"])
    assert call(emulator, "GET", f"/calendar/v3/calendars/primary/events?syncToken={sync}", bearer)[0] == 200
    assert (
        call(
            emulator,
            "GET",
            f"/calendar/v3/calendars/primary/events?syncToken={sync}&timeMin=2026-01-01T00:00:00Z",
            bearer,
        )[0]
        == 400
    )
    emulator.expire_sync_tokens()
    status, answer = call(emulator, "GET", f"/calendar/v3/calendars/primary/events?syncToken={sync}", bearer)
    assert status == 410 and reason(answer) == "fullSyncRequired"
