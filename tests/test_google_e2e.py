"""End to end: the CLI with [calendar] kind = "google" and [mailbox] kind = "gmail",
signed in with `auth google --import`, against the emulator over HTTP."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from support.google_cli import BEFORE, DUE, RECRUITER, START, GoogleCli, at, google, interview, our_message_id  # noqa: F401
from support.google_emulator import Emulator
from support.google_emulator.fixtures import emulator, gevent, google_config, write_grant  # noqa: F401
from support.harness import Cli
from support.mailbox_contract import raw_mail


def test_interview_to_threaded_draft_to_reply(google: GoogleCli, emulator: Emulator) -> None:  # noqa: F811
    invite = emulator.deliver(
        raw_mail(
            subject="Interview invitation", message_id="<invite@acme.io>", extra="References: <intro@acme.io>\r\n"
        ),
        START - timedelta(days=5),
    )
    interview(emulator)
    google.run(BEFORE)
    assert google.state() == "planned"
    assert emulator.drafts() == []

    google.run(DUE)
    assert google.state() == "drafted"
    ((_, message),) = emulator.drafts()
    # All four of Gmail's conditions, so it shows inside the recruiter's conversation.
    assert message.thread_id == emulator.gmail.messages[invite].thread_id
    assert message.header("Subject") == "Re: Interview invitation"
    assert message.header("In-Reply-To") == "<invite@acme.io>"
    assert message.header("References") == "<intro@acme.io> <invite@acme.io>"
    assert "event sourcing" in message.text()
    assert message.header("Message-ID").startswith("<followupd.")

    google.run("2026-11-03T11:20:00+00:00")  # nothing new: nothing made twice
    assert len(emulator.drafts()) == 1

    emulator.deliver(
        raw_mail(subject="Re: Interview invitation", message_id="<reply@acme.io>"), at("2026-11-03T12:00:00+00:00")
    )
    google.run("2026-11-03T12:05:00+00:00")
    assert google.state() == "replied"
    assert google.state(step="check-in") == "replied"
    assert emulator.drafts() == []  # the untouched draft was removed


def test_sent_and_dismissed_are_told_apart(google: GoogleCli, emulator: Emulator) -> None:  # noqa: F811
    interview(emulator, "iv1")
    interview(emulator, "iv2", START + timedelta(minutes=30))
    google.run(BEFORE)
    google.run("2026-11-03T12:00:00+00:00")
    assert sorted(m.header("Message-ID") for _, m in emulator.drafts()) == sorted(
        [our_message_id("iv1"), our_message_id("iv2")]
    )
    sent_at = at("2026-11-03T15:00:00+00:00")
    # Gmail may give the sent copy its own Message-ID; it is still recognised (a message
    # to the same people after the draft was made, once the draft left Drafts).
    emulator.send_draft(our_message_id("iv1"), sent_at, rewrite_message_id=True)
    emulator.delete_draft(our_message_id("iv2"))
    google.run("2026-11-03T16:00:00+00:00")
    assert google.state("iv1") == "sent"
    assert google.cli.step("iv1")["sent_at"] == sent_at.isoformat()
    assert google.state("iv1", "check-in") == "planned"
    assert google.state("iv2") == "drafted"  # gone, no Sent copy yet: waits ([reply] dismiss_after)
    google.run("2026-11-03T16:15:00+00:00")
    assert google.state("iv2") == "dismissed"
    google.run("2026-11-03T17:00:00+00:00")  # a dismissed draft is never re-created
    assert emulator.drafts() == []


def test_a_sent_draft_keeping_its_message_id_is_sent(google: GoogleCli, emulator: Emulator) -> None:  # noqa: F811
    interview(emulator)
    google.run(BEFORE)
    google.run(DUE)
    emulator.send_draft(our_message_id("iv1"), at("2026-11-03T15:00:00+00:00"))
    google.run("2026-11-03T16:00:00+00:00")
    assert google.state() == "sent"


def test_stale_history_and_sync_token_recover(google: GoogleCli, emulator: Emulator) -> None:  # noqa: F811
    interview(emulator, "iv1")
    interview(emulator, "iv2", START + timedelta(hours=2))
    google.run(BEFORE)
    google.run(DUE)
    emulator.expire_history()
    emulator.expire_sync_tokens()
    emulator.cancel_event("iv2")  # missed by the stale token; the full resync notices
    emulator.deliver(raw_mail(message_id="<reply@acme.io>"), at("2026-11-03T13:00:00+00:00"))
    log = google.run("2026-11-03T14:00:00+00:00")
    assert "too old" in log
    assert google.state("iv1") == "replied"
    assert google.state("iv2") == "cancelled"
    assert "no longer in the calendar" in google.cli.step("iv2")["note"]
    # and both cursors work again afterwards
    emulator.reset_counts()
    google.run("2026-11-03T14:10:00+00:00")
    assert emulator.count("history.list") == 1 and emulator.count("events.list") == 1


def test_rate_limits_and_server_errors_are_survived(google: GoogleCli, emulator: Emulator) -> None:  # noqa: F811
    interview(emulator)
    # Retry-After: 0 keeps the test from sleeping; the waits themselves are checked in
    # test_gmail_mailbox.py with a recording sleeper.
    emulator.fail("events.list", 429, retry_after="0")
    emulator.fail("getProfile", 500, retry_after="0")
    google.run(BEFORE)
    emulator.fail("history.list", 403, reason="rateLimitExceeded", retry_after="0")
    emulator.fail("drafts.create", 500, retry_after="0", after=True)  # created, then failed
    emulator.fail("drafts.create", 429, retry_after="0")
    google.run(DUE)
    assert google.state() == "drafted"
    assert len(emulator.drafts()) == 1
    assert emulator.count("drafts.create") == 1


def test_revoked_grant_waits_for_reauthorisation(google: GoogleCli, emulator: Emulator) -> None:  # noqa: F811
    interview(emulator)
    google.run(BEFORE)
    emulator.revoke()
    google.run(DUE, expect=77)
    assert google.state() == "planned"  # waiting, not lost
    assert emulator.drafts() == []
    table = google.cli("status").stdout
    assert "re-authorise needed" in table
    assert "re-authorise: followupd auth google" in table
    assert "Traceback" not in table
    google.run("2026-11-03T11:10:00+00:00", expect=77)  # still down: same answer, no crash
    google.sign_in()
    google.run("2026-11-03T11:20:00+00:00")
    assert google.state() == "drafted"
    assert len(emulator.drafts()) == 1
    assert "re-authorise" not in google.cli("status").stdout


def test_idle_pass_cost_with_100_interviews(google: GoogleCli, emulator: Emulator) -> None:  # noqa: F811
    for n in range(100):
        interview(emulator, f"iv{n:03d}", START + timedelta(days=5, hours=n))
    google.run(BEFORE)
    rows = google.cli.status()
    assert len([r for r in rows if r["step"] == "thank-you" and r["state"] == "planned"]) == 100
    emulator.reset_counts()
    google.run("2026-11-01T09:05:00+00:00")
    api = {k: v for k, v in emulator.requests.items() if k != "oauth.token"}
    assert api == {"events.list": 1, "history.list": 1}
    assert emulator.units["history.list"] == 2


def test_missing_sign_in_says_what_to_do(home: Path, emulator: Emulator) -> None:  # noqa: F811
    cli = Cli(home, google_config(home, emulator))
    result = cli.run(BEFORE, check=False)
    assert result.returncode == 77
    assert "no Google sign-in stored for ada@example.org" in result.stderr
    assert "followupd auth google" in result.stderr
