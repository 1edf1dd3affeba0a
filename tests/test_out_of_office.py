"""Out of office in the core: the return date in an auto-reply's text (English, German,
French, Spanish phrasings as mail clients' and people's out-of-office notes word them),
which messages are read at all, and how the next step's window moves."""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from followupd import policy
from followupd.mailboxes.parse import body_text
from followupd.model import FollowUp, InterviewRecord, State
from followupd.policy import MailFacts
from followupd.policy.actions import Away
from followupd.policy.away import return_date, wanted

from support.policy_facts import RECORD, SETTINGS, T
from support.thread_mail import auto_reply, info, jane, message

RECEIVED = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # a Thursday
LANGUAGES = ("en", "de", "fr", "es")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am out of the office until Monday 14 December with limited access to email.", date(2026, 12, 14)),
        ("Thanks for your email. I'll be back on 14/12.", date(2026, 12, 14)),
        ("Returning Dec 14th. For urgent matters please contact hr@acme.io.", date(2026, 12, 14)),
        ("I'm away and will be back in the office on December 14, 2026.", date(2026, 12, 14)),
        ("Ich bin bis zum 14.12. nicht im Büro und habe keinen Zugriff auf E-Mails.", date(2026, 12, 14)),
        ("Vielen Dank für Ihre Nachricht. Ab dem 14. Dezember bin ich wieder erreichbar.", date(2026, 12, 14)),
        ("Je suis absente du bureau jusqu'au lundi 14 décembre inclus.", date(2026, 12, 14)),
        ("Je serai de retour le 14/12.", date(2026, 12, 14)),
        ("Estaré fuera de la oficina hasta el 14 de diciembre.", date(2026, 12, 14)),
        ("Regreso el lunes 14 de diciembre.", date(2026, 12, 14)),
        # No date: nothing changes.
        ("I am out of the office with limited access to email.", None),
        ("I am out of the office until further notice.", None),
        ("Ich bin bis auf Weiteres nicht erreichbar.", None),
        # A date long past or far away is a misreading, not a holiday.
        ("I am out of the office until 14 December 2025.", None),
    ],
)
def test_return_dates(text: str, expected: date | None) -> None:
    assert return_date(text, RECEIVED, LANGUAGES) == expected


def test_dateparser_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("dateparser tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert return_date("out of the office until 15 December", RECEIVED, LANGUAGES) == date(2026, 12, 15)


def test_only_auto_replies_from_the_interviews_people_are_read() -> None:
    at = T + timedelta(hours=3)
    ooo = info(jane(auto_reply("Thu, 05 Nov 2026 18:00:00 +0000", "until 14 Dec")), at)
    human = info(jane(message("Re: Thanks", "<h@acme.io>", "Thu, 05 Nov 2026 18:00:00 +0000")), at)
    stranger = info(auto_reply("Thu, 05 Nov 2026 18:00:00 +0000", "until 14 Dec"), at)  # jane.doe@, not a contact
    assert wanted([RECORD], [ooo, human, stranger]) == [ooo]


SENT = FollowUp("iv", "thank-you", 0, State.SENT, sent_at=T, message_id="<followupd.x@example.org>")


def test_an_away_note_moves_the_next_window_to_the_first_business_day_after() -> None:
    at = T + timedelta(hours=3)  # Thursday 5 November 2026
    ooo = info(jane(auto_reply("Thu, 05 Nov 2026 18:00:00 +0000", "Out of the office until Monday 16 November.")), at)
    facts = MailFacts(messages=[ooo], away_texts={ooo.key: "Out of the office until Monday 16 November."})
    out = policy.reconcile([RECORD], [SENT], facts, SETTINGS, at)
    assert out == [Away("iv", datetime(2026, 11, 16, tzinfo=UTC), "jane@acme.io")]
    away = InterviewRecord(RECORD.interview, away_until=datetime(2026, 11, 16, tzinfo=UTC), away_from="Jane")
    (thanks, check_in) = policy.plan([away], {SENT.key: SENT}, SETTINGS.steps, SETTINGS.schedule, at)
    assert check_in.window_start == datetime(2026, 11, 17, 9, tzinfo=UTC)  # Tuesday, opening time
    assert check_in.window_end == check_in.window_start + timedelta(days=2)  # as long as it was
    assert check_in.note == "Jane is away until Mon 16 Nov"
    # Back before the window opens anyway: nothing moves.
    early = InterviewRecord(RECORD.interview, away_until=datetime(2026, 11, 6, tzinfo=UTC), away_from="Jane")
    (_, unmoved) = policy.plan([early], {SENT.key: SENT}, SETTINGS.steps, SETTINGS.schedule, at)
    assert unmoved.window_start == T + timedelta(days=7) and unmoved.note is None


def test_an_auto_reply_without_a_date_changes_nothing() -> None:
    at = T + timedelta(hours=3)
    ooo = info(jane(auto_reply("Thu, 05 Nov 2026 18:00:00 +0000", "I am travelling.")), at)
    facts = MailFacts(messages=[ooo], away_texts={ooo.key: "I am travelling."})
    assert policy.reconcile([RECORD], [SENT], facts, SETTINGS, at) == []


def test_the_return_date_of_an_html_auto_reply_is_read_as_its_reader_sees_it() -> None:
    # Outlook's auto-replies are HTML: a <style> block first, entities between the words.
    raw = (
        b"From: jane@acme.io\r\nSubject: Automatic reply\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p { margin: 0 }</style></head><body>"
        b"<p>I&#8217;m out of the office until 14&nbsp;December.</p></body></html>\r\n"
    )
    text = body_text(raw)
    assert "margin" not in text
    assert "I\u2019m out of the office until 14 December." in text
    assert return_date(text, RECEIVED, LANGUAGES) == date(2026, 12, 14)
