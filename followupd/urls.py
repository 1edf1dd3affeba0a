"""URLs as they may be shown or stored: without the secrets people put in them."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from followupd.errors import ConfigError, Problem


def redact(url: str) -> str:
    """The URL without its user name and password, query and fragment: a calendar
    feed's token (`?token=…`, `#…`) or a password (`user:pw@host`) lives there, and
    the URL ends up in logs, error messages, the health table and status."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unreadable URL)"
    host = parts.netloc.rsplit("@", 1)[-1]
    try:
        parts.port  # noqa: B018 - a "port" that is not a number may be a misplaced password
    except ValueError:
        return f"{parts.scheme}://{parts.hostname or '?'}/…"
    hidden = "?…" if parts.query or parts.fragment else ""
    return urlunsplit((parts.scheme, host, parts.path, "", "")) + hidden


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cleartext(url: str) -> bool:
    """Whether what is sent to `url` travels in clear text: anything but https, except
    http to a loopback host (an emulator, a local proxy), which never leaves the machine."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme != "https" and not (scheme == "http" and loopback(parts.hostname or ""))


def refuse_cleartext(url: str, key: str) -> None:
    """Raise ConfigError for an http:// URL to another machine: credentials would
    travel in clear text (as IMAP security = "none" is refused)."""
    try:
        urlsplit(url).port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"[{key.split('.')[0]}]", [Problem(key, f"{redact(url)} is not a usable URL")]) from None
    if cleartext(url):
        raise ConfigError(
            f"[{key.split('.')[0]}]",
            [
                Problem(
                    key,
                    f"{redact(url)} would send your password in clear text; use https:// "
                    "(plain http:// is only allowed for a loopback host)",
                )
            ],
        )
