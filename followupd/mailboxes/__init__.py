"""Mailboxes: where drafts go and replies come from. One interface, chosen by `[mailbox] kind`."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING

from followupd.model import DraftRef, DraftState, Located, MailChanges, MessageInfo, ThreadHint

if TYPE_CHECKING:
    from followupd.config import Config
    from followupd.secrets import SecretStore


class Mailbox(ABC):
    """A user's mailbox as followupd sees it: a Drafts folder it may write to, and
    INBOX and Sent, which it only reads. No method sends mail; none ever will.

    Every method may raise TransientError (server or network down: retry later),
    AuthError (credentials refused: the user must re-authorise) or BackendError
    (the server refused the request or the data cannot be used).
    """

    label: str

    @abstractmethod
    def locate(self, message_id: str) -> Located | None:
        """Find the message with this Message-ID in Drafts, else in Sent; None if in neither.

        This is the exactly-once check: it runs before every draft is created.
        """

    @abstractmethod
    def create_draft(self, message: EmailMessage, thread: ThreadHint | None = None) -> DraftRef:
        """Store `message` as a draft (never send it) and return its handle.

        Not safe to repeat blindly: callers `locate` its Message-ID first.
        """

    @abstractmethod
    def draft_state(self, ref: DraftRef) -> DraftState:
        """Whether the draft is still there as we wrote it, edited by the user, or gone."""

    @abstractmethod
    def delete_draft(self, ref: DraftRef) -> bool:
        """Remove a draft we created, but only if it is still as we created it: its
        fingerprint equals `ref.fingerprint` (checked here, just before deleting, so an
        edit made since the pass looked is never lost). Returns False when the draft is
        there but changed, and was left alone; True when it was removed or was already gone."""

    @abstractmethod
    def changes(self, cursor: str | None, since: datetime) -> MailChanges:
        """Messages added to INBOX and Sent since `cursor` (from the previous call).

        With no cursor, returns those that arrived at or after `since`. Reads headers
        only and never changes a message's flags. A message that cannot be parsed is
        skipped and listed in `MailChanges.skipped`, never raised.
        """

    def was_sent(self, ref: DraftRef, drafted_at: datetime) -> datetime | bool | None:
        """A draft we made has left Drafts: was it sent? The time it was sent (True: sent,
        time unknown), False when it was not (the user deleted it), or None when this
        mailbox cannot tell; the engine then decides from the Sent copies it has seen.
        The default cannot tell."""
        return None

    def conversation(self, addresses: Sequence[str], before: datetime) -> ThreadHint | None:
        """The latest existing conversation with any of `addresses` before `before`, for
        threading a draft into it; None when unknown. The default does not look."""
        return None

    def auto_reply_text(self, message: MessageInfo) -> str | None:
        """The start (at most about 8 KB) of the plain text of `message`, one of the
        messages the last `changes()` returned, which the core found to be an auto-reply
        from an interview's people; None when it cannot be read. Never asked of other
        mail. The default cannot read bodies."""
        return None

    def watch(self, wake: Callable[[], None]) -> Callable[[], None] | None:
        """Start pushing: call `wake()` from any thread when new mail may have arrived.

        Returns a function that stops watching, or None if this mailbox cannot push
        (the daemon then relies on polling alone). The default cannot push.
        """
        return None

    def close(self) -> None:
        """Release connections; the default has none."""


_KINDS = {
    "maildir": "followupd.mailboxes.maildir:MaildirMailbox",
    "imap": "followupd.mailboxes.imap:ImapMailbox",
    "gmail": "followupd.mailboxes.gmail:GmailMailbox",
}


def open_mailbox(config: Config, secrets: SecretStore) -> Mailbox:
    """Build the configured mailbox; its module (and client library) loads only now."""
    module, _, name = _KINDS[config.mailbox.kind].partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cls(config, secrets)


def body_fingerprint(message: EmailMessage) -> str:
    """A stable digest of a message's text, to tell an untouched draft from an edited one.

    Clients rewrite headers and line endings when they merely open a draft, so only
    the decoded text of the body counts, with whitespace normalised.
    """
    import hashlib

    texts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            try:
                texts.append(" ".join(str(part.get_content()).split()))
            except (LookupError, ValueError, AssertionError):
                texts.append(" ".join(str(part.get_payload()).split()))
    return hashlib.sha256("\n".join(texts).encode("utf-8", "replace")).hexdigest()
