"""`followupd preview`: a step's draft as it will read, before or after it is drafted.

Read-only: the store is opened read-only (when there is one) and an interview not
stored yet is read from the calendar, so templates can be tried before a first pass.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from followupd.app import secret_store
from followupd.calendars import TimeRange, open_calendar
from followupd.clock import Clock
from followupd.compose import Composer, render_for_reading
from followupd.config import Config, ResolvedStep
from followupd.detect import Detector
from followupd.engine import LOOKAHEAD
from followupd.errors import FollowupdError
from followupd.model import FollowUp, Interview
from followupd.policy.plan import person_step, step_words
from followupd.policy.say import overlay
from followupd.status import resolve, shown_ids
from followupd.store import Store


def preview(
    config: Config, step_name: str | None, uid: str, clock: Clock, *, explicit_now: bool, person: str | None = None
) -> str:
    """The text `followupd preview` prints: for each draft the step makes (one per
    person for a `per_person` step), a heading, then the draft as it will read, with
    the user's `followupd note` over the calendar's text, as a pass would write it."""
    steps = {s.name: s for s in config.steps}
    step = steps.get(step_name) if step_name else config.steps[0]
    if step is None:
        raise FollowupdError(f"no step named {step_name!r}; steps are: {', '.join(steps)}")
    store = None
    if (config.state_dir / "state.sqlite3").exists():
        store = Store.open(config.state_dir, clock.now(), readonly=True)
    try:
        interview = find_interview(config, store, uid, clock)
        mine = store.user_notes(interview.uid).get(interview.uid) if store is not None else None
        if mine is not None:
            interview = overlay(interview, mine.role, mine.company, mine.notes)
        people: list[str | None] = [None]
        if step.per_person and interview.contacts:
            people = [c.email for c in interview.contacts]
        if person is not None:
            if person.lower() not in people:
                if step.per_person:
                    why = f"; its drafts go to {', '.join(p for p in people if p) or 'nobody yet'}"
                else:
                    why = f" of its own: [[steps]] {step.name} is not per_person, so leave out --person"
                raise FollowupdError(f"{person} gets no {step.name} draft of {interview.uid}{why}")
            people = [person.lower()]
        followups = {p: store.followup(interview.uid, person_step(step.name, p)) if store else None for p in people}
    finally:
        if store is not None:
            store.close()
    composer = Composer(config.me, config.me.timezone, config.templates_dir)
    blocks = []
    for who in people:
        at, when = preview_time(config, interview, step, followups[who], explicit_now, clock.now())
        message = composer.compose(step, interview, at, person=who)
        blocks.append(
            "\n".join(
                [
                    f"{step_words(person_step(step.name, who))} for {interview.uid}: {when}",
                    f"(as it will read when it is drafted, {local_time(at, config.me.timezone)})\n",
                    render_for_reading(message),
                ]
            )
        )
    return "\n\n".join(blocks)


def find_interview(config: Config, store: Store | None, uid: str, clock: Clock) -> Interview:
    if store is not None:
        try:
            uid = resolve(uid, [r.uid for r in store.interviews()], shown=shown_ids(store, config.me.timezone))
        except FollowupdError:
            pass  # maybe not stored yet: the calendar is read below
    record = store.interview(uid) if store is not None else None
    if record is not None:
        return record.interview
    # Not stored yet: read the calendar (read-only) so templates can be tried before a first pass.
    now = clock.now()
    detector = Detector(config.me, config.detect, config.window.business_hours)
    source = open_calendar(config, secret_store(config), detector.mentions_keyword)
    try:
        span = TimeRange(now - config.steps[0].before - LOOKAHEAD, now + LOOKAHEAD)
        for event in source.fetch(None, span).events:
            if event.key == uid:
                found = detector.detect(event).interview
                if found is not None:
                    return found
    finally:
        source.close()
    raise FollowupdError(
        f"no interview with uid {uid!r}; `followupd status` lists them, "
        "`followupd explain ID` says why an event is not one"
    )


def local_time(at: datetime, zone: tzinfo) -> str:
    local = at.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M %Z}"


def preview_time(
    config: Config,
    interview: Interview,
    step: ResolvedStep,
    followup: FollowUp | None,
    explicit: bool,
    now: datetime,
) -> tuple[datetime, str]:
    """The instant a draft is rendered as of, and a phrase saying why: the step's due
    time, so "yesterday" and "on Tuesday" read as they will in the real draft."""
    zone = config.me.timezone
    state = str(followup.state) if followup is not None else "not planned yet"
    if explicit:
        return now, f"{state}; rendered as of --now"
    if followup is not None and followup.drafted_at is not None:
        drafted = f"drafted {local_time(followup.drafted_at, zone)}"
        return followup.drafted_at, drafted if state == "drafted" else f"{state} ({drafted})"
    if followup is not None and followup.due_at is not None:
        return followup.due_at, f"{state}, due {local_time(followup.due_at, zone)}"
    # Not planned yet: the first step counts from the interview's end, a later one from
    # when the previous step is sent; show it as of the earliest time it could be due.
    at = interview.end
    for s in config.steps:
        at = at + s.after
        if s.name == step.name:
            break
    return at, f"{state}; its due time is not known yet, shown as of {local_time(at, zone)}"
