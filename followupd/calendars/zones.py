"""TZID values as calendar software writes them, resolved to IANA zones.

Outlook and Exchange write Windows zone ids ("W. Europe Standard Time") and, in some
exports, the display name the user picked ("(UTC-05:00) Eastern Time (US & Canada)").
The mapping (followupd/data/windows_zones.json) comes from Unicode CLDR's
windowsZones.xml; its "_source" key names where it was taken from and its licence.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from zoneinfo import ZoneInfo, available_timezones

# "(UTC-05:00) ", "(GMT+10:00) ", "(UTC) ": the offset a display name starts with.
_OFFSET = re.compile(r"^\((?:UTC|GMT)(?:\s*[+-]\d{1,2}(?::?\d\d)?)?\)\s*", re.I)


@functools.cache
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    data = json.loads(resources.files("followupd").joinpath("data/windows_zones.json").read_text("utf-8"))
    windows = {k.casefold(): v for k, v in data["windows"].items()}
    # Display names are matched without their offset: Windows has changed "(GMT…)" to
    # "(UTC…)" and the offsets of some zones over the years, never the city list.
    display = {_OFFSET.sub("", k).casefold(): v for k, v in data["display"].items()}
    return windows, display


@functools.cache
def _iana() -> frozenset[str]:
    return frozenset(available_timezones())


@functools.cache
def resolve(tzid: str) -> str | None:
    """The IANA name for a TZID value, or None when it names no zone we know."""
    name = tzid.strip().strip('"').strip()
    if not name:
        return None
    if name in _iana():
        return name
    if name.startswith("/"):  # "/mozilla.org/20050126_1/Europe/Berlin", "/Europe/Berlin"
        parts = name.strip("/").split("/")
        for cut in range(len(parts)):
            candidate = "/".join(parts[cut:])
            if candidate in _iana():
                return candidate
    windows, display = _tables()
    folded = name.casefold()
    if folded in windows:
        return windows[folded]
    rest = _OFFSET.sub("", name).casefold()
    if rest in display:
        return display[rest]
    if rest in windows:  # "(UTC+01:00) W. Europe Standard Time"
        return windows[rest]
    if folded in ("utc", "gmt", "z", "etc/utc", "etc/gmt"):
        return "UTC"
    return None


def zone(tzid: str) -> ZoneInfo | None:
    name = resolve(tzid)
    return ZoneInfo(name) if name else None
