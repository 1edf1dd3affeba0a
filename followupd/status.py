"""What `followupd status` shows: one row per (interview, step), plus current problems;
with `--all`, the events seen and not followed too."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any

from followupd.errors import FollowupdError
from followupd.model import FollowUp, State
from followupd.policy.plan import split_step
from followupd.policy.reconcile import OPEN
from followupd.policy.say import overlay
from followupd.store import Store

SHORT = 6  # the shortest short id: long enough to read as an id, short enough to type
TITLE = 40


def short_ids(keys: Iterable[str]) -> dict[str, str]:
    """Each key's shortest unique prefix (at least SHORT characters, or the whole key)."""
    keys = sorted(set(keys))
    result = {}
    for i, key in enumerate(keys):
        length = SHORT
        for other in (keys[i - 1] if i else "", keys[i + 1] if i + 1 < len(keys) else ""):
            common = 0
            while common < min(len(key), len(other)) and key[common] == other[common]:
                common += 1
            length = max(length, common + 1)
        result[key] = key[:length]
    return result


def known_keys(store: Store) -> list[str]:
    return [r.uid for r in store.interviews()] + [i.key for i in store.ignored()]


def resolve(text: str, keys: Iterable[str], series: Iterable[str] = ()) -> str:
    """The key a user typed: a whole key (or series UID), else a unique prefix of one."""
    keys = list(dict.fromkeys(keys))
    if text in keys or text in set(series):
        return text
    matches = [k for k in keys if k.startswith(text)] if text else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(sorted(matches)[:5])
        raise FollowupdError(f"{text!r} is the start of several ids ({shown}); type more of it")
    raise FollowupdError(f"no interview or event with id {text!r}; `followupd status --all` lists them")


def ellipsis(text: str, width: int) -> str:
    """One line of at most `width` characters, shortened with "…"."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def _iso(at: datetime | None, zone: tzinfo) -> str | None:
    return at.astimezone(zone).isoformat() if at is not None else None


def rows(store: Store, zone: tzinfo) -> list[dict[str, Any]]:
    """The `status --json` array. Keys are a stable contract: add, never rename."""
    followups: dict[str, list[FollowUp]] = {}
    for f in store.followups():
        followups.setdefault(f.uid, []).append(f)
    told = store.user_notes()
    short = short_ids(known_keys(store))
    result = []
    for record in store.interviews():
        iv = record.interview
        mine = told.get(iv.uid)
        if mine is not None:
            iv = overlay(iv, mine.role, mine.company, mine.notes)
        for f in sorted(followups.get(iv.uid, []), key=lambda f: f.seq):
            result.append(
                {
                    "uid": iv.uid,
                    "title": iv.title,
                    "start": _iso(iv.start, zone),
                    "end": _iso(iv.end, zone),
                    "contacts": [c.email for c in iv.contacts],
                    "step": split_step(f.step)[0],
                    "person": split_step(f.step)[1],
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
                    "notes": iv.notes,
                    "short_id": short.get(iv.uid, iv.uid),
                    "skipped": record.skipped,
                    "reason": None,
                }
            )
    return result


def ignored_rows(store: Store, zone: tzinfo) -> list[dict[str, Any]]:
    """The events seen and not followed, for `status --all`: the same keys as `rows`,
    with `state: "ignored"` and the detector's `reason`."""
    tracked = {r.uid for r in store.interviews()}
    short = short_ids(known_keys(store))
    return [
        {
            "uid": i.key,
            "title": i.title,
            "start": _iso(i.start, zone),
            "end": _iso(i.end, zone),
            "contacts": [],
            "step": None,
            "person": None,
            "state": "ignored",
            "due_at": None,
            "window_start": None,
            "window_end": None,
            "drafted_at": None,
            "sent_at": None,
            "company": None,
            "role": None,
            "note": None,
            "replied_at": None,
            "missing_since": None,
            "stale_at": None,
            "notes": None,
            "short_id": short.get(i.key, i.key),
            "skipped": False,
            "reason": i.reason,
        }
        for i in store.ignored()
        if i.key not in tracked
    ]


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


def table(store: Store, zone: tzinfo, now: datetime, everything: bool = False) -> str:
    data = rows(store, zone)
    ignored = ignored_rows(store, zone) if everything else []
    health = store.health()
    lines = [header(data, ignored, zone, now)]
    if any(h.kind == "auth" for h in health):
        lines[0] += " · re-authorise needed"
    elif health:
        lines[0] += f" · {len(health)} problem{'s' if len(health) != 1 else ''}"
    for h in health:
        problem = ellipsis(h.problem, 200)  # a multi-line problem never breaks the table
        lines.append(f"! {problem}  (since {h.since.astimezone(zone):%a %d %b %H:%M})")
    if not data and not ignored:
        lines.append("No interviews yet. followupd looks for events such as “Interview with Acme” that you accepted.")
        if not everything:
            lines.append("`followupd status --all` also lists the events it saw and did not follow.")
        return "\n".join(lines)
    titles = ("ID", "INTERVIEW", "WHEN", "STEP", "STATE", "DUE", "TO")
    body = []
    for row in [*data, *ignored]:
        start = datetime.fromisoformat(row["start"])
        due = datetime.fromisoformat(row["due_at"]).strftime("%a %d %b %H:%M") if row["due_at"] else "-"
        state = row["state"].replace("_", " ")
        if row["state"] == "ignored":
            state += f" ({row['reason']})"
        elif row["note"] and row["state"] != "sent":
            state += f" ({row['note']})"
        elif row["skipped"] and row["state"] not in ("sent", "drafted"):
            state += " (skipped by you)"
        body.append(
            (
                row["short_id"],
                ellipsis(row["title"], TITLE),
                start.strftime("%a %d %b %H:%M"),
                row["step"] or "-",
                ellipsis(state, 80),
                due,
                ellipsis(row["person"] or ", ".join(row["contacts"]) or "-", 80),
            )
        )
    widths = [max(len(r[i]) for r in (titles, *body)) for i in range(len(titles) - 1)]
    lines.append("")
    for r in (titles, *body):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:-1])) + "  " + r[-1])
    lines.append("")
    lines.append(
        f"Times are in {getattr(zone, 'key', zone)}; `followupd status --json` gives every field"
        + ("; `--all` lists ignored events too." if not everything else "; the ID column is accepted by every command.")
    )
    return "\n".join(lines)


def header(data: list[dict[str, Any]], ignored: list[dict[str, Any]], zone: tzinfo, now: datetime) -> str:
    """What the table shows, counted: "4 interviews · 1 draft waiting · next draft Wed 15:00"."""
    interviews = len({r["uid"] for r in data})
    waiting = sum(1 for r in data if r["state"] == "drafted")
    due = sorted(datetime.fromisoformat(r["due_at"]) for r in data if r["state"] == "planned" and r["due_at"])
    parts = [f"{interviews} interview{'s' if interviews != 1 else ''}"]
    if waiting:
        parts.append(f"{waiting} draft{'s' if waiting != 1 else ''} waiting")
    if due:
        nxt = due[0]
        parts.append("next draft " + ("now" if nxt <= now else nxt.astimezone(zone).strftime("%a %d %b %H:%M")))
    contact = len({r["uid"] for r in data if r["state"] == "needs_contact"})
    if contact:
        parts.append(f"{contact} need{'s' if contact == 1 else ''} a contact")
    if ignored:
        parts.append(f"{len(ignored)} ignored")
    return " · ".join(parts)
