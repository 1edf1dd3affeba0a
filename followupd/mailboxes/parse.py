"""Turn raw message bytes into MessageInfo, whatever state the message is in."""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import logging
from datetime import UTC, datetime

from followupd.model import MessageInfo
from followupd.text import clean_line

log = logging.getLogger(__name__)

# The headers the reply and sent detectors look at; everything else is ignored.
WANTED = (
    "from",
    "reply-to",
    "sender",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "precedence",
    "x-auto-response-suppress",
    "content-type",
    "return-path",
)
FULL_PARSE_LIMIT = 2_000_000  # bytes; above this only the headers are read

_headers_parser = email.parser.BytesHeaderParser(policy=email.policy.default)
_full_parser = email.parser.BytesParser(policy=email.policy.default)


def header_block(raw: bytes) -> bytes:
    """The header section of a raw message (everything before the first empty line)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = raw.find(separator)
        if end >= 0:
            return raw[: end + len(separator)]
    return raw


def message_info(
    raw: bytes,
    folder: str,
    arrived: datetime | None,
    key: str = "",
    part_types: tuple[str, ...] | None = None,
) -> MessageInfo:
    """Parse `raw` (a whole message, or just its headers when `part_types` is given).

    Never raises for a malformed message: unreadable headers become empty values.
    """
    multipart = part_types is None and b"multipart/" in header_block(raw).lower()
    if multipart and len(raw) <= FULL_PARSE_LIMIT:
        parsed = _full_parser.parsebytes(raw)
        types = tuple(_safe(lambda p=part: str(p.get("content-type", ""))) for part in parsed.walk())
    else:
        parsed = _headers_parser.parsebytes(header_block(raw))
        types = part_types if part_types is not None else (_safe(lambda: str(parsed.get("content-type", ""))),)
    headers: dict[str, tuple[str, ...]] = {}
    for name in WANTED:
        values = _safe(lambda n=name: [str(v) for v in parsed.get_all(n, [])], [])
        if values:
            headers[name] = tuple(clean_line(v, 2000) for v in values)
    message_id = headers.get("message-id", ("",))[0].strip() or None
    return MessageInfo(
        folder=folder,
        message_id=message_id,
        headers=headers,
        arrived=arrived,
        date=parse_date(headers.get("date", ("",))[0]),
        part_types=tuple(t for t in types if t),
        key=key,
    )


def parse_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000": the zone is unknown, RFC 5322 says treat as UTC
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _safe(fn, default=""):  # type: ignore[no-untyped-def]
    # The stdlib's header classes raise on some malformed input only when accessed.
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001
        log.debug("unreadable header: %s", exc)
        return default
