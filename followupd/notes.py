"""The one point from the user's notes that a draft may mention, and how.

Notes are jotted for oneself: "their migration to Kubernetes", "we talked about
billing", "ask about on-call", "How do they test dbt models?". Only two kinds of line
may reach an email: a noun phrase (the draft says "I especially enjoyed our discussion
of …", and "their migration" becomes "your migration": the email speaks to them) and a full sentence that already reads as the user speaking to the interviewer
("I enjoyed hearing how your team ships weekly."). Questions, reminders and remarks
about the interviewer in the third person are for the user alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from followupd.html_text import strip_urls
from followupd.text import clean_block

# Lead-ins that report the conversation: what follows them is the topic.
_REPORTED = re.compile(
    r"(?i)^(?:we\s+(?:talked|spoke|chatted)\s+(?:a\s+lot\s+)?(?:about|through|on)|we\s+(?:discussed|covered|went\s+over)"
    r"|(?:talked|spoke|chatted)\s+(?:about|through)|discussed|covered|went\s+over|discussion\s+(?:of|about|on)"
    r"|conversation\s+(?:about|on)|topic\s*:|topics\s*:|re\s*:|about)\s+"
)
# A reminder or a question to oneself: never pasted into an email.
_FOR_ME = re.compile(
    r"(?i)^(?:todo|to\s+do|fixme|tbd|xxx|note\s+to\s+self|reminder|remember|don['’]?t\s+forget|ask|asked|check|follow\s+up"
    r"|send|prepare|prep|look\s+up|lookup|research|email|e-mail|call|find\s+out|need\s+to|needs\s+to|should|must"
    r"|bring|book|remind|mention|read|review|update|write|google|figure\s+out|think\s+about|consider|maybe|q\s*:"
    r"|question|questions|how|what|why|when|where|who|whom|which|whose|do|does|did|is|are|was|were|can|could|will"
    r"|would|shall|may|might|have|has|had)\b"
)
# A sentence the user can send as written starts by speaking as "I" or to "you".
_SENDABLE = re.compile(
    r"(?i)^(?:i|i['’]m|i['’]ve|i['’]d|i['’]ll|thank\s+you|thanks|it\s+was|your|you|learning|hearing|seeing|getting"
    r"|meeting|talking|our\s+conversation|our\s+discussion)\b"
)
_THIRD_PERSON = re.compile(r"(?i)\b(?:he|she|him|her|his|hers|they|them|their|theirs)\b")
_SUBJECT_START = re.compile(r"(?i)^(?:we|they|he|she|i|it|you|there|this|that|these|those)\b")
_FUNCTION_WORDS = {"the", "a", "an", "their", "your", "our", "my", "his", "her", "its"}
# Notes speak of the interviewer's side as "they"; the email speaks to them.
_TO_YOU = {"their": "your", "theirs": "yours", "them": "you", "they": "you", "they're": "you're", "they've": "you've"}
_THEY = re.compile(r"(?i)\b(?:they['’](?:re|ve)|theirs|their|them|they)\b")


@dataclass(frozen=True)
class Point:
    text: str
    is_sentence: bool  # used as written; else a noun phrase for "our discussion of …"


def point_from(notes: str | None) -> Point | None:
    """The first line of the notes that may go into an email, shaped for it; None when
    nothing there is fit to send."""
    for line in clean_block(notes or "").split("\n"):
        found = _shape(line)
        if found is not None:
            return found
    return None


def _shape(line: str) -> Point | None:
    line = strip_urls(line.strip().lstrip("-*•·>").strip())
    if not line or len(line) < 3 or "?" in line or re.search(r"(?i)\b(?:todo|tbd|fixme)\b", line):
        return None
    if _FOR_ME.match(line):
        return None
    if line[-1] in ".!" and _SENDABLE.match(line) and not _THIRD_PERSON.search(line):
        return Point(line, True)
    topic = _REPORTED.sub("", line, count=1).strip().rstrip(".!;:,")
    if topic != line.rstrip(".!;:,"):
        topic = _REPORTED.sub("", topic, count=1).strip()
    if not topic or _SUBJECT_START.match(topic) or _FOR_ME.match(topic):
        return None
    if len(topic.split()) > 14 or re.search(r"[.!]\s", topic):
        return None  # several sentences or a long remark: not a topic
    first, _, rest = topic.partition(" ")
    if first.lower() in _FUNCTION_WORDS:
        topic = " ".join(filter(None, (first.lower(), rest)))  # it continues our sentence
    topic = _THEY.sub(lambda m: _TO_YOU[m.group(0).lower().replace("’", "'")], topic)
    return Point(topic, False)
