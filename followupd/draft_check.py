"""The last check before a draft leaves followupd: its bytes, parsed back, say what
compose meant and nothing more.

Text from a calendar reaches From/To/Subject/References; the stdlib's header folding
has had bugs that turn hidden CR/LF into new header lines (CVE-2024-6923: Python
3.11.7 and 3.12.1 still have it). Whatever the Python, a draft whose parsed headers
differ from the intended set — an extra Bcc, a second From, a header block cut short —
is refused, and the event named.
"""

from __future__ import annotations

from collections import Counter
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.policy import compat32
from email.utils import getaddresses

from followupd.errors import FollowupdError
from followupd.text import clean_line

_MIME = ("mime-version", "content-type", "content-transfer-encoding")


class UnsafeDraft(FollowupdError):
    """A composed draft does not say what compose meant; it is never stored."""


def verify(
    message: EmailMessage,
    *,
    interview_uid: str,
    headers: list[str],
    sender: str,
    recipients: list[str],
    subject: str,
    message_id: str,
) -> None:
    """Raise UnsafeDraft unless the bytes of `message` parse back to exactly `headers`
    (plus the MIME ones), each once, with the intended sender, recipients, subject and
    Message-ID."""
    raw = message.as_bytes()
    # compat32 parses without decoding or repairing: what a plain MUA or server would see.
    parsed = message_from_bytes(raw, policy=compat32)
    problems = _problems(parsed, headers, sender, recipients, subject, message_id)
    if problems:
        label = clean_line(interview_uid, 120)
        raise UnsafeDraft(
            f"refused to store the draft for {label}: it would not say what was meant "
            f"({'; '.join(problems)}); the event's text may be crafted to add mail headers"
        )


def _problems(
    parsed: Message,
    headers: list[str],
    sender: str,
    recipients: list[str],
    subject: str,
    message_id: str,
) -> list[str]:
    problems: list[str] = []
    counts = Counter(name.lower() for name in parsed.keys())  # noqa: SIM118 - Message iterates header names, but say so
    wanted = Counter([*(h.lower() for h in headers), *_MIME])
    if counts != wanted:
        extra = sorted(set(counts) - set(wanted))
        missing = sorted(set(wanted) - set(counts))
        repeated = sorted(n for n in counts if n in wanted and counts[n] != wanted[n])
        if extra:
            problems.append(f"unexpected headers {', '.join(extra)}")
        if missing:
            problems.append(f"missing headers {', '.join(missing)}")
        if repeated:
            problems.append(f"repeated headers {', '.join(repeated)}")
    if parsed.get_all("bcc"):
        problems.append("a Bcc header")
    if problems:
        return problems
    senders = [a.lower() for _, a in getaddresses([_unfold(parsed["From"])])]
    if senders != [sender.lower()]:
        problems.append("the sender differs")
    to = [a.lower() for _, a in getaddresses([_unfold(parsed["To"])])]
    if to != [r.lower() for r in recipients]:
        problems.append("the recipients differ")
    if _unfold(parsed["Message-ID"]).strip() != message_id:
        problems.append("the Message-ID differs")
    got_subject = _decoded(parsed["Subject"])
    # Compared without white space: RFC 2047 drops the space between two adjacent
    # encoded-words, so a subject may come back with fewer spaces, never other text.
    if "".join(got_subject.split()) != "".join(subject.split()):
        problems.append("the subject differs")
    if parsed.get_content_type() != "text/plain" or parsed.is_multipart():
        problems.append("the body is not one plain-text part")
    return problems


def _unfold(value: object) -> str:
    return str(value or "").replace("\r\n", "").replace("\n", "")


def _decoded(value: object) -> str:
    try:
        return str(make_header(decode_header(_unfold(value))))
    except (UnicodeError, LookupError, ValueError):
        return _unfold(value)
