"""Detection, recipients, and what counts as a reply — the rules in DESIGN.md, one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followupd.config import Detect, Me
from followupd.detect import Detector
from followupd.mailboxes.parse import message_info
from followupd.model import Attendee, Contact, Cutype, Event, Interview, Partstat
from followupd.notes import point_from
from followupd.people import company_from_domain, is_robot, is_role_mailbox
from followupd.policy.replies import not_a_reply, reply_to_interview

from support.maildir_user import mail

ME = Me(name="Ada Lovelace", email="ada@example.org", aliases=("ada@home.example",), timezone=ZoneInfo("UTC"))
START = datetime(2026, 11, 4, 14, tzinfo=UTC)
detector = Detector(ME, Detect())


def event(summary: str = "Interview", description: str = "", **kw: object) -> Event:
    options: dict = {
        "organizer": Attendee("jane@acme.io", "Jane Doe", Partstat.ACCEPTED),
        "attendees": (Attendee("ada@example.org", "Ada", Partstat.ACCEPTED),),
    }
    options.update(kw)
    return Event("u1", None, summary, description, START, START + timedelta(hours=1), **options)


@pytest.mark.parametrize(
    ("summary", "found"),
    [
        ("Interview with Acme", True),
        ("INTERVIEW", True),
        ("Phone   screen: Acme", True),
        ("On-site at Acme", True),
        ("Hiring Manager chat", True),
        ("Interviewing tips", False),
        ("Mock interview", False),
        ("Interview prep", False),
        ("Interview: candidate Bob Smith", False),
        ("Lunch", False),
    ],
)
def test_keywords_and_excludes_match_whole_words(summary: str, found: bool) -> None:
    assert (detector.detect(event(summary)).interview is not None) is found


def test_keyword_in_description_counts_but_exclude_only_looks_at_the_title() -> None:
    assert detector.detect(event("Chat with Acme", "technical screen")).interview is not None
    assert detector.detect(event("Interview with Acme", "bring your mock-ups")).interview is not None


def test_recipients_skip_me_rooms_resources_groups_and_decliners() -> None:
    e = event(
        attendees=(
            Attendee("ADA@example.org", "Ada", Partstat.ACCEPTED),
            Attendee("ada@home.example", "Ada", Partstat.ACCEPTED),
            Attendee("tom@acme.io", "Tom Baker", Partstat.ACCEPTED),
            Attendee("room1@acme.io", "Room 1", Partstat.ACCEPTED, Cutype.ROOM),
            Attendee("projector@acme.io", None, Partstat.ACCEPTED, Cutype.RESOURCE),
            Attendee("c_123@resource.calendar.google.com", "Room", Partstat.ACCEPTED),
            Attendee("eng@acme.io", "Engineering", Partstat.ACCEPTED, Cutype.GROUP),
            Attendee("sam@acme.io", "Sam", Partstat.DECLINED),
            Attendee("noreply@acme.io", None, Partstat.ACCEPTED),
        )
    )
    interview = detector.detect(e).interview
    assert interview is not None
    assert [c.email for c in interview.contacts] == ["jane@acme.io", "tom@acme.io"]


def test_google_self_flag_identifies_me_under_another_address() -> None:
    e = event(attendees=(Attendee("ada.work@corp.example", "Ada", Partstat.DECLINED, is_self=True),))
    assert detector.detect(e).interview.cancelled  # type: ignore[union-attr]


def test_addresses_in_the_description_when_nobody_else_is_invited() -> None:
    e = event(
        "Phone screen",
        "Call with Sam Smith <sam@globex.example>, cc ops@globex.example and me ada@example.org",
        organizer=None,
        attendees=(),
    )
    interview = detector.detect(e).interview
    assert interview is not None
    assert [(c.email, c.name) for c in interview.contacts] == [
        ("sam@globex.example", "Sam Smith"),
        ("ops@globex.example", None),
    ]


@pytest.mark.parametrize(
    ("summary", "description", "role", "company"),
    [
        ("Interview: Backend Engineer at Acme", "", "Backend Engineer", "Acme"),
        ("Acme — Staff Engineer interview", "", "Staff Engineer", "Acme"),
        ("Phone screen: Acme", "", None, "Acme"),
        ("Interview: Data Scientist", "", "Data Scientist", "Acme"),
        ("Interview with Jane", "", None, "Acme"),
        ("Interview", "Role: SRE\nCompany: Acme Robotics", "SRE", "Acme Robotics"),
    ],
)
def test_role_and_company(summary: str, description: str, role: str | None, company: str) -> None:
    interview = detector.detect(event(summary, description)).interview
    assert interview is not None
    assert (interview.role, interview.company) == (role, company)


def test_notes_are_what_follows_the_notes_line() -> None:
    interview = detector.detect(event("Interview", "Zoom link\nNotes: their API\n- on-call")).interview
    assert interview is not None and interview.notes == "their API\n- on-call"


@pytest.mark.parametrize(
    ("name", "email", "first"),
    [
        ("Jane Doe", "x@y.io", "Jane"),
        ("Doe, Jane", "x@y.io", "Jane"),
        ("Dr. Jane Doe", "x@y.io", "Jane"),
        (None, "jane.doe@y.io", "Jane"),
        (None, "jdoe@y.io", None),
    ],
)
def test_first_names(name: str | None, email: str, first: str | None) -> None:
    assert Contact(email, name).first_name == first


@pytest.mark.parametrize(
    ("notes", "point", "sentence"),
    [
        ("we talked about billing", "billing", False),
        ("We discussed their move to event sourcing.", "your move to event sourcing", False),
        ("The migration to Kubernetes", "the migration to Kubernetes", False),
        ("- ask about on-call\n- their API design", "your API design", False),
        ("How do they keep dbt models tested?", None, None),
        ("TODO: send portfolio", None, None),
        ("remember to mention the Kafka project", None, None),
        ("I enjoyed hearing how your team ships weekly.", "I enjoyed hearing how your team ships weekly.", True),
        ("She said they need Kafka experience.", None, None),
        ("They are hiring three people.", None, None),
        ("their data platform https://example.com/slides", "your data platform", False),
    ],
)
def test_notes_become_a_topic_a_sentence_or_nothing(notes: str, point: str | None, sentence: bool | None) -> None:
    found = point_from(notes)
    assert (found.text if found else None) == point
    if found is not None:
        assert found.is_sentence is sentence


@pytest.mark.parametrize(
    ("email", "name", "robot", "role_mailbox"),
    [
        ("no-reply@hire.lever.co", "Lever", True, False),
        ("notifications@calendly.com", None, True, False),
        ("do-not-reply@acme.io", None, True, False),
        ("scheduler@goodtime.io", None, True, True),
        ("x@us.greenhouse-mail.io", None, True, False),
        ("talent@acme.io", "Talent Acquisition", False, True),
        ("jobs@acme.io", None, False, True),
        ("jane.doe@acme.io", "Acme Recruiting", False, False),
        ("ar@acme.io", "Acme Recruiting", False, True),
        ("jane.doe@acme.io", "Jane Doe | Talent Acquisition", False, False),
        ("eng-hiring@gitlab.com", None, False, True),  # a role word after a team's name
        ("uk.careers@acme.io", None, False, True),
        ("jobs-de@acme.io", None, False, True),
        ("sourcing@datadoghq.com", None, False, True),
        ("ricardo.jobson@acme.io", None, False, False),  # a word that starts like one is not
    ],
)
def test_robots_and_role_mailboxes(email: str, name: str | None, robot: bool, role_mailbox: bool) -> None:
    assert is_robot(email) is robot
    assert is_role_mailbox(Contact(email, name)) is role_mailbox


@pytest.mark.parametrize(
    ("domain", "company"),
    [
        ("sunbeam-health.com", "Sunbeam Health"),
        ("mail.acme.co.uk", "Acme"),
        ("careers.globex.com.au", "Globex"),
        ("gmail.com", None),
        ("hire.lever.co", None),
    ],
)
def test_company_from_a_domain_is_written_as_people_write_it(domain: str, company: str | None) -> None:
    assert company_from_domain(domain) == company


def test_a_company_spelled_in_the_text_wins_over_the_domain() -> None:
    e = event("Hiring manager call", "Redwood Analytics is hiring.", organizer=Attendee("tom@redwoodanalytics.com"))
    assert detector.detect(e).interview.company == "Redwood Analytics"  # type: ignore[union-attr]


def test_german_french_and_spanish_titles_are_interviews() -> None:
    for title in ("Vorstellungsgespräch bei Acme", "Entretien chez Acme", "Entrevista con Acme", "Bewerbungsgespräch"):
        assert detector.detect(event(title)).interview is not None, title


# ---------------------------------------------------------------- replies

INTERVIEW = Interview(
    "u1",
    "Interview",
    START,
    START + timedelta(hours=1),
    (Contact("jane@acme.io", "Jane"), Contact("sam@gmail.com", "Sam")),
)


def reply(raw: str, arrived: datetime = START + timedelta(days=1), folder: str = "inbox"):  # type: ignore[no-untyped-def]
    return message_info(raw.encode(), folder, arrived)


@pytest.mark.parametrize(
    ("raw", "counts"),
    [
        (mail(sender="jane@acme.io"), True),
        (mail(sender="recruiting@acme.io"), True),  # same company domain
        (mail(sender="ats@mail.acme.io"), True),  # a subdomain of it
        (mail(sender="sam@gmail.com"), True),  # a contact on free mail
        (mail(sender="other@gmail.com"), False),  # free mail is not a company
        (mail(sender="noreply@ats.example", headers="Reply-To: jane@acme.io"), True),
        (mail(sender="ada@example.org"), False),
        (mail(sender="jane@acme.io", subject="Automatic reply: Thank you"), False),
        (mail(sender="jane@acme.io", headers="Auto-Submitted: auto-generated"), False),
        (mail(sender="jane@acme.io", headers="Auto-Submitted: no"), True),
        (mail(sender="jane@acme.io", headers="Precedence: junk"), False),
        (mail(sender="jane@acme.io", subject="Declined: Interview"), False),
        (mail(sender="postmaster@acme.io"), False),
        (
            mail(
                sender="jane@acme.io", headers="Content-Type: multipart/report; report-type=delivery-status; boundary=x"
            ),
            False,
        ),
    ],
)
def test_what_counts_as_a_reply(raw: str, counts: bool) -> None:
    assert reply_to_interview(reply(raw), INTERVIEW, ME.addresses) is counts


def test_a_reply_must_arrive_after_the_interview_started_and_be_in_the_inbox() -> None:
    raw = mail(sender="jane@acme.io")
    assert not reply_to_interview(reply(raw, START - timedelta(minutes=1)), INTERVIEW, ME.addresses)
    assert not reply_to_interview(reply(raw, folder="sent"), INTERVIEW, ME.addresses)
    missing_date = message_info(b"From: jane@acme.io\r\n\r\nhi", "inbox", None)
    assert not reply_to_interview(missing_date, INTERVIEW, ME.addresses)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_without_raising(raw: bytes) -> None:
    info = message_info(raw, "inbox", START)
    not_a_reply(info)
    reply_to_interview(info, INTERVIEW, ME.addresses)


@pytest.mark.parametrize(
    ("name", "email", "greeted"),
    [
        ("Marta Gil", "rrhh@gruporibera.es", "Marta"),  # a person writing from a shared mailbox
        ("Jane Doe", "talent@acme.io", "Jane"),
        ("Umbra Careers", "careers@umbra.io", None),
        ("Bergmann AG", "personal@bergmann-ag.de", None),
        ("Solvara Hiring", "jobs@solvara.com", None),
        ("Hiring Manager", "jobs@foo.com", None),
        ("Recruiting Coordinator", "recruiting@brightwave.com", None),
        (None, "hr@umbra.io", None),
    ],
)
def test_a_shared_mailbox_is_greeted_only_by_a_persons_name(name: str | None, email: str, greeted: str | None) -> None:
    from followupd.people import first_name

    assert first_name(Contact(email, name)) == greeted


def test_a_tools_name_in_the_title_is_not_the_company() -> None:
    """Workday's notification titles start with its own name; the employer comes from the interviewer."""
    found = detector.detect(
        event(
            "Workday: Interview Scheduled - Req 48213 Backend Developer (m/w/d)",
            "",
            organizer=Attendee("workday@myworkday.com", "Workday", Partstat.ACCEPTED),
            attendees=(
                Attendee("ada@example.org", "Ada", Partstat.ACCEPTED),
                Attendee("tobias.meier@stadtwerke-nord.de", "Tobias Meier", Partstat.ACCEPTED),
            ),
        )
    ).interview
    assert found is not None
    assert (found.role, found.company) == ("Backend Developer", "Stadtwerke Nord")


def test_an_all_day_event_counts_only_when_tracked_and_fills_the_working_day() -> None:
    """Two all-day days across the spring-forward night in Berlin: from 09:00 CET on
    the first to 18:00 CEST on the last, in business hours; round-the-clock hours keep
    the event's own midnight."""
    from datetime import time

    berlin = ZoneInfo("Europe/Berlin")
    me = Me(name="Ada Lovelace", email="ada@example.org", timezone=berlin)
    first = datetime(2026, 3, 28, tzinfo=berlin).astimezone(UTC)
    onsite = Event(
        "day",
        None,
        "Onsite interview - Acme",
        "",
        first,
        datetime(2026, 3, 30, tzinfo=berlin).astimezone(UTC),
        organizer=Attendee("jane@acme.io", "Jane Doe", Partstat.ACCEPTED),
        attendees=(Attendee("ada@example.org", "Ada", Partstat.ACCEPTED),),
        all_day=True,
    )
    found = Detector(me, Detect()).detect(onsite)
    assert found.interview is None and found.reason == "all-day"
    tracked = Detector(me, Detect()).detect(onsite, tracked=True).interview
    assert tracked is not None
    assert (tracked.start, tracked.end) == (
        datetime(2026, 3, 28, 8, tzinfo=UTC),  # 09:00 CET
        datetime(2026, 3, 29, 16, tzinfo=UTC),  # 18:00 CEST
    )
    always = Detector(me, Detect(), (time(0), time.max)).detect(onsite, tracked=True).interview
    assert always is not None and (always.start, always.end) == (onsite.start, onsite.end)


@pytest.mark.parametrize(
    "summary",
    ["Hiring manager sync", "Onsite interview day", "Interview prep sync", "Technical interview part 2"],
)
def test_what_is_left_of_a_stage_is_no_company(summary: str) -> None:
    """Once the stage words are gone, "sync", "day" or "part 2" is the kind of meeting,
    not who it is with: the company comes from the interviewer's domain instead."""
    found = Detector(ME, Detect(exclude=())).detect(event(summary)).interview
    assert found is not None and found.company == "Acme"


@pytest.mark.parametrize(
    ("summary", "role", "company"),
    [
        # A connecting word right after a separator or a parenthesis still connects.
        ("Vorstellungsgespräch: Ada Lovelace (Backend Entwickler:in) bei Zalando", "Backend Entwickler:in", "Zalando"),
        ("Interview - Backend Engineer - at Globex", "Backend Engineer", "Globex"),
        ("Recruiter Screen: Ada Lovelace / Senior SRE, Datadog", "Senior SRE", "Datadog"),
        # A title copied from a Google invitation's mail subject: its date is no company.
        (
            "Einladung: Vorstellungsgespräch Werkstudent (m/w/d) Softwareentwicklung"
            " @ Mo. 30. Nov. 2026 14:00 - 15:00 (MEZ) (ada@example.org)",
            "Werkstudent Softwareentwicklung",
            "Acme",
        ),
    ],
)
def test_titles_cut_before_a_connecting_word(summary: str, role: str, company: str) -> None:
    found = detector.detect(event(summary)).interview
    assert found is not None and (found.role, found.company) == (role, company)
