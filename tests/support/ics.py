"""Build small iCalendar files for tests, one VEVENT at a time."""

from __future__ import annotations

from datetime import UTC, date, datetime

ME = "ada@example.org"


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def vevent(
    uid: str,
    start: datetime | date,
    end: datetime | date,
    summary: str = "Interview: Backend Engineer at Acme",
    *,
    description: str = "",
    organizer: str | None = "Jane Doe <jane.doe@acme.io>",
    attendees: list[str] | None = None,
    my_partstat: str | None = "ACCEPTED",
    status: str | None = None,
    extra: str = "",
    tzid: str | None = None,
) -> str:
    """One VEVENT. People are "Name <addr>" or "addr"; add ";PARAM=X" after the address
    for attendee parameters, e.g. "room@acme.io;CUTYPE=ROOM"."""

    def when(name: str, at: datetime) -> str:
        if not isinstance(at, datetime):
            return f"{name};VALUE=DATE:{at.strftime('%Y%m%d')}"
        if tzid:
            return f"{name};TZID={tzid}:{at.strftime('%Y%m%dT%H%M%S')}"
        if at.tzinfo is None:
            return f"{name}:{at.strftime('%Y%m%dT%H%M%S')}"
        return f"{name}:{stamp(at)}"

    def person(prop: str, spec: str, partstat: str | None = None) -> str:
        params = ""
        if ";" in spec:
            spec, params = spec.split(";", 1)
            params = ";" + params
        name, addr = (spec.split("<", 1)[0].strip(), spec.split("<", 1)[1].rstrip(">")) if "<" in spec else ("", spec)
        cn = f';CN="{name}"' if name else ""
        ps = f";PARTSTAT={partstat}" if partstat else ""
        return f"{prop}{cn}{ps}{params}:mailto:{addr}"

    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{stamp(datetime(2026, 1, 1, tzinfo=UTC))}",
        when("DTSTART", start),
        when("DTEND", end),
        f"SUMMARY:{_escape(summary)}",
    ]
    if description:
        lines.append(f"DESCRIPTION:{_escape(description)}")
    if status:
        lines.append(f"STATUS:{status}")
    if organizer:
        lines.append(person("ORGANIZER", organizer))
        lines.append(person("ATTENDEE", organizer, "ACCEPTED"))
    for spec in attendees or []:
        lines.append(person("ATTENDEE", spec, "ACCEPTED" if ";PARTSTAT" not in spec else None))
    if my_partstat:
        lines.append(person("ATTENDEE", f"Ada Lovelace <{ME}>", my_partstat))
    if extra:
        lines.extend(extra.strip().splitlines())
    lines.append("END:VEVENT")
    return "\n".join(lines)


def calendar(*events: str) -> str:
    return (
        "\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//followupd tests//EN", *events, "END:VCALENDAR"]) + "\n"
    )


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
