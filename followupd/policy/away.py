"""Out of office: an auto-reply from someone the next step writes to, saying when they
are back, moves that step's window so it opens on the first business day after it.

Which messages are worth reading (`wanted`: auto-replies from an active interview's
people, nothing else), and the return date in their text (`return_date`). The date is
read by `dateparser` (its bundled data only: it never downloads anything), from the
words after a phrase such as "until", "back on", "bis", "jusqu'au", "hasta"; a reply
without such a date changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from followupd.model import InterviewRecord, MessageInfo
from followupd.policy.actions import Away
from followupd.policy.replies import addresses, arrived_at, not_a_reply

# How much of an auto-reply's text is read (the engine asks the mailbox for no more).
TEXT_LIMIT = 8 * 1024
# A return date further than this from the auto-reply is a misreading, not a holiday.
HORIZON = timedelta(days=120)
_AUTO_REASONS = ("Auto-Submitted", "an X-Autoreply", "Precedence: auto_reply", "an auto-reply subject")
# The phrase before a return date, in English, German, French and Spanish.
_PHRASE = re.compile(
    r"(?i)(?:\buntil\b|\btill\b|\bthrough\b|\bback\s+(?:in\s+the\s+office\s+)?(?:on|from)?|\breturn(?:ing)?\s+(?:on\s+)?"
    r"|\bbis\s+(?:einschlie(?:ß|ss)lich\s+|einschl\.\s+|zum\s+|am\s+)?|\bab\s+(?:dem\s+|den\s+)?|\bwieder\s+(?:am\s+|ab\s+)?"
    r"|\bjusqu['’]\s*(?:au|à)\s+|\bretour\s+(?:le\s+)?|\bde\s+retour\s+(?:le\s+)?"
    r"|\bhasta\s+(?:el\s+)?|\bregreso\s+(?:el\s+)?|\bvuelta\s+(?:el\s+)?|\ba\s+partir\s+del?\s+)"
    r"(?P<rest>[^\n]{3,60})"
)
_WORD = re.compile(r"\S+")
# "14.12." (German, French numeric dates without a year), which dateparser does not
# read, as "14/12", which it does.
_DOTTED = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.?(?![\d.])")


def wanted(records: Sequence[InterviewRecord], messages: Sequence[MessageInfo]) -> list[MessageInfo]:
    """The new messages whose text is worth reading: auto-replies in INBOX from someone an
    interview still waiting for its next step writes to. Never any other mail."""
    people = {c.email for r in records for c in r.interview.contacts}
    return [m for m in messages if m.folder == "inbox" and _auto(m) and set(addresses(m.header("from"))) & people]


def _auto(message: MessageInfo) -> bool:
    reason = not_a_reply(message) or ""
    return reason.startswith(_AUTO_REASONS)


def return_date(text: str, received: datetime, languages: Sequence[str]) -> date | None:
    """The day someone says they are back (or away until), from the text of their
    auto-reply received at `received`; None if it names none in the next HORIZON."""
    import dateparser  # loaded only when an auto-reply is read

    settings: Any = {
        "RELATIVE_BASE": received.astimezone(UTC).replace(tzinfo=None),
        "PREFER_DATES_FROM": "future",
        "REQUIRE_PARTS": ["day", "month"],
        "DATE_ORDER": "DMY",
        "STRICT_PARSING": False,
    }
    for match in _PHRASE.finditer(text[:TEXT_LIMIT]):
        words = _WORD.findall(_DOTTED.sub(r"\1/\2", match["rest"]))[:6]
        # The longest run of words that reads as a date: "Monday 14 December", "14/12".
        for end in range(len(words), 0, -1):
            phrase = " ".join(words[:end]).strip(" ,.;:()!-")
            if not phrase or not any(ch.isdigit() for ch in phrase):
                continue
            found = dateparser.parse(phrase, languages=list(languages), settings=settings)
            if found is None:
                continue
            day = found.date()
            if received.date() <= day <= (received + HORIZON).date():
                return day
            break
    return None


def away(
    records: Sequence[InterviewRecord],
    messages: Sequence[MessageInfo],
    texts: Mapping[str, str],
    languages: Collection[str],
) -> list[Away]:
    """`Away` for each interview one of whose people sent an auto-reply with a return date."""
    out: list[Away] = []
    for message in messages:
        text = texts.get(message.key)
        received = arrived_at(message)
        if text is None or received is None:
            continue
        day = return_date(message.header("subject") + "\n" + text, received, tuple(languages))
        if day is None:
            continue
        until = datetime(day.year, day.month, day.day, tzinfo=UTC)
        sender = set(addresses(message.header("from")))
        for record in records:
            contact = next((c for c in record.interview.contacts if c.email in sender), None)
            if contact is None or (record.away_until is not None and record.away_until >= until):
                continue
            out.append(Away(record.uid, until, contact.first_name or contact.email))
    return out
