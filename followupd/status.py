"""What `followupd status` shows: one row per (interview, step), plus current problems;
with `--all`, the events seen and not followed too."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from followupd.errors import FollowupdError
from followupd.model import State, by_uid
from followupd.policy.plan import split_step
from followupd.policy.reconcile import OPEN
from followupd.policy.say import overlay
from followupd.store import Store

SHORT = 6  # a short id made of a cut prefix is at least this long, unless the UID is shorter
LONGEST = 16  # a unique prefix longer than this reads as noise: a hash of the UID is shown instead
TITLE = 40
_OCCURRENCE = re.compile(r"^(?P<uid>.+)#(?P<at>\d{8}T\d{6}Z)$")


def split_key(key: str) -> tuple[str, datetime | None]:
    """(event UID, occurrence start) of an interview key; None for a one-off event."""
    match = _OCCURRENCE.match(key)
    if match is None:
        return key, None
    return match["uid"], datetime.strptime(match["at"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def short_ids(keys: Iterable[str], zone: tzinfo = UTC) -> dict[str, str]:
    """Each key's short id, the ID column of `status`, and each recurring series' UID's.

    A one-off event's is the start of its UID, long enough to be unique, cut at the
    end of a word when one ends soon ("hooli" for hooli-onsite-2026@hooli.com). An
    occurrence of a series adds its local date to the series' ("sync#1104"), and the
    year or time only when the date alone is not unique. A UID that only a long
    prefix tells apart (Outlook's, which share 40 hex digits) gets six characters and
    a hash of the rest ("040000~9f2c").
    """
    keys = sorted(set(keys))
    series: dict[str, list[tuple[str, datetime]]] = {}
    uids: set[str] = set()
    for key in keys:
        uid, at = split_key(key)
        uids.add(uid)
        if at is not None:
            series.setdefault(uid, []).append((key, at))
    bases = _bases(sorted(uids))
    result = {key: bases[key] for key in keys if key in bases and split_key(key)[1] is None}
    for uid, occurrences in series.items():
        result[uid] = bases[uid]
        for key, label in _occurrence_labels(occurrences, zone).items():
            result[key] = f"{bases[uid]}#{label}"
    taken: dict[str, str] = {}
    for key in sorted(result, key=len):  # a clash the rules above allow: the whole key
        if result[key] in taken:
            result[key] = key
        taken[result[key]] = key
    return result


def _bases(uids: list[str]) -> dict[str, str]:
    result = {}
    for i, uid in enumerate(uids):
        common = 0
        for other in (uids[i - 1] if i else "", uids[i + 1] if i + 1 < len(uids) else ""):
            common = max(common, len(os.path.commonprefix([uid, other])))
        need = min(common + 1, len(uid))
        if need > LONGEST:
            result[uid] = f"{uid[:SHORT]}~{hashlib.sha256(uid.encode()).hexdigest()[:4]}"
            continue
        ends = [m.end() for m in re.finditer(r"[^\W_]+", uid) if m.end() >= max(need, 4)]
        if ends and ends[0] <= max(need, SHORT) + SHORT:
            result[uid] = uid[: ends[0]]
        else:
            result[uid] = uid[: max(need, SHORT)]
    return result


def _occurrence_labels(occurrences: list[tuple[str, datetime]], zone: tzinfo) -> dict[str, str]:
    for form in ("%m%d", "%Y%m%d", "%Y%m%dT%H%M"):
        labels = {key: at.astimezone(zone).strftime(form) for key, at in occurrences}
        if len(set(labels.values())) == len(labels):
            return labels
    return {key: at.strftime("%Y%m%dT%H%M%SZ") for key, at in occurrences}


def known_keys(store: Store) -> list[str]:
    return [r.uid for r in store.interviews()] + [i.key for i in store.ignored()]


def shown_ids(store: Store, zone: tzinfo) -> dict[str, str]:
    """The short ids `status` shows, and those of the recurring series."""
    return short_ids(known_keys(store), zone)


def resolve(text: str, keys: Iterable[str], series: Iterable[str] = (), shown: Mapping[str, str] | None = None) -> str:
    """The key a user typed: a whole key or series UID, an id of `status`'s ID column
    (`shown`, from `shown_ids`), else a unique prefix of a key."""
    keys = list(dict.fromkeys(keys))
    series = set(series)
    if text in keys or text in series:
        return text
    named = [key for key, short in (shown or {}).items() if short == text]
    for key in named:
        if key in keys or key in series:
            return key
        occurrences = sorted(s for k, s in (shown or {}).items() if k != key and split_key(k)[0] == key)
        if occurrences:
            raise FollowupdError(f"{text!r} is a recurring series; name one occurrence ({', '.join(occurrences[:5])})")
    matches = [k for k in keys if k.startswith(text)] if text else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        some = ", ".join(sorted((shown or {}).get(m, m) for m in matches)[:5])
        raise FollowupdError(f"{text!r} is the start of several ids ({some}); type more of it")
    raise FollowupdError(f"no interview or event with id {text!r}; `followupd status --all` lists them")


def ellipsis(text: str, width: int) -> str:
    """One line of at most `width` characters, shortened with "…"."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def _iso(at: datetime | None, zone: tzinfo) -> str | None:
    return at.astimezone(zone).isoformat() if at is not None else None


def rows(store: Store, zone: tzinfo) -> list[dict[str, Any]]:
    """The `status --json` array. Keys are a stable contract: add, never rename."""
    followups = by_uid(store.followups())
    told = store.user_notes()
    short = shown_ids(store, zone)
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
    short = shown_ids(store, zone)
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
    for row in [*data, *_one_per_series(ignored)]:
        start = datetime.fromisoformat(row["start"])
        when = start.strftime("%a %d %b") + " all day" if _all_day(start, row["end"]) else f"{start:%a %d %b %H:%M}"
        if row.get("more"):
            when += f" and {row['more']} more"
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
                when,
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


def _one_per_series(ignored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table's ignored rows: a recurring series ignored for one reason is one row,
    under the series' id (which `track` and `skip` take), counting its other occurrences."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for row in ignored:
        uid, at = split_key(row["uid"])
        group = (uid, row["reason"])
        if at is not None and group in groups:
            groups[group]["more"] += 1
            continue
        shown = dict(row, more=0)
        if at is not None:
            groups[group] = shown
        out.append(shown)
    for row in out:
        if row["more"]:
            row["short_id"] = row["short_id"].rsplit("#", 1)[0]
    return out


def _all_day(start: datetime, end: str) -> bool:
    """Whether a span runs from midnight to midnight, whole days (in the shown zone)."""
    finish = datetime.fromisoformat(end)
    midnight = start.time() == finish.time() == datetime.min.time()
    return midnight and finish > start


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
