"""End to end on Gmail and Google Calendar (the emulator, over HTTP, through the CLI):
threads, out-of-office and a clean-up after the thank-you was sent.

The emulator does what Gmail does where it matters here: a sent draft becomes a new
message with a new Message-ID in the same thread (`send_draft(rewrite_message_id=True)`),
and a deleted event comes back from incremental sync as a `cancelled` stub.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from support.google_cli import BEFORE, DUE, START, GoogleCli, google, interview, our_message_id  # noqa: F401
from support.google_emulator import Emulator
from support.google_emulator.fixtures import emulator  # noqa: F401
from support.thread_mail import auto_reply, invitation, scheduling

SENT = datetime.fromisoformat("2026-11-03T15:00:00+00:00")


def test_threads_and_a_clean_up_after_sending(google: GoogleCli, emulator: Emulator) -> None:  # noqa: F811
    sched = emulator.deliver(scheduling("Thu, 29 Oct 2026 09:00:00 +0000"), START - timedelta(days=4))
    emulator.deliver(invitation("Fri, 30 Oct 2026 09:00:00 +0000"), START - timedelta(days=3))
    interview(emulator)
    google.run(BEFORE)
    google.run(DUE)
    ((_, thanks),) = emulator.drafts()
    assert thanks.thread_id == emulator.gmail.messages[sched].thread_id
    assert thanks.header("In-Reply-To") == "<sched@acme.io>"
    assert thanks.header("Subject") == "Re: Interview for the Backend Engineer role"

    sent = emulator.send_draft(our_message_id("iv1"), SENT, rewrite_message_id=True)
    assert sent.message_id != our_message_id("iv1")
    google.run("2026-11-03T16:00:00+00:00")
    assert google.state() == "sent"
    # The user tidies the calendar: the event comes back as a cancelled stub. The
    # interview happened; its check-in stays planned.
    emulator.cancel_event("iv1")
    google.run("2026-11-04T09:00:00+00:00")
    check_in = google.cli.step("iv1", "check-in")
    assert check_in["state"] == "planned"
    due = check_in["due_at"]
    google.run(due)
    assert google.state(step="check-in") == "drafted"
    ((_, draft),) = emulator.drafts()
    assert draft.header("In-Reply-To") == sent.message_id  # the Sent copy's new Message-ID
    assert draft.header("References").strip() == f"<intro@acme.io> <sched@acme.io> {sent.message_id}"
    assert draft.header("Subject") == "Re: Interview for the Backend Engineer role"
    assert draft.thread_id == sent.thread_id


def test_out_of_office_on_gmail(google: GoogleCli, emulator: Emulator) -> None:  # noqa: F811
    interview(emulator)
    google.run(BEFORE)
    google.run(DUE)
    emulator.send_draft(our_message_id("iv1"), SENT, rewrite_message_id=True)
    google.run("2026-11-03T16:00:00+00:00")
    assert google.state() == "sent"
    emulator.reset_counts()
    emulator.deliver(
        auto_reply("Wed, 04 Nov 2026 08:00:00 +0000", "Ich bin bis zum 16.11. nicht im Büro."),
        datetime.fromisoformat("2026-11-04T08:00:00+00:00"),
    )
    google.run("2026-11-04T09:00:00+00:00")
    assert emulator.count("messages.get") == 2  # its headers, then (an auto-reply) its text
    check_in = google.cli.step("iv1", "check-in")
    assert check_in["note"] == "Jane is away until Mon 16 Nov"
    assert check_in["due_at"] == "2026-11-17T09:00:00+00:00"
