"""Make untrusted calendar and mail text safe to show, store and put in headers."""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata

# C0/C1 controls, bidi embeddings/overrides/isolates, zero-width and line separators:
# anything that can hide text, reorder it on screen, or end a header line.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
# An RFC 2047 encoded-word, and the folding white space between two adjacent ones
# (which RFC 2047 says is not part of the text).
_WORD = re.compile(r"=\?([^?\s]{1,40})\?([qQbB])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(?==\?[^?\s]{1,40}\?[qQbB]\?)")
_HEX = re.compile(r"=([0-9A-Fa-f]{2})")


def _decode_word(match: re.Match[str]) -> str:
    charset, kind, data = match.group(1).split("*", 1)[0], match.group(2).lower(), match.group(3)
    try:
        if kind == "q":
            raw = _HEX.sub(lambda m: chr(int(m.group(1), 16)), data.replace("_", " ")).encode("latin-1")
        else:
            raw = base64.b64decode(data + "=" * (-len(data) % 4))
        codecs.lookup(charset)
        return raw.decode(charset, errors="replace")
    except (LookupError, binascii.Error, ValueError, UnicodeError):
        return match.group(0)


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded-words (`=?utf-8?q?…?=`) into the text they stand for.

    The stdlib decodes them again when it folds a header, after our cleaning, so a CR/LF
    hidden inside one would end a header line (CPython before the CVE-2024-6923 fix).
    Decoding first lets cleaning see, and remove, what they hide. A word that decodes to
    another word is decoded again, a few times; whatever is left is defused."""
    if "=?" not in text:
        return text
    for _ in range(4):
        decoded = _WORD.sub(_decode_word, _BETWEEN_WORDS.sub(r"\1", text))
        if decoded == text:
            break
        text = decoded
    # Still shaped like an encoded-word (nested too deep, or undecodable): break the
    # `=?` so that no later parser takes it for one.
    return text.replace("=?", "= ?") if _WORD.search(text) else text


def clean_line(text: str, limit: int = 200) -> str:
    """One line of plain text: encoded-words decoded, no control characters, whitespace
    collapsed, bounded length."""
    text = decode_words(text or "")
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    text = " ".join(text.split())
    if "=?" in text:
        text = text.replace("=?", "= ?")  # the cleaning itself can join `=` and `?`
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def clean_block(text: str, limit: int = 4000) -> str:
    """Multi-line text: keeps line breaks, drops every other control character."""
    text = unicodedata.normalize("NFC", decode_words(text or "")).replace("\r\n", "\n").replace("\r", "\n")
    lines = [" ".join(_INVISIBLE.sub("", line).replace("\t", " ").split()) for line in text.split("\n")]
    text = "\n".join(lines).strip()
    return text[:limit]
