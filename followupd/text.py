"""Make untrusted calendar and mail text safe to show, store and put in headers."""

from __future__ import annotations

import re
import unicodedata

# C0/C1 controls, bidi embeddings/overrides/isolates, zero-width and line separators:
# anything that can hide text, reorder it on screen, or end a header line.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb]"
)


def clean_line(text: str, limit: int = 200) -> str:
    """One line of plain text: no control characters, whitespace collapsed, bounded length."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text or ""))
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def clean_block(text: str, limit: int = 4000) -> str:
    """Multi-line text: keeps line breaks, drops every other control character."""
    text = unicodedata.normalize("NFC", text or "").replace("\r\n", "\n").replace("\r", "\n")
    lines = [" ".join(_INVISIBLE.sub("", line).replace("\t", " ").split()) for line in text.split("\n")]
    text = "\n".join(lines).strip()
    return text[:limit]
