"""The commands that give the user their say: `note`, `track`, `skip`, `explain`.

Each takes an id as `followupd status` shows it: a whole key, a series UID (`skip`,
`track`) or a unique prefix (the ID column).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from followupd import policy
from followupd.app import opened, secret_store
from followupd.calendars import TimeRange, open_calendar
from followupd.clock import Clock
from followupd.config import Config
from followupd.detect import Detector, read_fields
from followupd.errors import FollowupdError
from followupd.explain import explain
from followupd.model import Event, Interview, by_uid
from followupd.policy.plan import step_words
from followupd.policy.say import overlay, tracked
from followupd.status import known_keys, resolve, shown_ids
from followupd.store import Store, UserNotes
from followupd.store_say import Ignored

log = logging.getLogger(__name__)

Out = Callable[[str], None]

SPAN_DAYS = 60  # how far around now `track` and `explain` read the calendar

_HELP = """\
# Your notes for {title}.
# Role:, Company: and Notes: work as in an event's description; each one you fill
# in wins over what the event says. Notes may run over several lines.
# Recipients (from the calendar; change them in the event):
{recipients}
# Lines starting with '#' are ignored. Save an unchanged file to change nothing;
# `followupd note {short} --clear` removes your notes. A draft not made yet will use
# them; a draft already made is not rewritten.
"""


def note(config: Config, store: Store, clock: Clock, key: str, text: str | None, clear: bool, out: Out) -> None:
    uid = resolve(key, [r.uid for r in store.interviews()], shown=shown_ids(store, config.me.timezone))
    record = store.interview(uid)
    assert record is not None
    now = clock.now()
    if clear:
        store.set_user_notes(None, uid, now)
        out(f"removed your notes for {uid}; drafts not made yet use the event's text again")
        return
    mine = store.user_notes(uid).get(uid)
    current = record.interview if mine is None else overlay(record.interview, mine.role, mine.company, mine.notes)
    if text is None:
        text = _edit(current, key)
        if text is None:
            out("no change")
            return
        given = read_fields(text)
    else:
        given = read_fields(text, unlabelled_is_notes=True)
    if given.role is None and given.company is None and given.notes is None:
        raise FollowupdError("nothing to store: write Role:, Company: or Notes: lines (or use --clear)")
    previous = mine or UserNotes(uid, None, None, None)
    merged = UserNotes(
        uid,
        given.role if given.role is not None else previous.role,
        given.company if given.company is not None else previous.company,
        given.notes if given.notes is not None else previous.notes,
    )
    store.set_user_notes(merged, uid, now)
    made = [step_words(f.step) for f in store.followups(uid) if f.message_id is not None]
    out(f"saved your notes for {uid}")
    if made:
        drafts = "draft was" if len(made) == 1 else "drafts were"
        out(f"(the {', '.join(made)} {drafts} made already and {'is' if len(made) == 1 else 'are'} not rewritten)")


def _prefill(interview: Interview, short: str) -> str:
    people = "\n".join(f"#   {c.email}" + (f" ({c.name})" if c.name else "") for c in interview.contacts)
    notes = (interview.notes or "").strip()
    head = f"Role: {interview.role or ''}\nCompany: {interview.company or ''}\nNotes: {notes}\n\n"
    return head + _HELP.format(title=interview.title, recipients=people or "#   (nobody yet)", short=short)


def _strip(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()


def _edit(interview: Interview, short: str) -> str | None:
    """Open $VISUAL/$EDITOR on the prefilled text, as `git commit` does; None when unchanged."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    before = _prefill(interview, short)
    with tempfile.TemporaryDirectory(prefix="followupd-note-") as tmp:
        path = Path(tmp) / "NOTES.txt"
        path.write_text(before, encoding="utf-8")
        # Through the shell like git: EDITOR may hold arguments ("code --wait").
        result = subprocess.run(["/bin/sh", "-c", f'{editor} "$1"', editor, str(path)], check=False)
        if result.returncode != 0:
            raise FollowupdError(f"the editor ({editor}) exited with status {result.returncode}; nothing changed")
        after = path.read_text(encoding="utf-8")
    if _strip(after) == _strip(before):
        return None
    return _strip(after)


def read_events(config: Config, clock: Clock, span_days: int = SPAN_DAYS) -> list[Event]:
    """Read the calendar (read-only) around now, as `preview` does before a first pass.

    Without the detector's keyword pre-check (`relevant`), so an event with no keyword,
    which a pass never parses, is read too: `track` and `explain` are about those."""
    now = clock.now()
    back = config.steps[0].before if config.steps else timedelta(0)
    source = open_calendar(config, secret_store(config))
    try:
        span = TimeRange(now - back - timedelta(days=span_days), now + timedelta(days=span_days))
        return list(source.fetch(None, span).events)
    finally:
        source.close()


def _matching(events: list[Event], key: str) -> list[Event]:
    return [e for e in events if e.key == key or e.uid == key]


def track(config: Config, store: Store, clock: Clock, key: str, undo: bool, out: Out) -> None:
    """Make an ignored event (or a whole series) an interview; `--undo` forgets that."""
    series = {r.interview.event_uid for r in store.interviews()} | {i.event_uid for i in store.ignored()}
    shown = shown_ids(store, config.me.timezone)
    events = read_events(config, clock)
    try:
        target = resolve(key, known_keys(store), series, shown)
    except FollowupdError:
        if not _matching(events, key):
            raise
        target = key  # in the calendar, but never read: no keyword, or pruned
    now = clock.now()
    detector = Detector(config.me, config.detect, config.window.business_hours)
    found = _matching(events, target)
    if undo:
        store.set_correction(target, None, now)
        readings = [(e, detector.detect(e)) for e in found]
        undone = store.untrack(
            [
                Ignored(e.key, e.uid, e.summary or "(untitled)", e.start, e.end, d.reason)
                for e, d in readings
                if not d.interview
            ],
            now,
        )
        out(f"no longer tracking {_named(shown, target)}: the detector decides again")
        if undone:
            out(f"{_count(len(undone), 'interview')} without a draft listed as ignored again (`status --all`)")
        return
    store.set_correction(target, "track", now)
    if not found:
        out(f"tracking {target}: it will be followed when the calendar shows it")
        return
    seen = [policy.Seen(e.key, detector.detect(e, tracked=True).interview, "tracked by you") for e in found]
    records = {r.uid: r for r in store.interviews()}
    followups = by_uid(store.followups())
    settings = policy.Settings(
        steps=config.steps,
        schedule=policy.Schedule(config.me.timezone, config.window.business_hours, config.window.weekdays),
        me=config.me.addresses,
        started=store.created_at,
    )
    actions = policy.calendar(records, followups, seen, [], None, settings)
    saved = [a for a in actions if isinstance(a, policy.SaveInterview)]
    store.record(saved, now)
    store.save_ignored([], [a.interview.uid for a in saved], None, now)
    for r in store.interviews():
        if r.skipped and (r.uid == target or r.interview.event_uid == target):
            store.set_skipped(r.uid, False, now)
    refused = Counter(a.reason for a in actions if isinstance(a, policy.IgnoreEvent))
    if len(found) > 1:  # a series: what became of its occurrences, counted
        title = found[0].summary or "(untitled)"
        out(f"tracking every occurrence of “{title}” ({shown.get(target, target)}), those to come included:")
        out(f"  {_count(len(saved), 'occurrence')} now followed as interviews")
        for reason, count in refused.items():
            out(f"  {_count(count, 'occurrence')} not: {reason}")
    else:
        for reason in refused:
            out(f"{target}: {reason}; nothing to follow up")
        for a in saved:
            out(f"tracking {a.interview.uid} ({a.interview.title}) as an interview")
    if not saved and not refused:
        out(f"{target} is tracked already")


def _named(shown: dict[str, str], key: str) -> str:
    """A key as `status` shows it: the short id, with the whole key when they differ
    and the key is short enough to read."""
    short = shown.get(key, key)
    if short == key or len(key) > 40:
        return short
    return f"{short} ({key})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def skip(store: Store, key: str, undo: bool, now: datetime, zone: tzinfo, out: Out) -> None:
    """Skip one interview, or with a series UID every occurrence, those to come included."""
    records = store.interviews()
    series = {r.interview.event_uid for r in records if r.interview.recurrence_id is not None}
    series |= {i.event_uid for i in store.ignored() if "#" in i.key}  # skipped ahead of any change
    target = resolve(key, [r.uid for r in records], series, shown_ids(store, zone))
    hits = [r for r in records if r.uid == target or (target in series and r.interview.event_uid == target)]
    if not hits and target not in series:
        raise FollowupdError(f"no interview with uid {key!r}; `followupd status` lists them")
    for r in hits:
        store.set_skipped(r.uid, not undo, now)
    if target in series or len(hits) > 1:
        store.set_correction(target, None if undo else "skip", now)
    verb = "following up on" if undo else "skipping"
    if target in series:
        out(f"{verb} every occurrence of {target} ({len(hits)} known now)")
    else:
        out(f"{verb} {target}")


def explain_command(config: Config, text: str, clock: Clock, out: Out) -> None:
    key: str = text
    mine: UserNotes | None = None
    corrections: dict[str, str] = {}
    state: str | None = None
    if (config.state_dir / "state.sqlite3").exists():
        store = Store.open(config.state_dir, clock.now(), readonly=True)
        try:
            try:
                key = resolve(text, known_keys(store), shown=shown_ids(store, config.me.timezone))
            except FollowupdError:
                pass  # not seen by a pass: maybe in the calendar all the same
            mine = store.user_notes(key).get(key)
            corrections = store.corrections()
            states = [f"{step_words(f.step)} {f.state}" for f in store.followups(key)]
            state = ", ".join(states) or None
        finally:
            store.close()
    events = [e for e in read_events(config, clock) if e.key == key or e.uid == key]
    if not events:
        raise FollowupdError(
            f"no event {text!r} in {config.calendar.label} within {SPAN_DAYS} days of now; "
            "give an id from `followupd status --all` or the event's UID"
        )
    for event in events:
        out("\n".join(explain(config, event, tracked(event.key, event.uid, corrections), mine, state, clock.now())))


def correct(config: Config, args: argparse.Namespace, clock: Clock, out: Out) -> None:
    """`note`, `track` and `skip`, under the pass lock; the plan is re-derived after."""
    with opened(config, clock) as (store, engine):
        if args.command == "note":
            note(config, store, clock, args.uid, args.text, args.clear, out)
        elif args.command == "track":
            track(config, store, clock, args.uid, args.undo, out)
            engine.replan()
        else:
            skip(store, args.uid, args.undo, clock.now(), config.me.timezone, out)
            engine.replan()
