"""Routing and request validation from the discovery documents bundled in googleapiclient.

The emulator accepts exactly what the discovery document describes: a method and path
that match one of its methods, only the query parameters that method (or the API)
declares, values of the declared type, and request bodies whose every field exists in
the method's request schema. Anything else gets the 400 Google would send.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import googleapiclient

DOCUMENTS = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"


class ApiFailure(Exception):
    """An error response in Google's JSON error format."""

    STATUS = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        409: "ALREADY_EXISTS",
        410: "FAILED_PRECONDITION",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }

    def __init__(
        self, code: int, message: str, reason: str = "", domain: str = "global", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.reason = reason or {
            400: "badRequest",
            401: "authError",
            403: "forbidden",
            404: "notFound",
            410: "deleted",
            429: "rateLimitExceeded",
            500: "backendError",
        }.get(code, "unknown")
        self.domain = domain
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [{"message": self.message, "domain": self.domain, "reason": self.reason}],
                "status": self.STATUS.get(self.code, "UNKNOWN"),
            }
        }


@dataclass(frozen=True)
class Method:
    id: str  # "gmail.users.drafts.create"
    http_method: str
    pattern: re.Pattern[str]
    path_params: tuple[str, ...]
    parameters: dict[str, dict[str, Any]]
    request: str | None  # schema name of the body
    scopes: frozenset[str]
    api: Api

    @property
    def short(self) -> str:
        """ "drafts.create", "history.list", "getProfile", "events.list"."""
        return self.id.split(".", 2)[2] if self.id.startswith("gmail.users.") else self.id.split(".", 1)[1]


class Api:
    def __init__(self, name: str, prefix: str) -> None:
        self.doc = json.loads((DOCUMENTS / f"{name}.json").read_text())
        self.prefix = prefix  # where the emulator serves it: "/" for Gmail, "/calendar/v3/" for Calendar
        self.schemas: dict[str, dict[str, Any]] = self.doc["schemas"]
        self.global_params: dict[str, dict[str, Any]] = self.doc.get("parameters", {})
        self.methods: list[Method] = []
        self._collect(self.doc)

    def _collect(self, node: dict[str, Any]) -> None:
        for method in node.get("methods", {}).values():
            path = method["path"]
            names: list[str] = []

            def group(match: re.Match[str], names: list[str] = names) -> str:
                names.append(match.group(2))
                return "(.+)" if match.group(1) == "+" else "([^/]+)"

            regex = re.sub(r"\{(\+?)([^}]+)\}", group, re.escape(path).replace(r"\{", "{").replace(r"\}", "}"))
            self.methods.append(
                Method(
                    id=method["id"],
                    http_method=method["httpMethod"],
                    pattern=re.compile("^" + re.escape(self.prefix) + regex + "$"),
                    path_params=tuple(names),
                    parameters=method.get("parameters", {}),
                    request=method.get("request", {}).get("$ref"),
                    scopes=frozenset(method.get("scopes", ())),
                    api=self,
                )
            )
        for child in node.get("resources", {}).values():
            self._collect(child)

    # ------------------------------------------------------------ validation

    def query(self, method: Method, raw: dict[str, list[str]]) -> dict[str, Any]:
        """Typed query parameters; 400 for unknown names, bad values, a missing required one."""
        values: dict[str, Any] = {}
        for name, items in raw.items():
            spec = method.parameters.get(name) or self.global_params.get(name)
            if spec is None or spec.get("location") == "path":
                raise ApiFailure(
                    400,
                    f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
                    f"Field '{name}' could not be found in request message.",
                    "invalid",
                )
            if len(items) > 1 and not spec.get("repeated"):
                raise ApiFailure(400, f'Invalid value for "{name}": only one value is allowed', "invalid")
            converted = [_convert(name, item, spec) for item in items]
            values[name] = converted if spec.get("repeated") else converted[0]
        for name, spec in method.parameters.items():
            if spec.get("required") and spec.get("location") == "query" and name not in values:
                raise ApiFailure(400, f"Required parameter: {name}", "required")
        return values

    def body(self, method: Method, raw: bytes) -> dict[str, Any] | None:
        if method.request is None:
            return None
        try:
            data = json.loads(raw.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            raise ApiFailure(400, "Invalid JSON payload received. Unexpected token.", "parseError") from None
        self._check(data, {"$ref": method.request}, "")
        return data

    def _check(self, value: Any, schema: dict[str, Any], where: str) -> None:
        if "$ref" in schema:
            schema = self.schemas[schema["$ref"]]
        kind = schema.get("type")
        at = f" at '{where}'" if where else ""
        if kind == "object":
            if not isinstance(value, dict):
                raise ApiFailure(400, f"Invalid JSON payload received. Expected an object{at}.", "invalid")
            props = schema.get("properties")
            extra = schema.get("additionalProperties")
            for key, item in value.items():
                child = f"{where}.{key}" if where else key
                if props is not None and key in props:
                    self._check(item, props[key], child)
                elif extra is not None:
                    self._check(item, extra, child)
                else:
                    raise ApiFailure(
                        400, f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.', "invalid"
                    )
        elif kind == "array":
            if not isinstance(value, list):
                raise ApiFailure(400, f"Invalid JSON payload received. Expected a list{at}.", "invalid")
            for index, item in enumerate(value):
                self._check(item, schema.get("items", {}), f"{where}[{index}]")
        elif kind == "string":
            if not isinstance(value, str):
                raise ApiFailure(400, f"Invalid JSON payload received. Expected a string{at}.", "invalid")
            if schema.get("format") == "byte":
                try:
                    base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
                except (binascii.Error, ValueError):
                    raise ApiFailure(400, f"Invalid value{at}: not base64.", "invalidArgument") from None
        elif kind == "integer":
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise ApiFailure(400, f"Invalid JSON payload received. Expected an integer{at}.", "invalid")
        elif kind == "boolean" and not isinstance(value, bool):
            raise ApiFailure(400, f"Invalid JSON payload received. Expected a boolean{at}.", "invalid")


@functools.cache
def _apis() -> list[Api]:
    # Parsed once per test session: the documents never change.
    return [Api("gmail.v1", "/"), Api("calendar.v3", "/calendar/v3/")]


def _convert(name: str, value: str, spec: dict[str, Any]) -> Any:
    kind = spec.get("type")
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            raise ApiFailure(400, f"Invalid value '{value}' for {name}: not an integer", "invalid") from None
    if kind == "boolean":
        if value not in ("true", "false"):
            raise ApiFailure(400, f"Invalid value '{value}' for {name}: not a boolean", "invalid")
        return value == "true"
    if "enum" in spec and value not in spec["enum"]:
        raise ApiFailure(400, f"Invalid value at '{name}', \"{value}\"", "invalidArgument")
    return value


class Router:
    def __init__(self) -> None:
        self.apis = _apis()

    def match(self, http_method: str, path: str) -> tuple[Method, dict[str, str]] | None:
        from urllib.parse import unquote

        for api in self.apis:
            for method in api.methods:
                found = method.pattern.match(path)
                if found and method.http_method == http_method:
                    return method, {n: unquote(v) for n, v in zip(method.path_params, found.groups(), strict=True)}
        return None
