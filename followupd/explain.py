"""`followupd explain UID`: what followupd read from one event, in plain words."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from followupd.config import Config
from followupd.detect import Detector, read_fields
from followupd.html_text import description_text
from followupd.model import Event
from followupd.store import UserNotes
from followupd.text import clean_line


def _at(at: datetime, zone: tzinfo) -> str:
    return f"{_day(at, zone)} {at.astimezone(zone):%H:%M}"


def _day(at: datetime, zone: tzinfo) -> str:
    local = at.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y}"


def explain(
    config: Config, event: Event, tracked: bool, mine: UserNotes | None, state: str | None, now: datetime
) -> list[str]:
    zone = config.me.timezone
    detector = Detector(config.me, config.detect, config.window.business_hours)
    summary = clean_line(event.summary)
    description = description_text(event.description)
    detection = detector.detect(event, tracked)
    lines = [f"{event.key}", f"  title:        {summary or '(untitled)'}"]
    if event.all_day:
        first, last = _day(event.start, zone), _day(event.end - timedelta(seconds=1), zone)
        days = first if first == last else f"{first} – {last}"
        lines.append(f"  when:         {days}, all day (no times: an interview only if you track it)")
    else:
        lines.append(
            f"  when:         {_at(event.start, zone)} – {_at(event.end, zone)} ({getattr(zone, 'key', zone)})"
        )
    words = sorted(detector.keywords_in(f"{summary}\n{description}"))
    lines.append(f"  keywords:     {', '.join(words) if words else 'none of [detect] keywords'}")
    excluded = sorted(detector.excluded_in(summary))
    if excluded:
        lines.append(f"  exclude:      the title has {', '.join(excluded)}")
    organiser = detector.excluded_organiser(event)
    if organiser:
        lines.append(f"  organiser:    {event.organizer.email if event.organizer else ''} matches {organiser}")
    cancelled, why = detector.participation(event)
    mine_status = [a.partstat for a in event.attendees if detector.is_me(a)]
    answer = ", ".join(str(p) for p in mine_status) if mine_status else "you are not among the attendees"
    lines.append(f"  your answer:  {answer}" + (f" → {why}" if cancelled else " → counts"))
    iv = detection.interview
    # A refused event is read as `track` would read it: what tracking it would give.
    reading = iv or detector.detect(event, tracked=True).interview
    lines.append("  people:")
    people = ([event.organizer] if event.organizer else []) + list(event.attendees)
    seen: set[str] = set()
    for who in people:
        email = who.email.lower()
        part = "organiser" if who is event.organizer else "attendee"
        dropped = detector.why_dropped(who)
        if dropped is None and email in seen:
            continue
        seen.add(email)
        verdict = f"dropped: {dropped}" if dropped else "kept: a recipient of its drafts"
        if not dropped and iv is None:
            verdict = "kept: would get its drafts if you track it"
        lines.append(f"    {email} ({part}) — {verdict}")
    if not people:
        lines.append("    nobody listed; addresses written in the description are used")
    labelled = read_fields(description)
    role, company = (reading.role, reading.company) if reading else (labelled.role, labelled.company)
    lines.append(f"  role:         {_said(role, mine.role if mine else None)}")
    lines.append(f"  company:      {_said(company, mine.company if mine else None)}")
    lines.append(f"  notes:        {_said(labelled.notes, mine.notes if mine else None)}")
    if iv is not None and config.steps:
        step = config.steps[0]
        lines.append(
            f"  window:       {step.name} between {_at(iv.end + step.after, zone)} and {_at(iv.end + step.before, zone)}"
        )
    if tracked:
        lines.append("  you said:     track it (followupd track)")
    if iv is None:
        lines.append(f"  verdict:      not an interview: {detection.reason}")
        lines.append("  to follow it: `followupd track` with this id (the role, company and people above)")
    elif iv.cancelled:
        lines.append(f"  verdict:      an interview, but {detection.reason}: no follow-up")
    else:
        lines.append("  verdict:      an interview" + (f"; now {state}" if state else ""))
    return lines


def _said(calendar: str | None, yours: str | None) -> str:
    text = " / ".join(clean_line(t, 100) for t in (calendar or "").splitlines() if t.strip()) or "-"
    if yours:
        return f"{clean_line(yours, 100)} (your note; the event says: {text})"
    return text
