"""When did a message arrive? The earliest evidence a sync tool cannot fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# How far a time may lie after the server's own time and still count (clock skew).
SKEW = timedelta(minutes=15)
# A Date header this much older than the user's server's Received stamp is a sender's
# wrong clock, not evidence (no mail queue holds a message that long).
DATE_BEFORE_RECEIVED = timedelta(days=7)
# Before this, a time is a zeroed or broken clock (1970, 1980 from FAT), not evidence.
EPOCH_FLOOR = datetime(1995, 1, 1, tzinfo=UTC)


def arrival(delivered: datetime | None, date: datetime | None, received: datetime | None) -> datetime | None:
    """When a message arrived, from evidence a sync tool cannot fake: the earliest of the
    topmost Received stamp (the user's own server), the Date header when plausible, and
    the delivery time the backend knows (file time, INTERNALDATE).

    A sync tool that downloads an old message late (mbsync's default `CopyArrivalDate
    no`, offlineimap) or a migration that APPENDs it gives it a new file time or
    INTERNALDATE, but leaves its Received and Date headers alone. A too-early time can
    only make a real reply go unnoticed; a too-late one stops a sequence and may delete
    a draft, so the earliest plausible evidence wins. Implausible: before 1995, more
    than SKEW after the server's time, a Date more than a week before the Received stamp.
    """
    server = delivered if delivered is not None and delivered >= EPOCH_FLOOR else None
    if received is not None and (received < EPOCH_FLOOR or (server is not None and received > server + SKEW)):
        received = None  # a broken clock, or a stamp from after the file existed
    evidence = [t for t in (server, received) if t is not None]
    latest = max(evidence, default=None)
    if (
        date is not None
        and date >= EPOCH_FLOOR
        and (latest is None or date <= latest + SKEW)
        and (received is None or date >= received - DATE_BEFORE_RECEIVED)
    ):
        evidence.append(date)
    return min(evidence, default=delivered)
