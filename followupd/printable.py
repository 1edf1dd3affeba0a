"""Text from calendars and mail, made safe at the output edge: the log, the terminal,
the `[notify]` command's environment.

An event's UID or title may carry terminal escape sequences (ESC [ … , the one-byte
CSI U+009B), bidi overrides or a NUL. Stored as they came (the store keeps the
calendar's facts), they are shown escaped: `\\x1b[31m` in the log instead of red text,
and a NUL never reaches `execve` (which refuses it: "embedded null byte").
"""

from __future__ import annotations

import dataclasses
import re
from typing import TypeVar

# C0 and C1 controls (except tab and newline, handled by the caller), DEL, bidi
# embeddings/overrides/isolates, zero-width characters, line/paragraph separators, BOM.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_UNSAFE_WITH_NEWLINES = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, lines: bool = True) -> str:
    """`text` with every control or invisible character written as an escape.
    With `lines`, newlines stay (a traceback, a table); without, they are escaped too."""
    return (_UNSAFE if lines else _UNSAFE_WITH_NEWLINES).sub(_escape, text)


def printable_json(text: str) -> str:
    """JSON text (from json.dumps, which escapes C0 controls itself) with C1 and
    invisible characters escaped as \\uXXXX too: still valid JSON, the same strings."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


T = TypeVar("T")


def printable_fields(value: T) -> T:
    """A copy of a dataclass with every str field made printable on one line (for an
    environment variable: no NUL, no newline, no escape sequence)."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return value
    changes = {
        f.name: printable(getattr(value, f.name), lines=False)
        for f in dataclasses.fields(value)
        if isinstance(getattr(value, f.name), str)
    }
    return dataclasses.replace(value, **changes)  # type: ignore[type-var]
