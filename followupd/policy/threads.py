"""Which conversation a draft joins.

- A thank-you answers the latest real message exchanged with the interview's people
  before the interview (`conversational`: not a calendar invitation or RSVP, an
  auto-reply, a bounce or a newsletter).
- A later step answers the step before it *as sent* (`answer`): the Sent copy's
  Message-ID (a client may give the sent message a new one), its References, its
  subject, and on Gmail its thread.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime

from followupd.model import FollowUp, MessageInfo, ThreadHint
from followupd.policy.replies import addresses, arrived_at, not_a_reply

_MESSAGE_IDS = re.compile(r"<[^<>\s]{1,250}>")
MAX_REFERENCES = 20  # the newest of a long chain are enough to thread it


def references(message: MessageInfo) -> tuple[str, ...]:
    return tuple(_MESSAGE_IDS.findall(message.header("references")))[-MAX_REFERENCES:]


def conversational(message: MessageInfo) -> bool:
    """A message a person wrote to a person: worth answering in its thread."""
    if not message.message_id or not_a_reply(message) is not None or message.header("list-id"):
        return False
    lowered = [p.lower() for p in message.part_types]
    return not any(p.startswith(("text/calendar", "application/ics")) for p in lowered)


def hint(message: MessageInfo) -> ThreadHint:
    assert message.message_id is not None
    return ThreadHint(message.header("subject"), message.message_id, references(message), message.thread_id)


def latest(messages: Iterable[MessageInfo], people: Collection[str], before: datetime) -> ThreadHint | None:
    """The latest conversational message from or to any of `people` before `before`."""
    wanted = {p.lower() for p in people}
    best: tuple[datetime, ThreadHint] | None = None
    for message in messages:
        when = arrived_at(message)
        if when is None or when >= before or not conversational(message):
            continue
        involved = addresses(*(v for h in ("from", "to", "cc") for v in message.headers.get(h, ())))
        if wanted & set(involved) and (best is None or when > best[0]):
            best = (when, hint(message))
    return best[1] if best else None


def index_entries(messages: Iterable[MessageInfo], me: Collection[str]) -> list[tuple[str, datetime, ThreadHint]]:
    """(address, when, hint) for each conversational message and each other party of it:
    what a mailbox that cannot be searched (Maildir) keeps in the store."""
    out: list[tuple[str, datetime, ThreadHint]] = []
    for message in messages:
        when = arrived_at(message)
        if when is None or not conversational(message):
            continue
        h = hint(message)
        parties = addresses(*(v for n in ("from", "to", "cc") for v in message.headers.get(n, ())))
        out += [(a, when, h) for a in dict.fromkeys(parties) if a not in me]
    return out


def sent_as(f: FollowUp, message: MessageInfo) -> FollowUp:
    """`f` with what its Sent copy says: the next step answers that message."""
    return f.replace(
        sent_message_id=message.message_id,
        sent_references=references(message),
        sent_subject=message.header("subject") or None,
        sent_thread_id=message.thread_id,
    )


def answer(previous: FollowUp | None) -> ThreadHint | None:
    """The conversation a later step joins: the previous step as it was sent."""
    if previous is None or previous.sent_message_id is None:
        return None
    refs = (*previous.sent_references, previous.sent_message_id)
    return ThreadHint(previous.sent_subject or "", previous.sent_message_id, refs, previous.sent_thread_id)
