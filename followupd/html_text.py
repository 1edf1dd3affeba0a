"""Event descriptions as a person reads them: HTML turned into text, conferencing
boilerplate (Meet, Zoom, Teams, Webex join blocks and dial-ins) removed.

Google Calendar stores descriptions typed in its editor as HTML (`<br>`, `<span>`,
`<b>`), Outlook and Teams send HTML bodies or their text rendering, and every
conferencing add-on appends a join block. None of that may reach a note or a draft.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from followupd.text import clean_block

_LOOKS_HTML = re.compile(r"<(?:/?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?|!--)>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});")
_BLOCK = frozenset(
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table tbody td tfoot th thead tr ul".split()
)
_SKIP = frozenset({"script", "style", "head", "title", "template"})


class _Text(HTMLParser):
    """Keeps only visible text: an `href="mailto:…"` is an attribute, never text, so
    an address can only come from what the reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(text: str) -> str:
    """Plain text for HTML or near-HTML; plain text is returned as it is (entities decoded)."""
    if not _LOOKS_HTML.search(text):
        return text
    parser = _Text()
    # A plain-text line break means nothing in HTML, but a description mixing both
    # (Google's editor keeps typed newlines) means it: keep them.
    parser.feed(text)
    parser.close()
    result = "".join(parser.parts).replace("\xa0", " ")
    return html.unescape(result) if "&" in result else result


# Lines that start a conferencing block: everything from there on is the block.
_BLOCK_START = re.compile(
    r"""(?ix)^\s*(?:
        -::~[:~]*                                   # Google Calendar's invitation delimiter
      | _{8,} | -{8,} | ={8,}                       # Outlook/Teams separators
      | join\s+(?:with\s+)?(?:google\s+meet|zoom|microsoft\s+teams|teams|webex|the\s+meeting)\b
      | join\s+zoom\s+meeting | zoom\s+meeting\b | join\s+by\s+phone | join\s+by\s+video
      | microsoft\s+teams\s+(?:meeting|need\s+help) | join\s+the\s+meeting\s+now
      | join\s+on\s+your\s+computer | click\s+here\s+to\s+join | need\s+help\?
      | (?:cisco\s+)?webex\s+meeting | join\s+(?:webex\s+)?meeting\b | meeting\s+link\s*:
      | video\s+call\s+link\s*: | dial[-\s]?in\b | one\s+tap\s+mobile
      | invitation\s+from\s+google\s+calendar
    )"""
)
# Single lines that belong to a conferencing block wherever they stand.
_BOILERPLATE = re.compile(
    r"""(?ix)
        https?://\S*(?:meet\.google\.com|zoom\.us|zoom\.com|teams\.microsoft\.com|teams\.live\.com|webex\.com
                      |gotomeeting\.com|whereby\.com|chime\.aws|bluejeans\.com|tel\.meet|g\.co/meet|aka\.ms)
      | \b(?:meeting\s+id|conference\s+id|webinar\s+id|passcode|password|pin|access\s+code|phone\s+conference\s+id)\s*[:#]
      | ^\s*(?:\+?\d[\d\s().-]{6,}\d)\s*(?:,,\S*)?\s*(?:[a-z()\s.,-]*)$    # a bare dial-in number
      | \bmore\s+phone\s+numbers\b | \bfind\s+a\s+local\s+number\b | \bjoin\s+with\s+google\s+meet\b
      | \blearn\s+more\s+about\s+meet\b | \bmeeting\s+options\b | \breset\s+dial-?in\s+pin\b
      | \bdownload\s+teams\b | \bjoin\s+on\s+the\s+web\b | \bjoin\s+via\s+sip\b | \bh\.323\b
    """
)
_SEPARATOR = re.compile(r"^\s*(?:_{8,}|-{8,}|={8,})\s*$")
_DELIMITER = re.compile(r"^\s*-::~[:~]*-?\s*$")
_OURS = re.compile(r"(?i)^\s*(?:notes?|role|position|company|employer)\s*:")
_URL = re.compile(r"<?https?://\S+>?")


def description_text(raw: str, limit: int = 4000) -> str:
    """What a description says, for reading fields, notes and addresses: HTML made
    text, encoded-words decoded, control characters and conferencing blocks gone."""
    if not raw:
        return ""
    text = clean_block(raw, limit=max(limit * 4, 16000))
    text = clean_block(html_to_text(text), limit=max(limit * 4, 16000))
    kept: list[str] = []
    block: str | None = None  # inside a conferencing block: the line that opened it
    for line in text.split("\n"):
        if block is not None:
            # A block ends at its closing separator; the user's own fields may follow it.
            if _SEPARATOR.match(line) or _DELIMITER.match(line):
                block = None
                continue
            if not _OURS.match(line):
                continue
            block = None
        if _BLOCK_START.match(line):
            block = line
            continue
        if _BOILERPLATE.search(line):
            continue
        kept.append(line)
    return "\n".join(kept).strip()[:limit]


def strip_urls(text: str) -> str:
    """Text without web addresses: a link pasted into a note is for the user, not for the email."""
    return " ".join(_URL.sub(" ", text).split())
