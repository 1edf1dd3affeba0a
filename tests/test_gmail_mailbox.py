"""The Gmail mailbox against the emulator: the shared mailbox contract, then Gmail's own rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from followupd.mailboxes.gmail import GmailMailbox

from support.google_emulator import Emulator
from support.google_emulator.fixtures import emulator, google_config, signed_in  # noqa: F401 - fixture
from support.mailbox_contract import T0, MailboxContract, draft, raw_mail


class GmailHarness:
    def __init__(self, emulator: Emulator, mailbox: GmailMailbox) -> None:  # noqa: F811
        self.emulator = emulator
        self.mailbox = mailbox

    def deliver(self, raw: bytes, arrived: datetime, folder: str = "inbox") -> None:
        self.emulator.deliver(raw, arrived, folder)

    def send_draft(self, message_id: str, at: datetime) -> None:
        self.emulator.send_draft(message_id, at)

    def delete_draft(self, message_id: str) -> None:
        self.emulator.delete_draft(message_id)

    def edit_draft(self, message_id: str, body: str) -> None:
        self.emulator.edit_draft(message_id, body)

    def draft_count(self) -> int:
        return len(self.emulator.drafts())


def make_mailbox(tmp_path: Path, emulator: Emulator, **api_options: object) -> GmailMailbox:  # noqa: F811
    config, api = signed_in(google_config(tmp_path, emulator, calendar="ics"), emulator, **api_options)
    return GmailMailbox(config, None, api=api)  # type: ignore[arg-type]


@pytest.fixture
def gmail(tmp_path: Path, emulator: Emulator) -> Iterator[GmailMailbox]:  # noqa: F811
    mailbox = make_mailbox(tmp_path, emulator)
    yield mailbox
    mailbox.close()


class TestGmailMailbox(MailboxContract):
    @pytest.fixture
    def harness(self, emulator: Emulator, gmail: GmailMailbox) -> GmailHarness:  # noqa: F811
        return GmailHarness(emulator, gmail)


# ---------------------------------------------------------------- Gmail's own rules

RECRUITER = "Jane Doe <jane.doe@acme.io>"
INTERVIEW = T0 + timedelta(days=2)


def test_draft_joins_the_recruiters_thread(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    first = emulator.deliver(
        raw_mail(
            subject="Interview invitation", message_id="<invite@acme.io>", extra="References: <intro@acme.io>\r\n"
        ),
        T0,
    )
    emulator.deliver(
        raw_mail(subject="Unrelated", message_id="<other@x.io>", sender="bob@x.io"), T0 + timedelta(hours=1)
    )
    emulator.deliver(  # after the interview: not the conversation to join
        raw_mail(subject="Later", message_id="<later@acme.io>"), INTERVIEW + timedelta(hours=1)
    )
    hint = gmail.conversation(["jane.doe@acme.io"], INTERVIEW)
    assert hint is not None
    assert hint.in_reply_to == "<invite@acme.io>"
    assert hint.references == ("<intro@acme.io>",)
    assert hint.subject == "Interview invitation"
    assert hint.thread_id == emulator.gmail.messages[first].thread_id

    # The real composer turns the hint into Re: subject, In-Reply-To and References.
    from followupd.compose import Composer
    from followupd.config import Me, ResolvedStep
    from followupd.model import Contact, Interview

    me = Me(name="Ada Lovelace", email="ada@example.org")
    interview = Interview(
        "ev1",
        "Interview",
        INTERVIEW,
        INTERVIEW + timedelta(hours=1),
        (Contact("jane.doe@acme.io", "Jane Doe"),),
        company="Acme",
    )
    step = ResolvedStep("thank-you", "thank-you.txt.j2", timedelta(hours=24), timedelta(hours=48))
    message = Composer(me, me.timezone, None).compose(step, interview, INTERVIEW + timedelta(days=1), hint)
    ref = gmail.create_draft(message, hint)
    stored = emulator.draft(ref.message_id)
    assert stored.thread_id == hint.thread_id
    assert stored.header("Subject") == "Re: Interview invitation"
    assert stored.header("In-Reply-To") == "<invite@acme.io>"
    assert stored.header("References") == "<intro@acme.io> <invite@acme.io>"


def test_thread_id_alone_does_not_thread(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    # Gmail's rule, which the emulator keeps: threadId without References/In-Reply-To
    # and a matching subject starts a new thread. That is why the draft needs all four.
    first = emulator.deliver(raw_mail(subject="Interview invitation", message_id="<invite@acme.io>"), T0)
    hint = gmail.conversation(["jane.doe@acme.io"], INTERVIEW)
    assert hint is not None
    ref = gmail.create_draft(draft(), hint)
    assert emulator.draft(ref.message_id).thread_id != emulator.gmail.messages[first].thread_id


def test_no_conversation_means_no_hint(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    emulator.deliver(raw_mail(sender="bob@x.io", to="ada@example.org"), T0)
    assert gmail.conversation(["jane.doe@acme.io"], INTERVIEW) is None
    assert gmail.conversation([], INTERVIEW) is None


def test_sent_mail_to_the_recruiter_is_a_conversation_too(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    emulator.deliver(
        raw_mail(sender="Ada <ada@example.org>", to=RECRUITER, subject="My CV", message_id="<cv@example.org>"),
        T0,
        folder="sent",
    )
    hint = gmail.conversation(["jane.doe@acme.io"], INTERVIEW)
    assert hint is not None and hint.in_reply_to == "<cv@example.org>"


def test_an_idle_pass_costs_one_history_list(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    cursor = gmail.changes(None, T0).cursor
    emulator.reset_counts()
    for _ in range(3):
        changes = gmail.changes(cursor, T0)
        assert changes.messages == []
        cursor = changes.cursor
    assert dict(emulator.requests) == {"history.list": 3}
    assert emulator.units["history.list"] == 6


def test_new_mail_costs_one_header_read_each(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    cursor = gmail.changes(None, T0).cursor
    ref = gmail.create_draft(draft())  # our own draft shows up in history; it is not read
    emulator.deliver(raw_mail(message_id="<a@acme.io>"), T0 + timedelta(hours=1))
    emulator.deliver(raw_mail(message_id="<b@acme.io>"), T0 + timedelta(hours=2))
    emulator.reset_counts()
    changes = gmail.changes(cursor, T0)
    assert sorted(m.message_id or "" for m in changes.messages) == ["<a@acme.io>", "<b@acme.io>"]
    assert dict(emulator.requests) == {"history.list": 1, "messages.get": 2}
    assert all(params.get("format") == "metadata" for name, params in emulator.calls if name == "messages.get")
    assert ref.key


def test_mail_a_filter_archived_still_counts_and_spam_does_not(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    cursor = gmail.changes(None, T0).cursor
    archived = emulator.deliver(raw_mail(message_id="<archived@acme.io>"), T0 + timedelta(hours=1))
    emulator.gmail.messages[archived].labels = {"Label_7"}  # a filter skipped the inbox
    spam = emulator.deliver(raw_mail(message_id="<spam@acme.io>"), T0 + timedelta(hours=1))
    emulator.gmail.messages[spam].labels = {"SPAM"}
    for record in emulator.gmail.history:  # history shows the labels the messages arrived with
        for added in record.get("messagesAdded", []):
            added["message"]["labelIds"] = sorted(emulator.gmail.messages[added["message"]["id"]].labels)
    changes = gmail.changes(cursor, T0)
    assert [(m.message_id, m.folder) for m in changes.messages] == [("<archived@acme.io>", "inbox")]


def test_stale_history_id_falls_back_to_a_bounded_resync(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    cursor = gmail.changes(None, T0).cursor
    emulator.deliver(raw_mail(message_id="<missed@acme.io>"), T0 + timedelta(hours=3))
    emulator.deliver(raw_mail(message_id="<ancient@acme.io>"), T0 - timedelta(days=30))
    emulator.expire_history()
    changes = gmail.changes(cursor, T0)
    assert [m.message_id for m in changes.messages] == ["<missed@acme.io>"]
    assert int(changes.cursor) == emulator.gmail.history_id
    assert emulator.count("getProfile") == 2
    # and the new cursor works again
    emulator.reset_counts()
    assert gmail.changes(changes.cursor, T0).messages == []
    assert dict(emulator.requests) == {"history.list": 1}


def test_rate_limits_are_retried_honouring_retry_after(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    from support.google_emulator.fixtures import Sleeps

    sleeps = Sleeps()
    mailbox = make_mailbox(tmp_path, emulator, sleep=sleeps)
    emulator.fail("history.list", 429, retry_after="7")
    emulator.fail("history.list", 403, reason="userRateLimitExceeded")
    emulator.fail("history.list", 500)
    cursor = mailbox.changes(None, T0).cursor
    assert mailbox.changes(cursor, T0).messages == []
    assert emulator.count("history.list") == 4
    assert sleeps[0] == 7.0  # the server's Retry-After
    assert 1.0 <= sleeps[1] <= 2.0 < sleeps[2] <= 4.0  # then exponential backoff with jitter


def test_retries_are_bounded(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    from followupd.errors import TransientError

    mailbox = make_mailbox(tmp_path, emulator)
    cursor = mailbox.changes(None, T0).cursor
    emulator.fail("history.list", 503, times=50)
    with pytest.raises(TransientError, match=r"^history.list at 127.0.0.1:\d+: HTTP 503 .*gave up after 5 attempts"):
        mailbox.changes(cursor, T0)
    assert emulator.count("history.list") == 5


def test_a_long_retry_after_waits_for_the_next_pass(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    from followupd.errors import TransientError

    mailbox = make_mailbox(tmp_path, emulator)
    cursor = mailbox.changes(None, T0).cursor
    emulator.fail("history.list", 429, retry_after="3600")
    with pytest.raises(TransientError, match="asks to wait 3600 s"):
        mailbox.changes(cursor, T0)
    assert emulator.count("history.list") == 1


def test_other_errors_name_the_server_and_request(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    from followupd.errors import BackendError, TransientError

    mailbox = make_mailbox(tmp_path, emulator)
    emulator.fail("drafts.create", 400)
    with pytest.raises(BackendError) as caught:
        mailbox.create_draft(draft())
    assert not isinstance(caught.value, TransientError)
    assert f"drafts.create at {emulator.url.split('//')[1]} failed: HTTP 400" in str(caught.value)


def test_a_failed_create_that_happened_is_not_repeated(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    mailbox = make_mailbox(tmp_path, emulator)
    emulator.fail("drafts.create", 500, after=True)  # Gmail made the draft, then failed
    ref = mailbox.create_draft(draft())
    assert len(emulator.drafts()) == 1
    assert emulator.count("drafts.create") == 1
    assert emulator.draft(ref.message_id).id == ref.fingerprint


def test_a_failed_create_that_did_not_happen_is_retried(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    mailbox = make_mailbox(tmp_path, emulator)
    emulator.fail("drafts.create", 502)
    ref = mailbox.create_draft(draft())
    assert len(emulator.drafts()) == 1
    assert emulator.count("drafts.create") == 2
    assert mailbox.locate(ref.message_id) is not None


def test_timeouts_are_retried(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    mailbox = make_mailbox(tmp_path, emulator, timeout=0.3)
    cursor = mailbox.changes(None, T0).cursor
    emulator.slow("history.list", 1.0)
    assert mailbox.changes(cursor, T0).messages == []
    assert emulator.count("history.list") == 2


def test_draft_states_of_a_pass_cost_one_listing(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    refs = [gmail.create_draft(draft(n)) for n in range(1, 6)]
    gmail.changes(None, T0)  # a pass boundary
    emulator.reset_counts()
    assert {gmail.draft_state(ref) for ref in refs} == {__import__("followupd.model").model.DraftState.UNTOUCHED}
    assert dict(emulator.requests) == {"drafts.list": 1}


def test_locate_remembers_drafts_it_has_read(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    for n in range(3):  # the user's own drafts
        emulator.gmail.add(raw_mail(message_id=f"<mine{n}@example.org>"), {"DRAFT"}, T0)
        emulator.gmail.drafts[f"rmine{n}"] = list(emulator.gmail.messages)[-1]
    assert gmail.locate("<followupd.x@example.org>") is None
    assert emulator.count("drafts.get") == 3
    assert gmail.locate("<followupd.y@example.org>") is None
    assert emulator.count("drafts.get") == 3  # nothing re-read


def test_an_edited_draft_is_edited_and_a_sent_one_is_in_sent(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    from followupd.model import DraftState

    ref = gmail.create_draft(draft())
    emulator.edit_draft(ref.message_id, "Hi Jane,\n\nRewritten.\n")
    gmail.changes(None, T0)
    assert gmail.draft_state(ref) == DraftState.EDITED
    located = gmail.locate(ref.message_id)
    assert located is not None and located.folder == "drafts" and located.ref is not None
    assert located.ref.key == ref.key and located.ref.fingerprint != ref.fingerprint
    emulator.send_draft(ref.message_id, T0 + timedelta(hours=2))
    located = gmail.locate(ref.message_id)
    assert located is not None and located.folder == "sent" and located.arrived == T0 + timedelta(hours=2)


def test_revoked_grant_is_an_auth_error(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    from followupd.errors import AuthError

    cursor = gmail.changes(None, T0).cursor
    emulator.revoke()
    with pytest.raises(AuthError) as caught:
        gmail.changes(cursor, T0)
    assert caught.value.hint == "followupd auth google"
    assert "invalid_grant" in str(caught.value)


def test_an_expired_access_token_is_refreshed(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    cursor = gmail.changes(None, T0).cursor
    refreshes = emulator.count("oauth.token")
    emulator.oauth.expire_access_tokens()
    assert gmail.changes(cursor, T0).messages == []
    assert emulator.count("oauth.token") == refreshes + 1


def test_missing_scope_is_an_auth_error(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    from followupd import config as config_module
    from followupd.errors import AuthError
    from followupd.google import GMAIL_COMPOSE, credentials
    from followupd.google.api import GoogleApi
    from followupd.secrets import SecretStore

    config = config_module.load(google_config(tmp_path, emulator, calendar="ics"))
    secrets = SecretStore("file", config.state_dir)
    info = emulator.grant(scopes=(GMAIL_COMPOSE,))
    del info["scopes"]  # not recorded: only the server can tell
    credentials.save(secrets, "ada@example.org", credentials.Grant.from_info(info))
    mailbox = GmailMailbox(config, secrets, api=GoogleApi(config, secrets, sleep=lambda s: None))
    with pytest.raises(AuthError, match="insufficient|does not allow"):
        mailbox.changes(None, T0)


def test_was_sent_looks_for_a_sent_message_in_the_drafts_thread(emulator: Emulator, gmail: GmailMailbox) -> None:  # noqa: F811
    from dataclasses import replace

    emulator.deliver(
        raw_mail(
            sender="Ada <ada@example.org>", to=RECRUITER, subject="Interview invitation", message_id="<cv@example.org>"
        ),
        T0 - timedelta(days=3),
        folder="sent",
    )
    hint = gmail.conversation(["jane.doe@acme.io"], INTERVIEW)
    assert hint is not None

    def threaded(n: int) -> object:
        message = draft(n)
        message.replace_header("Subject", "Re: Interview invitation")
        message["In-Reply-To"] = hint.in_reply_to
        message["References"] = hint.in_reply_to
        return message

    alone = gmail.create_draft(draft(1))
    deleted = gmail.create_draft(draft(2))
    joined_sent = gmail.create_draft(threaded(3), hint)  # type: ignore[arg-type]
    joined_deleted = gmail.create_draft(threaded(4), hint)  # type: ignore[arg-type]
    assert joined_sent.key.split(":")[1] == hint.thread_id == joined_deleted.key.split(":")[1]
    emulator.send_draft(alone.message_id, T0 + timedelta(hours=1), rewrite_message_id=True)
    emulator.delete_draft(deleted.message_id)
    emulator.send_draft(joined_sent.message_id, T0 + timedelta(hours=2))
    emulator.delete_draft(joined_deleted.message_id)
    emulator.reset_counts()
    assert gmail.was_sent(alone, T0) == T0 + timedelta(hours=1)
    assert gmail.was_sent(deleted, T0) is False
    assert gmail.was_sent(joined_sent, T0) == T0 + timedelta(hours=2)
    # the thread holds my older mail and another of our drafts, sent: neither is this one
    assert gmail.was_sent(joined_deleted, T0) is False
    assert dict(emulator.requests) == {"threads.get": 4}
    assert gmail.was_sent(replace(alone, key=alone.key.split(":")[0]), T0) is None  # thread unknown


def test_there_is_no_code_path_that_sends() -> None:
    from pathlib import Path

    import followupd

    root = Path(followupd.__file__).parent
    for path in [root / "mailboxes" / "gmail.py", *(root / "google").glob("*.py")]:
        assert ".send(" not in path.read_text(), path


def test_a_new_sign_in_is_picked_up_without_a_restart(tmp_path: Path, emulator: Emulator) -> None:  # noqa: F811
    from followupd.errors import AuthError
    from followupd.google import credentials

    mailbox = make_mailbox(tmp_path, emulator)
    cursor = mailbox.changes(None, T0).cursor
    emulator.revoke()
    for _ in range(2):  # a daemon keeps its mailbox; every pass is refused
        with pytest.raises(AuthError):
            mailbox.changes(cursor, T0)
    credentials.save(mailbox.api.secrets, "ada@example.org", credentials.Grant.from_info(emulator.grant()))
    emulator.deliver(raw_mail(message_id="<later@acme.io>"), T0 + timedelta(hours=1))
    assert [m.message_id for m in mailbox.changes(cursor, T0).messages] == ["<later@acme.io>"]
