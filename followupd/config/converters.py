"""The converters that turn one TOML value into a typed setting, or raise ValueError
with a message for the user; `conv` declares a dataclass field with its converter.

The loader reads each field's `metadata["conv"]`, and config_schema maps each
converter to the JSON-schema fragment that accepts the same values.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from dataclasses import field
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_DURATION_PART = re.compile(r"(\d+)\s*([wdhms])")
_UNIT = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: Any) -> timedelta:
    if not isinstance(value, str):
        raise ValueError(f'expected a duration string such as "24h" or "7d", got {value!r}')
    text = value.strip().lower()
    if not text or _DURATION_PART.sub("", text).strip():
        raise ValueError(f'{value!r} is not a duration; use numbers with units w, d, h, m, s, e.g. "48h", "1d12h"')
    seconds = sum(int(n) * _UNIT[u] for n, u in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)


def poll(value: Any) -> timedelta:
    duration = parse_duration(value)
    if duration < timedelta(seconds=1):
        raise ValueError(f'{value!r} is too short; poll at most once a second, e.g. "5m"')
    return duration


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__} {value!r}")
    return value


def nonempty(value: Any) -> str:
    text = string(value).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError(f"expected a port number 1-65535, got {value!r}")
    return value


def strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return tuple(v.strip() for v in value if v.strip())


ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$")


def address(value: Any) -> str:
    text = nonempty(value)
    if not ADDRESS.match(text):
        raise ValueError(f"{text!r} is not an email address")
    return text.lower()


def addresses(value: Any) -> tuple[str, ...]:
    return tuple(address(v) for v in strings(value))


def zone(value: Any) -> ZoneInfo:
    name = nonempty(value)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown time zone {name!r}; use an IANA name such as "Europe/London"') from None


def path(value: Any) -> Path:
    return Path(os.path.expandvars(nonempty(value))).expanduser()


def folder_name(value: Any) -> str:
    text = nonempty(value)
    if text.startswith(("/", ".")) or any(part in ("", ".", "..") for part in text.split("/")):
        raise ValueError(f"{text!r} is not a folder name (no leading '/' or '.', no '..')")
    return text


def hours(value: Any) -> tuple[time, time]:
    text = nonempty(value)
    match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", text)
    if not match:
        raise ValueError(f'{text!r} is not a range of hours; write e.g. "09:00-18:00"')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        start, end = time(h1, m1), time(h2, m2) if (h2, m2) != (24, 0) else time.max
    except ValueError:
        raise ValueError(f"{text!r} has an impossible time of day") from None
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end


def weekdays(value: Any) -> tuple[int, ...]:
    days = strings(value)
    bad = [d for d in days if d.lower()[:3] not in WEEKDAYS]
    if bad:
        raise ValueError(f"unknown weekday {bad[0]!r}; use mon, tue, wed, thu, fri, sat, sun")
    return tuple(sorted({WEEKDAYS.index(d.lower()[:3]) for d in days}))


def choice(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        text = string(value)
        if text not in choices:
            raise ValueError(f"{text!r} is not one of: {', '.join(choices)}")
        return text

    return convert


def url(value: Any) -> str:
    text = nonempty(value)
    if text.startswith("webcal://"):
        text = "https://" + text[len("webcal://") :]
    if not re.match(r"^https?://[^\s/]+", text):
        raise ValueError(f"{text!r} is not an http(s) URL")
    return text


def conv(fn: Callable[[Any], Any], default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field read from TOML with `fn`; no default: a required key."""
    if default is dataclasses.MISSING:
        return field(metadata={"conv": fn})
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for defaults")
    return field(default=default, metadata={"conv": fn})
