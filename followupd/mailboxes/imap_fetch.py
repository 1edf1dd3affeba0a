"""Reading messages' headers over IMAP: a bounded FETCH of the header fields the
detectors need, and MIME part types from the BODYSTRUCTURE (RFC 3501 7.4.2), as
imapclient parses them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from followupd.mailboxes.parse import HEADER_LIMIT, PARAM_LIMIT, PART_LIMIT, WANTED, message_info
from followupd.model import MessageInfo
from followupd.text import clean_line

if TYPE_CHECKING:
    from imapclient import IMAPClient

FETCH_BATCH = 200
# Only the header fields the detectors read, and at most HEADER_LIMIT bytes of them: a
# message with a megabyte-long header costs no more than any other.
HEADER_FIELDS = f"BODY.PEEK[HEADER.FIELDS ({' '.join(n.upper() for n in WANTED)})]<0.{HEADER_LIMIT}>".encode()
HEADERS = [HEADER_FIELDS, b"INTERNALDATE", b"BODYSTRUCTURE"]


def fetch_headers(
    client: IMAPClient, uids: list[int], skipped: list[str], folder: str
) -> Iterator[tuple[int, dict[bytes, Any]]]:
    """(UID, FETCH data) of the messages whose header fields could be read; the others
    are listed in `skipped`."""
    from imapclient.exceptions import ProtocolError

    for start in range(0, len(uids), FETCH_BATCH):
        batch = uids[start : start + FETCH_BATCH]
        try:
            found = client.fetch(batch, HEADERS)
        except (ProtocolError, ValueError):
            # One message the parser chokes on spoils the batch: read them one by one.
            found = {}
            for uid in batch:
                try:
                    found.update(client.fetch([uid], HEADERS))
                except (ProtocolError, ValueError) as exc:
                    skipped.append(f"{folder} UID {uid}: unreadable ({exc}), skipped")
        for uid in batch:
            if uid in found and header_fields(found[uid]) is not None:
                yield uid, found[uid]


def header_fields(data: dict[bytes, Any]) -> bytes | None:
    """The HEADER.FIELDS section of a FETCH response (its key names the fields and,
    for a partial fetch, the origin: `BODY[HEADER.FIELDS (…)]<0>`)."""
    value = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER.FIELDS")), None)
    return bytes(value) if value is not None else None


def message_of(uid: int, data: dict[bytes, Any], role: str, where: str) -> MessageInfo:
    """The MessageInfo of one message from its fetch_headers data; `arrived` is the
    earliest evidence, as INTERNALDATE alone can mislead (a migration's APPEND)."""
    return message_info(
        header_fields(data) or b"",
        role,
        aware(data.get(b"INTERNALDATE")),
        key=f"{where}:{uid}",
        part_types=part_types(data.get(b"BODYSTRUCTURE")),
    )


def aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def part_types(structure: Any) -> tuple[str, ...]:
    """Every MIME part's "type/subtype; param=value" from an IMAP BODYSTRUCTURE, in the
    form parse.content_type gives for a Maildir message. Parts of an attached message
    (message/rfc822) are not listed: what someone forwards is not what they wrote."""
    types: list[str] = []

    def text(value: Any) -> str:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")

    def params(value: Any) -> str:
        if not isinstance(value, (tuple, list)):
            return ""
        items = list(value)[: 2 * PARAM_LIMIT]
        return "".join(
            f"; {clean_line(text(k).lower(), 100)}={clean_line(text(v), 200)}"
            for k, v in zip(items[::2], items[1::2], strict=False)
            if text(k).lower() != "boundary"
        )

    def walk(node: Any, depth: int) -> None:
        if not isinstance(node, (tuple, list)) or not node or depth > 20 or len(types) >= PART_LIMIT:
            return
        if isinstance(node[0], list):  # multipart: (parts, subtype, params, ...)
            types.append(
                f"multipart/{text(node[1] if len(node) > 1 else '').lower()}{params(node[2] if len(node) > 2 else None)}"
            )
            for child in node[0]:
                walk(child, depth + 1)
            return
        kind = f"{text(node[0]).lower()}/{text(node[1] if len(node) > 1 else '').lower()}"
        types.append(kind + params(node[2] if len(node) > 2 else None))

    try:
        walk(structure, 0)
    except (TypeError, IndexError, AttributeError):
        pass
    return tuple(types)
