"""A small evaluator for the Gmail search syntax the client uses (`q=`).

Supported: from: to: cc: subject: rfc822msgid: after: before: (epoch seconds or
YYYY/MM/DD), in:inbox|sent|drafts|anywhere|spam|trash, label:, is:unread, bare words,
`-` negation, OR, ( ) and { } groups. Unknown operators match nothing, as a typo does
in Gmail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

_TOKEN = re.compile(r'\s*(\(|\)|\{|\}|-?"[^"]*"|-?[^\s(){}]+)')


class Searchable(Protocol):
    labels: set[str]
    internal_ms: int

    def header(self, name: str) -> str: ...

    def text(self) -> str: ...


Predicate = Callable[[Searchable], bool]


def compile_query(q: str) -> Predicate:
    tokens = [t for t in _TOKEN.findall(q) if t.strip()]
    position = 0

    def parse_or(until: str | None) -> Predicate:
        nonlocal position
        alternatives: list[list[Predicate]] = [[]]
        any_of = until == "}"
        while position < len(tokens):
            token = tokens[position]
            if until is not None and token == until:
                position += 1
                break
            position += 1
            if token == "OR":
                alternatives.append([])
                continue
            if token in ("(", "{"):
                alternatives[-1].append(parse_or(")" if token == "(" else "}"))
            else:
                alternatives[-1].append(_term(token))
        if any_of:  # {a b} means a OR b
            flat = [p for group in alternatives for p in group]
            return lambda m: any(p(m) for p in flat)
        return lambda m: any(all(p(m) for p in group) for group in alternatives if group) or not any(alternatives)

    return parse_or(None)


def _term(token: str) -> Predicate:
    negate = token.startswith("-")
    if negate:
        token = token[1:]
    predicate = _positive(token.strip('"'))
    return (lambda m: not predicate(m)) if negate else predicate


def _positive(token: str) -> Predicate:
    key, sep, value = token.partition(":")
    if not sep:
        word = token.lower()
        return lambda m: word in m.text().lower()
    key, value = key.lower(), value.strip('"').lower()
    if key in ("from", "to", "cc", "subject"):
        return lambda m: value in m.header(key).lower()
    if key == "rfc822msgid":
        wanted = value.strip("<>")
        return lambda m: m.header("message-id").strip().strip("<>").lower() == wanted
    if key in ("after", "before"):
        ms = _instant(value)
        if key == "after":
            return lambda m: m.internal_ms >= ms
        return lambda m: m.internal_ms < ms
    if key in ("in", "label", "is"):
        label = {
            "drafts": "DRAFT",
            "draft": "DRAFT",
            "sent": "SENT",
            "inbox": "INBOX",
            "spam": "SPAM",
            "trash": "TRASH",
            "unread": "UNREAD",
            "starred": "STARRED",
        }.get(value, value.upper())
        if value == "anywhere":
            return lambda m: True
        return lambda m: label in m.labels
    return lambda m: False


def _instant(value: str) -> int:
    if value.isdigit():
        return int(value) * 1000
    day = datetime.strptime(value.replace("-", "/"), "%Y/%m/%d").replace(tzinfo=UTC)
    return int(day.timestamp() * 1000)
