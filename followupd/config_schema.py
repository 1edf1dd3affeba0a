"""The JSON schema of config.toml, generated from the declarations the loader uses.

Each section is a dataclass in config/settings.py whose fields carry their converter in
`metadata["conv"]`; the loader reads the file with those converters, and this module
maps each converter to the JSON-schema fragment that accepts what it accepts. So the
schema cannot drift from the loader: a new key appears in both, and a converter this
module does not know makes `unknown_converters()` non-empty (a test checks it).

Editors use it to check the file while it is typed: Taplo and VS Code's Even Better
TOML read a `#:schema PATH` line at the top of the file. The package ships the
generated file as followupd/data/config.schema.json; `followupd config-schema` prints it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from followupd.config import converters as cv
from followupd.config import settings

SCHEMA_ID = "https://followupd.invalid/config.schema.json"
_WEEKDAY = "|".join("".join(f"[{ch.upper()}{ch}]" for ch in day) for day in cv.WEEKDAYS)
_DURATION = {
    "type": "string",
    "pattern": r"^\s*([0-9]+\s*[wdhmsWDHMS]\s*)+$",
    "description": 'a duration: numbers with units w, d, h, m, s, e.g. "48h", "1d12h"',
}
_NONEMPTY = {"type": "string", "pattern": r"\S"}
_ADDRESS = {"type": "string", "pattern": r"^\s*" + cv.ADDRESS.pattern.strip("^$") + r"\s*$", "format": "email"}

_FRAGMENTS: dict[Callable[[Any], Any], dict[str, Any]] = {
    cv.parse_duration: _DURATION,
    cv.poll: {**_DURATION, "description": "how often a pass runs, at least 1s"},
    cv.string: {"type": "string"},
    cv.nonempty: _NONEMPTY,
    cv.boolean: {"type": "boolean"},
    cv.port: {"type": "integer", "minimum": 1, "maximum": 65535},
    cv.strings: {"type": "array", "items": {"type": "string"}},
    cv.address: _ADDRESS,
    cv.addresses: {"type": "array", "items": _ADDRESS},
    cv.zone: {**_NONEMPTY, "description": 'an IANA time zone name, e.g. "Europe/London"'},
    cv.path: {**_NONEMPTY, "description": "a path; ~ and $VARIABLES are expanded"},
    cv.folder_name: {
        "type": "string",
        "pattern": r"^(?![/.])(?!.*(^|/)\.{1,2}(/|$))(?!.*//)(?!.*/$).+$",
        "description": "a folder name relative to the Maildir (no leading '/' or '.', no '..')",
    },
    cv.hours: {"type": "string", "pattern": r"^\s*[0-9]{1,2}:[0-9]{2}\s*-\s*[0-9]{1,2}:[0-9]{2}\s*$"},
    cv.weekdays: {"type": "array", "items": {"type": "string", "pattern": rf"^\s*({_WEEKDAY})"}},
    cv.url: {"type": "string", "pattern": r"^\s*(https?|webcal)://[^\s/]+"},
}


def _choices(conv: Callable[[Any], Any]) -> tuple[str, ...] | None:
    """The choices of a `converters.choice(...)` converter (kept in its closure)."""
    if getattr(conv, "__qualname__", "") != "choice.<locals>.convert":
        return None
    cells = [cell.cell_contents for cell in conv.__closure__ or ()]
    return next((v for v in cells if isinstance(v, tuple)), None)


def _fragment(conv: Callable[[Any], Any]) -> dict[str, Any] | None:
    choices = _choices(conv)
    if choices is not None:
        return {"type": "string", "enum": list(choices)}
    fragment = _FRAGMENTS.get(conv)
    return dict(fragment) if fragment is not None else None


def _section(cls: type, kind: str | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        conv = f.metadata.get("conv")
        if conv is None:
            continue
        properties[f.name] = _fragment(conv) or {}
        default = f.default
        if default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
        elif isinstance(default, (str, bool, int)) and not isinstance(default, type):
            properties[f.name]["default"] = default
    if kind is not None:
        properties = {"kind": {"const": kind}, **properties}
        required = ["kind", *required]
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _kinded(kinds: dict[str, type]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": list(kinds)}},
        "oneOf": [_section(cls, kind) for kind, cls in kinds.items()],
    }


def schema() -> dict[str, Any]:
    properties: dict[str, Any] = {name: _section(cls) for name, cls in settings.SECTIONS.items()}
    properties["calendar"] = _kinded(settings.CALENDAR_KINDS)
    properties["mailbox"] = _kinded(settings.MAILBOX_KINDS)
    properties["steps"] = {"type": "array", "minItems": 1, "items": _section(settings.Step)}
    order = ["me", "calendar", "mailbox", *(k for k in properties if k not in ("me", "calendar", "mailbox"))]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "followupd config.toml",
        "type": "object",
        "required": ["me", "calendar", "mailbox"],
        "properties": {name: properties[name] for name in order},
        "additionalProperties": False,
    }


def unknown_converters() -> list[str]:
    """`section.key` of every key whose converter this module cannot describe."""
    sections = {**settings.SECTIONS, "steps[]": settings.Step}
    sections.update({f"calendar({k})": v for k, v in settings.CALENDAR_KINDS.items()})
    sections.update({f"mailbox({k})": v for k, v in settings.MAILBOX_KINDS.items()})
    return [
        f"{name}.{f.name}"
        for name, cls in sections.items()
        for f in dataclasses.fields(cls)
        if "conv" in f.metadata and _fragment(f.metadata["conv"]) is None
    ]


def schema_text() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"
