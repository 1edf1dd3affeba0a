"""Turn raw message bytes into MessageInfo, whatever state the message is in.

Mail is hostile input: a header can be megabytes long, and the stdlib's header
classes take minutes on some of those (a 1 MB Content-Type with RFC 2231 parameters,
a 1.5 MB From list). So nothing here hands a whole message to `email.parser`: only a
bounded header block is read, only the headers the detectors need are kept, each value
is cut to a bounded length, and the few that need structure (addresses, Content-Type,
dates) are parsed by small linear routines.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import email.utils
import logging
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from urllib.parse import unquote

from followupd.html_text import html_to_text
from followupd.model import MessageInfo
from followupd.policy.arrival import arrival
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
    "list-id",
    "received",  # only the topmost is kept: the user's own server's delivery stamp
)
ADDRESS_HEADERS = frozenset({"from", "reply-to", "sender", "to", "cc"})
HEADER_LIMIT = 64 * 1024  # bytes of a message's header block that are read at all
VALUE_LIMIT = 16 * 1024  # characters of one header value that are parsed
BODY_SCAN = 1_000_000  # bytes of a body searched for the headers of its MIME parts
PART_LIMIT = 64  # MIME parts listed per message
PARAM_LIMIT = 32  # Content-Type parameters read per part


# compose.message_id: the Message-ID of every draft followupd makes.
OUR_DRAFT_ID = re.compile(r"<followupd\.[0-9a-f]{32}@")
_NAME = re.compile(r"[!-9;-~]+")
_BOUNDARY_LINE = re.compile(rb"^--([^\r\n]{1,80}?)[ \t]*\r?$", re.MULTILINE)


def header_block(raw: bytes) -> bytes:
    """The header section of a raw message: everything before the first empty line,
    at most HEADER_LIMIT bytes (cut at a line end)."""
    if raw.startswith((b"\r\n", b"\n")):
        return b""
    head = raw[: HEADER_LIMIT + 4]
    ends = [head.find(sep) + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if sep in head]
    if ends and min(ends) <= HEADER_LIMIT:
        return head[: min(ends)]
    head = head[:HEADER_LIMIT]
    cut = head.rfind(b"\n")
    return head[: cut + 1] if cut >= 0 else head


def fields(block: bytes) -> dict[str, list[str]]:
    """The wanted header fields of a header block, unfolded, by lower-case name, each
    value at most VALUE_LIMIT characters; later Received headers are dropped."""
    found: dict[str, list[str]] = {}
    name: str | None = None
    parts: list[str] = []
    size = 0

    def finish() -> None:
        if name is not None:
            found.setdefault(name, []).append("".join(parts)[:VALUE_LIMIT])

    for line in block.decode("utf-8", "replace").splitlines():
        if line[:1] in (" ", "\t"):
            if name is not None and size < VALUE_LIMIT:
                parts.append(" " + line.strip())
                size += len(line)
            continue
        finish()
        name, parts, size = None, [], 0
        key, colon, value = line.partition(":")
        key = key.strip().lower()
        if not colon or not _NAME.fullmatch(key) or key not in WANTED:
            continue
        if key == "received" and "received" in found:
            continue
        name, parts, size = key, [value.strip()], len(value)
    finish()
    return found


def message_info(
    raw: bytes,
    folder: str,
    arrived: datetime | None,
    key: str = "",
    part_types: tuple[str, ...] | None = None,
    thread_id: str | None = None,
) -> MessageInfo:
    """Parse `raw` (a whole message, or just its headers when `part_types` is given).

    `arrived` is the backend's delivery time (file time, INTERNALDATE); the result's
    `arrived` is the earliest trustworthy evidence of arrival (see `arrival`). Never
    raises for a malformed message: unreadable headers become empty values.
    """
    block = header_block(raw)
    found = fields(block)
    headers: dict[str, tuple[str, ...]] = {}
    for name, values in found.items():
        headers[name] = tuple(_decoded(name, v) for v in values)
    top_type = content_type(found.get("content-type", [""])[0]) if "content-type" in found else "text/plain"
    if part_types is None:
        types = [top_type]
        boundary = _param(found.get("content-type", [""])[0], "boundary")
        if top_type.startswith("multipart/") and boundary:
            types += body_part_types(raw[len(block) : len(block) + BODY_SCAN], boundary)
        part_types = tuple(types)
    message_id = headers.get("message-id", ("",))[0].strip() or None
    date = parse_date(found.get("date", [""])[0])
    received = received_time(found.get("received", [""])[0])
    # The sent copy of one of our own drafts carries the draft's Date (when it was made)
    # unless the user's client rewrote it: it says nothing about when it was sent.
    evidence = None if folder == "sent" and message_id and OUR_DRAFT_ID.match(message_id) else date
    return MessageInfo(
        folder=folder,
        message_id=message_id,
        headers=headers,
        arrived=arrival(arrived, evidence, received),
        date=date,
        part_types=tuple(t for t in part_types if t),
        key=key,
        thread_id=thread_id,
    )


# ---------------------------------------------------------------- dates


def received_time(value: str) -> datetime | None:
    """The date-time of a Received header: what follows its last ';' (RFC 5322 3.6.7)."""
    if ";" not in value:
        return None
    return parse_date(value.rsplit(";", 1)[1].strip())


def parse_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value[:200])
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000": the zone is unknown, RFC 5322 says treat as UTC
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# ---------------------------------------------------------------- header values


def _decoded(name: str, value: str) -> str:
    try:
        if name in ADDRESS_HEADERS:
            return _addresses(value)
        if name == "content-type":
            return clean_line(content_type(value), 2000)
        if name in ("date", "message-id", "in-reply-to", "references", "return-path", "received"):
            return clean_line(value, 2000)
        return clean_line(_words(value), 2000)
    except Exception as exc:  # noqa: BLE001 - one unreadable header must not lose the message
        log.debug("unreadable %s header: %s", name, exc)
        return clean_line(value, 2000)


def _words(value: str) -> str:
    """RFC 2047 encoded-words decoded; the raw text if they cannot be."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, ValueError, UnicodeError, AssertionError):
        return value


def _addresses(value: str) -> str:
    """An address list as `Name <addr>, addr`, parsed from the raw value so that an
    encoded-word can never add an address; display names decoded afterwards."""
    shown = []
    for name, addr in email.utils.getaddresses([value]):
        addr = clean_line(addr, 320)
        if not addr:
            continue
        name = clean_line(_words(name), 200)
        if not name:
            shown.append(addr)
        elif re.search(r'[()<>@,;:\\".\[\]]', name):
            shown.append(f'"{email.utils.quote(name)}" <{addr}>')
        else:
            shown.append(f"{name} <{addr}>")
    return clean_line(", ".join(shown), 8000) if shown else clean_line(_words(value), 2000)


def content_type(value: str) -> str:
    """`type/subtype; name=value; …` from a raw Content-Type, parameters in their order,
    names lower-case, values unquoted; RFC 2231 continuations and charsets folded in."""
    head, _, rest = value[:VALUE_LIMIT].partition(";")
    kind = head.strip().lower()
    if not re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", kind):
        kind = "text/plain"
    params: dict[str, str] = {}
    continued: dict[str, dict[int, str]] = {}
    charsets: dict[str, str] = {}
    for item in _split_params(rest):
        name, eq, val = item.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        match = re.fullmatch(r"([^*]+)(?:\*(\d{1,3}))?(\*)?", name)
        if match is None or (match.group(2) is None and match.group(3) is None):
            params.setdefault(name, val)
            continue
        base, index, star = match.groups()
        if star:
            if index in (None, "0") and val.count("'") >= 2:
                charsets[base], _, val = val.split("'", 2)
            val = unquote(val, encoding=_charset(charsets.get(base, "")), errors="replace")
        continued.setdefault(base, {})[int(index or 0)] = val
        params.setdefault(base, "")
    for base, pieces in continued.items():
        params[base] = "".join(pieces[i] for i in sorted(pieces))
    shown = "".join(f"; {n}={clean_line(v, 200)}" for n, v in params.items() if n != "boundary")
    return kind + shown


def _split_params(rest: str) -> list[str]:
    """`a=1; b="x;y"` → ["a=1", 'b="x;y"'], at most PARAM_LIMIT of them."""
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in rest:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            items.append("".join(current))
            current = []
            if len(items) >= PARAM_LIMIT:
                return items
            continue
        current.append(char)
    items.append("".join(current))
    return items


def _charset(name: str) -> str:
    try:
        return codecs.lookup(name or "utf-8").name
    except LookupError:
        return "utf-8"


def _param(value: str, wanted: str) -> str | None:
    head, _, rest = value[:VALUE_LIMIT].partition(";")
    for item in _split_params(rest):
        name, eq, val = item.partition("=")
        if eq and name.strip().lower() == wanted:
            val = val.strip()
            return val[1:-1] if len(val) >= 2 and val[0] == val[-1] == '"' else val
    return None


def body_part_types(body: bytes, boundary: str) -> list[str]:
    """The Content-Type of every MIME part in `body` (a multipart's body), nested
    multiparts included, found by their boundary lines in one linear pass."""
    boundaries = {boundary.encode("utf-8", "replace")}
    types: list[str] = []
    for match in _BOUNDARY_LINE.finditer(body):
        if match.group(1) not in boundaries:
            continue  # a closing delimiter ("--b--") or text that looks like one
        head = header_block(body[match.end() + 1 : match.end() + 1 + 8192])
        found = fields(head)
        raw_type = found.get("content-type", ["text/plain"])[0]
        types.append(content_type(raw_type))
        if types[-1].startswith("multipart/"):
            inner = _param(raw_type, "boundary")
            if inner:
                boundaries.add(inner.encode("utf-8", "replace"))
        if len(types) >= PART_LIMIT:
            break
    return types


TEXT_READ = 8 * 1024  # bytes of an auto-reply's body read, after its header block


def body_text(raw: bytes) -> str:
    """The start of a message's plain text (first text/plain part, else text/html as a
    reader sees it) from a bounded read of it: for auto-replies only, to find a return
    date. A body cut mid-way still gives its first lines; nothing here raises."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = list(message.walk())[:PART_LIMIT]
        for wanted in ("text/plain", "text/html"):
            for part in parts:
                if part.get_content_type() != wanted:
                    continue
                try:
                    text = str(part.get_content())
                except (LookupError, ValueError, AssertionError):
                    text = str(part.get_payload())
                if wanted == "text/html":  # "14&nbsp;December" is a date; a <style> block is not text
                    text = html_to_text(text)
                return text[:TEXT_READ]
    except Exception:  # noqa: BLE001 - hostile input: no text is an answer too
        log.debug("cannot read the text of an auto-reply", exc_info=True)
    return ""
