"""What `followupd status` shows: one row per (interview, step), plus current problems."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from followupd.model import FollowUp, State
from followupd.policy.reconcile import OPEN
from followupd.store import Store


def _iso(at: datetime | None, zone: tzinfo) -> str | None:
    return at.astimezone(zone).isoformat() if at is not None else None


def rows(store: Store, zone: tzinfo) -> list[dict[str, Any]]:
    """The `status --json` array. Keys are a stable contract: add, never rename."""
    followups: dict[str, list[FollowUp]] = {}
    for f in store.followups():
        followups.setdefault(f.uid, []).append(f)
    result = []
    for record in store.interviews():
        iv = record.interview
        for f in sorted(followups.get(iv.uid, []), key=lambda f: f.seq):
            result.append(
                {
                    "uid": iv.uid,
                    "title": iv.title,
                    "start": _iso(iv.start, zone),
                    "end": _iso(iv.end, zone),
                    "contacts": [c.email for c in iv.contacts],
                    "step": f.step,
                    "state": str(f.state),
                    "due_at": _iso(f.due_at, zone),
                    "window_start": _iso(f.window_start, zone),
                    "window_end": _iso(f.window_end, zone),
                    "drafted_at": _iso(f.drafted_at, zone),
                    "sent_at": _iso(f.sent_at, zone),
                    "company": iv.company,
                    "role": iv.role,
                    "note": f.note,
                    "replied_at": _iso(record.replied_at, zone),
                    "missing_since": _iso(f.missing_since, zone),
                    "stale_at": _iso(f.stale_at, zone),
                }
            )
    return result


def summary(store: Store, zone: tzinfo, now: datetime) -> str:
    """One line for people and for systemd's STATUS=: what is tracked and what is next."""
    followups = store.followups()
    open_uids = {f.uid for f in followups if f.state in OPEN}
    records = [r for r in store.interviews() if r.uid in open_uids]
    upcoming = sorted(f.due_at for f in followups if f.state == State.PLANNED and f.due_at is not None)
    waiting = sum(1 for f in followups if f.state == State.DRAFTED)
    contact = len({f.uid for f in followups if f.state == State.NEEDS_CONTACT})
    parts = [f"{len(records)} interview{'s' if len(records) != 1 else ''} tracked"]
    if upcoming:
        nxt = upcoming[0]
        parts.append("next draft " + ("now" if nxt <= now else nxt.astimezone(zone).strftime("%a %d %b %H:%M")))
    if waiting:
        parts.append(f"{waiting} draft{'s' if waiting != 1 else ''} waiting for you")
    if contact:
        parts.append(f"{contact} need{'s' if contact == 1 else ''} a contact")
    problems = store.health()
    if any(h.kind == "auth" for h in problems):
        parts.append("re-authorise needed")
    elif problems:
        parts.append(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}")
    return " · ".join(parts)


def table(store: Store, zone: tzinfo, now: datetime) -> str:
    lines = [summary(store, zone, now)]
    for h in store.health():
        lines.append(f"! {h.problem}  (since {h.since.astimezone(zone):%a %d %b %H:%M})")
    data = rows(store, zone)
    if not data:
        lines.append("No interviews yet. followupd looks for events such as “Interview with Acme” that you accepted.")
        return "\n".join(lines)
    header = ("INTERVIEW", "WHEN", "STEP", "STATE", "DUE", "TO")
    body = []
    for row in data:
        start = datetime.fromisoformat(row["start"])
        due = datetime.fromisoformat(row["due_at"]).strftime("%a %d %b %H:%M") if row["due_at"] else "-"
        state = row["state"].replace("_", " ")
        if row["note"] and row["state"] in (
            "needs_contact",
            "replied",
            "cancelled",
            "missed",
            "dismissed",
            "planned",
            "drafting",
            "drafted",
        ):
            state += f" ({row['note']})"
        body.append(
            (
                row["title"][:40],
                start.strftime("%a %d %b %H:%M"),
                row["step"],
                state,
                due,
                ", ".join(row["contacts"]) or "-",
            )
        )
    widths = [max(len(r[i]) for r in (header, *body)) for i in range(len(header) - 1)]
    lines.append("")
    for r in (header, *body):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:-1])) + "  " + r[-1])
    lines.append("")
    lines.append(f"Times are in {getattr(zone, 'key', zone)}; `followupd status --json` gives every field.")
    return "\n".join(lines)
