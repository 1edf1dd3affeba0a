"""Role and company from an event title, the way scheduling tools and recruiters write them.

"Nordwind Energy - Data Engineer interview (Maya Schneider)", "Solvara | Second Interview |
Maya Schneider", "Interview – Backend Developer, Quantix GmbH", "Vorstellungsgespräch als
Data Engineer bei Nordwind": the title is cut at its separators and connecting words
(at, with, for, bei, chez, con…); each piece is then a stage (never a role), a person
(the user or someone invited: never a company), a company or a role.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from followupd.people import squash

# Stage words: what kind of conversation it was. Removed from every piece; a piece made
# only of them is the stage, never a role. A stage word right before a role noun is
# part of the role ("Technical Writer", "Panel Engineer").
_STAGE = (
    r"vorstellungsgespr[äa]ch|bewerbungsgespr[äa]ch|kennenlerngespr[äa]ch|erstgespr[äa]ch|zweitgespr[äa]ch"
    r"|fachgespr[äa]ch|telefoninterview|videointerview|telefonat|gespr[äa]ch|(?:erste|zweite|dritte|finale|letzte)\s+runde"
    r"|(?:premier|deuxi[èe]me|second|dernier)\s+entretien|entretien(?:\s+(?:d['’]embauche|t[ée]l[ée]phonique|technique"
    r"|final|individuel|de\s+recrutement|rh|vid[ée]o|manager))*|[ée]change|appel"
    r"|(?:primera|segunda|tercera|[úu]ltima)\s+entrevista|entrevista(?:\s+(?:de\s+trabajo|t[ée]cnica|telef[óo]nica"
    r"|final|personal|con\s+rrhh))*|llamada|reuni[óo]n"
    r"|(?:first|second|third|fourth|final|next|1st|2nd|3rd|4th)\s+(?:round|stage|interview)s?|(?:round|stage)\s*\d+"
    r"|hiring\s+manager(?:\s+(?:call|interview|chat|screen|conversation|round))?|hm\s+(?:screen|call|interview|chat)"
    r"|recruiter\s+(?:call|screen|chat|interview|conversation|phone\s+screen)|phone\s+screen(?:ing)?|phone\s+interview"
    r"|screening(?:\s+call)?|tech(?:nical)?\s+(?:screen|interview|round|assessment|call|deep[- ]dive)|technical"
    r"|coding\s+(?:interview|challenge|exercise|session|round)|system\s+design|take[- ]home(?:\s+review)?"
    r"|pair(?:ing)?(?:\s+programming)?(?:\s+session)?|live\s+coding|whiteboard|virtual\s+on-?site|on-?site|super\s?day"
    r"|panel(?:\s+interview)?|intro(?:ductory)?\s+(?:call|chat|meeting)|initial\s+(?:call|chat|screen|conversation)"
    r"|exploratory\s+(?:call|chat)|culture(?:\s+(?:fit|add))?|values|behaviou?ral|case\s+(?:study|interview)|presentation"
    r"|follow[- ]up|next\s+steps|loop|video\s+(?:call|interview)|zoom(?:\s+(?:call|meeting))?|teams\s+(?:call|meeting)"
    r"|google\s+meet|1:1|1-1|one[- ]on[- ]one|\d+\s*[- ]?min(?:ute)?s?(?:\s+(?:meeting|call|chat))?|half\s+hour"
    r"|team\s+fit|peer|cross[- ]functional|bar\s+raiser|assessment|discussion|session"
    r"|interviews?|interviewing|chat|call|conversation|meeting|catch[- ]up|confirmed|confirmation|reminder|scheduled"
    r"|rescheduled|invitation|invite|updated|new\s+event|candidate|with\s+you|and\s+you"
)
_ROLE_NOUN = (
    r"\w*(?:engineer|entwickler|ingenieur|developer|programmer|architect|architekt|designer|manager|analyst|analyste"
    r"|scientist|berater|leiter|referent|consultant|specialist|spezialist|administrator|officer|coordinator|associate"
    r"|accountant|writer|editor|researcher|strategist|technician|technicien|tester|recruiter|sourcer|generalist"
    r"|assistant|planner|buyer|controller|auditor|economist|statistician|owner|executive|representative|advisor"
    r"|adviser|counsel|intern|internship|trainee|apprentice|fellow|postdoc|lecturer|professor|producer|nurse"
    r"|teacher|marketer|copywriter|lead|head|director|directeur|directrice|president|vp|werkstudent|praktikant"
    r"|sachbearbeiter|d[ée]veloppeur|d[ée]veloppeuse|ing[ée]nieur|consultante?|stagiaire|alternante?|architecte"
    r"|charg[ée]e?|responsable|ingenier[oa]|desarrollador|desarrolladora|consultor|consultora|jefe|jefa|gerente"
    r"|director[a]?|becari[oa]|arquitect[oa]|diseñador[a]?|t[ée]cnic[oa]|especialista|programador[a]?|analista)"
    r"(?:in|innen|e|es|s)?|sre|swe|sde|qa|pm|tpm|em|devops|ux|ui|cto|cfo|coo|ceo|chef\s+de\s+\w+"
)
_STAGE_RE = re.compile(rf"(?i)(?<![\w-])(?:{_STAGE})(?![\w-])(?!\s+(?:{_ROLE_NOUN})\b)")
_ROLE_RE = re.compile(rf"(?i)(?<![\w-])(?:{_ROLE_NOUN})(?![\w-])")
_LEGAL = re.compile(
    r"(?i)[\s,]+(?:gmbh(?:\s*&\s*co\.?\s*kg)?|ag|se|kg|inc\.?|incorporated|llc|l\.l\.c\.|ltd\.?|limited|plc|corp\.?"
    r"|corporation|co\.|s\.?a\.?s?\.?|s\.?l\.?|s\.?r\.?l\.?|b\.?v\.?|n\.?v\.?|oy|ab|as|a/s|aps|pty\.?(?:\s+ltd\.?)?)$"
)
_INDUSTRY = re.compile(
    r"(?i)\b(?:labs?|health(?:care)?|analytics|energy|energie|systems|technolog(?:y|ies)|tech|software|group|gruppe"
    r"|bank|capital|solutions|partners|consulting|studios?|media|robotics|ai|cloud|networks|digital|insurance"
    r"|therapeutics|bio(?:tech)?|pharma(?:ceuticals)?|logistics|motors|foods|industries|holdings|ventures|security"
    r"|financial|payments|games|interactive|mobility|dynamics|works|company|gmbh|ag|inc\.?|llc|ltd\.?|plc|corp\.?"
    r"|sas|s\.a\.|university|universit[äa]t|institute|hospital|clinic|agency|foundation|stiftung|aerospace|automotive"
    r"|electronics|semiconductors?|telecom|retail|airlines?|hotels?|markets?)$"
)
_NOISE = [
    re.compile(r"(?i)^\s*(?:updated\s+)?(?:invitation|einladung|invitaci[óo]n|accepted|akzeptiert|tentative)\s*:\s*"),
    # The rest of a Google Calendar invitation's mail subject, when a title was copied
    # from one: " @ Mon Nov 30, 2026 5pm - 5:30pm (CET) (ada@example.org)".
    re.compile(r"\s+@\s+[^@]*\d[^@]*\([^()@]*\)\s*(?:\([^()\s]+@[^()\s]+\))?\s*$"),
    re.compile(r"(?i)\[(?:hold|external|extern|ext|confirmed|tentative|updated|invitation|interview)\]"),
    re.compile(r"(?i)\((?:[mwfdhx]\s*/\s*){1,3}[mwfdhx]\)|\(all\s+genders?\)|\(gn\)|\(h/f(?:/x)?\)"),
    re.compile(r"(?i)\b(?:jr|req|r|job)\s?[-#:]?\s?\d{4,}\b|#\s?\d{3,}"),
    re.compile(r"(?i)\bvia\s+(?:zoom|teams|google\s+meet|meet|webex|phone)\b"),
]
# Separators between pieces, and connecting words that say what the next piece is.
_SPLIT_TEXT = (
    r"(?i)\s+(?:-|–|—|\||/|<>|<->|<=>|x|·|•|::)(?=\s)|\s*[|–—:,;·•]\s*?(?=\s|$)|\s*[|–—:,;·•]|\s+-\s*|\s*-(?=\s)"
    r"|\s+(at\s+the|with\s+the|at|@|with|for|between|and|bei|mit|f[üu]r|als|chez|avec|pour|con|para{en})\s+|\s*(@)\s*"
)
_SPLIT = re.compile(_SPLIT_TEXT.format(en=""))
_SPLIT_ES = re.compile(_SPLIT_TEXT.format(en="|en"))  # "en" connects only in Spanish titles
_CONNECTOR = {
    "at": "at",
    "@": "at",
    "at the": "at",
    "bei": "at",
    "chez": "at",
    "en": "at",
    "with": "with",
    "with the": "with",
    "mit": "with",
    "avec": "with",
    "con": "with",
    "between": "with",
    "and": "with",
    "for": "for",
    "für": "for",
    "fur": "for",
    "als": "for",
    "pour": "for",
    "para": "for",
}
_ROLE_LEAD = re.compile(
    r"(?i)^(?:(?:the|a|an|our|your|eine?)\s+|(?:the\s+)?position\s+(?:of|as)|(?:the\s+)?role\s+(?:of|as)|die\s+(?:position|stelle)"
    r"(?:\s+als)?|le\s+poste\s+(?:de|d['’])|un\s+poste\s+(?:de|d['’])|poste\s+(?:de|d['’])|el\s+puesto\s+de"
    r"|la\s+(?:posici[óo]n|vacante)\s+de|puesto\s+de)\s*"
)
_ROLE_TAIL = re.compile(r"(?i)\s+(?:role|position|opening|opportunity|job|stelle|position|poste|puesto|vacante)$")
_NAME_WORD = re.compile(r"^[A-ZÀ-Þ][a-zà-ÿ'’-]+\.?$|^[A-Z]\.$")
# What is left of a title once its stage words are gone, when that is the kind of
# meeting or its part of the day, never who it is with: "Hiring manager sync",
# "Onsite interview day", "Interview debrief", "Coffee chat with Rita".
_NOT_A_COMPANY = re.compile(
    r"(?i)^(?:(?:sync|debrief|day|prep(?:aration)?|feedback|notes?|review|kick-?off|lunch|dinner|coffee|breakfast"
    r"|drinks|social|tour|office|visit|workshop|training|practice|retro|stand-?up|onboarding|offer|negotiation"
    r"|check-?in|touch\s?base|reference(?:\s+check)?s?|event|block|hold|tbd|tbc|placeholder|slot|time|focus|travel"
    r"|commute|final|part\s+\d+|\d+)\s*)+$"
)


@dataclass(frozen=True)
class Piece:
    connector: str  # "", "at", "with", "for", "paren"
    text: str


def pieces(title: str) -> list[Piece]:
    for noise in _NOISE:
        title = noise.sub(" ", title)
    result: list[Piece] = []
    # Parentheses and brackets hold their own piece: a name, a stage, a location.
    for inner in re.findall(r"[(\[]([^()\[\]]*)[)\]]", title):
        result.append(Piece("paren", inner))
    title = re.sub(r"[(\[][^()\[\]]*[)\]]", " - ", title)
    parts = (_SPLIT_ES if re.search(r"(?i)entrevista", title) else _SPLIT).split(f" {title} ")
    connector = ""
    text_parts: list[Piece] = []
    for index, part in enumerate(parts):
        if index % 3 == 0:
            if part and part.strip():
                text_parts.append(Piece(connector, part.strip()))
            connector = ""
        elif part:
            connector = _CONNECTOR.get(" ".join(part.lower().split()), "")
    return text_parts + result


def _strip_stage(text: str, keywords: re.Pattern[str] | None) -> str:
    text = _STAGE_RE.sub(" ", text)
    if keywords is not None:
        text = keywords.sub(" ", text)
    return " ".join(text.split()).strip(" .,:;-–—|/&+")


def _is_name_of(text: str, names: frozenset[str]) -> bool:
    key = squash(text)
    return bool(key) and key in names


def _person_like(text: str) -> bool:
    words = text.split()
    return 2 <= len(words) <= 4 and all(_NAME_WORD.match(w) for w in words) and not _INDUSTRY.search(text)


def _role(text: str) -> str | None:
    for _ in range(3):
        text = _ROLE_TAIL.sub("", _ROLE_LEAD.sub("", text).strip()).strip(" .,:;-")
    if not text or len(text) > 60 or len(text.split()) > 7 or "@" in text:
        return None
    return text


def company_name(text: str) -> str | None:
    text = re.sub(r"(?i)^(?:the|die|der|la|le|el|l['’])\s+", "", text.strip(" .,:;-"))
    while True:
        shorter = _LEGAL.sub("", text).strip(" .,:;-")
        if shorter == text or not shorter:
            break
        text = shorter
    if not text or len(text) > 50 or len(text.split()) > 5 or "@" in text or not re.search(r"\w", text):
        return None
    return text


def read_title(
    title: str,
    *,
    keywords: re.Pattern[str] | None,
    me: Iterable[str],
    people: Iterable[str],
    company_hint: str | None,
) -> tuple[str | None, str | None]:
    """(role, company) named in a title, each None when the title does not say."""
    mine = frozenset(squash(n) for n in me if n)
    theirs = frozenset(squash(n) for n in people if n)
    hint = squash(company_hint or "")
    role: str | None = None
    company: str | None = None
    unknown: list[str] = []
    for piece in pieces(title):
        text = _strip_stage(piece.text, keywords)
        if not text or not re.search(r"[^\W\d_]", text):
            continue
        if _is_name_of(text, mine) or _is_name_of(text, theirs):
            continue
        names = [n for n in re.split(r"\s+(?:and|und|et|y|&)\s+", text) if n]
        if len(names) > 1 and all(_is_name_of(n, mine | theirs) or _person_like(n) for n in names):
            continue
        key = squash(text)
        names_hint = bool(hint) and (key == hint or (len(key) >= 4 and (hint.startswith(key) or key.startswith(hint))))
        looks_company = names_hint or bool(_INDUSTRY.search(text)) or bool(_LEGAL.search(" " + text))
        looks_role = bool(_ROLE_RE.search(text)) and not names_hint
        if piece.connector == "at" or (looks_company and not looks_role):
            company = company or company_name(text)
        elif piece.connector == "for" or looks_role:
            role = role or _role(text)
        elif piece.connector == "paren" or _person_like(text) or (piece.connector == "with" and " " in text):
            continue  # a person's name ("with Jane Doe"), a place, an aside
        else:
            unknown.append(text)
    if company is None:
        for text in unknown:
            if not _person_like(text) and len(text.split()) <= 4 and not _NOT_A_COMPANY.match(text):
                company = company_name(text)
                break
    if role and company and squash(role) == squash(company):
        role = None
    return role, company
