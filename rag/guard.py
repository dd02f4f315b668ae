"""Cheap checks that decide, before and after generation, whether the article can answer.

The 270M model cannot judge answerability (its yes/no log-probabilities ranked answerable
questions *below* unanswerable ones), so the decision rests on retrieval scores, the
expected answer type and verification, never on the model's say-so alone.
"""

from __future__ import annotations

import re

# Questions that try to steer the assistant instead of asking about the document.
INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instructions?|article|context|rules|"
    r"prompt|above|previous|sources?|documents?|everything)\b"
    r"|\b(system|hidden|initial|original)\s+(prompt|instructions?|message)\b"
    r"|\b(reveal|print|show|repeat|output|leak)\b.{0,30}\b(your|the)\s+(prompt|instructions?|rules)\b"
    r"|\byou are now\b|(^|[.!?]\s*|\b(you|please|now)\s+((must|should|will|shall|to)\s+)?)act as\b"
    r"|\bpretend (to be|you)\b|\bjailbreak\b|\bdeveloper mode\b"
    r"|\bwithout (using|looking at|the) (the )?(article|context|sources?)\b"
    r"|\bfrom your own knowledge\b|\bmake (something|it) up\b",
    re.IGNORECASE,
)

MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
DATE = re.compile(rf"\b(({MONTHS})\b|(1[89]|20)\d\d\b|\d{{1,2}}(st|nd|rd|th)\b|yesterday|today|last (week|month|year))", re.I)
NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                    r"twenty|thirty|forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?)\b", re.I)
DAY_DATE = re.compile(rf"\b({MONTHS})\s+\d{{1,2}}\b|\b\d{{1,2}}\s+({MONTHS})\b|\b\d{{4}}-\d\d-\d\d\b", re.I)
DURATION = re.compile(r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|twenty|several|many)\s+"
                      r"(years?|months?|weeks?|days?|decades?|hours?)\b|\bas long as\b|\bindefinite(ly)?\b|"
                      r"\buntil\b|\bpermanent(ly)?\b", re.I)
NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:[- ][A-Z][a-z]+)*")
# Question words whose answers have a recognisable shape in text.
QTYPES = [
    ("day", re.compile(r"^\s*(on )?what (exact )?(date|day)\b", re.I)),
    ("date", re.compile(r"^\s*(when|what (year|month)|in (what|which) (year|month))\b", re.I)),
    ("duration", re.compile(r"^\s*(for )?how long\b", re.I)),
    ("number", re.compile(r"^\s*(how (many|much)|what (number|percentage|share|amount))\b", re.I)),
    ("name", re.compile(r"^\s*(who|whom|whose|what is the name of|which (person|official|leader|minister))\b", re.I)),
]
YES_NO = re.compile(r"^\s*(is|are|was|were|does|do|did|has|have|had|can|could|will|would|should)\b", re.I)
# Words that start a question or are capitalised for grammar, not because they name something.
NOT_ENTITIES = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was",
                "were", "does", "do", "did", "has", "have", "can", "could", "will", "would", "should", "the",
                "a", "an", "in", "on", "according", "i", "ignore", "tell", "please"}


def is_injection(question: str) -> bool:
    return bool(INJECTION.search(question))


def expected_type(question: str) -> str | None:
    for name, pattern in QTYPES:
        if pattern.search(question):
            return name
    return None


def is_yes_no(question: str) -> bool:
    return bool(YES_NO.search(question))


def entities(question: str) -> list[str]:
    """Capitalised words of the question (names, places, titles), minus grammar capitals."""
    words = re.findall(r"[A-Z][\w’'-]*", question)
    found = []
    for word in words:
        word = re.sub(r"(’s|'s|’|')$", "", word)
        if word.lower() not in NOT_ENTITIES:
            found.append(word)
    return found


def unknown_entities(question: str, vocabulary: set[str]) -> list[str]:
    """Names and years in the question that the documents never mention: such a question
    cannot be answered ("Where did they meet in 2019?" of an article that never says 2019)."""
    missing = []
    for name in entities(question):
        parts = [p for p in re.split(r"[-\s]", name.lower()) if p]
        if not all(p in vocabulary for p in parts):
            missing.append(name)
    # A year after a time preposition ("in 2019"), not a count ("the 2000 troops").
    years = re.findall(r"\b(?:in|since|by|until|till|before|after|during|from)\s+((?:1[89]|20)\d\d)\b", question, re.I)
    missing += [y for y in years if y not in vocabulary]
    return missing


ATTRIBUTE = re.compile(r"^\s*(what|which)\s+(is|was|are|were)\s+the\s+(\w+)\s+of\b", re.I)


def unknown_attribute(question: str, vocabulary: set[str]) -> str | None:
    """'What is the population of X?' asks for an attribute; if the documents never use the
    word, they cannot give its value."""
    match = ATTRIBUTE.search(question)
    if not match or match.group(3).lower() in {"name", "role", "purpose", "goal", "aim", "impact", "effect",
                                                "meaning", "significance", "result", "outcome", "nature"}:
        return None
    word = match.group(3).lower()
    forms = {word, word.rstrip("s"), word + "s"}
    return None if forms & vocabulary else word


# Offices a question may ask the holder of. "leader" and "official" are left out: articles say
# "North Korean leader Kim Jong-un" for a question about the "supreme leader".
OFFICE = re.compile(r"\b([a-z][a-z-]+)\s+(minister|president|secretary|ambassador|spokes(?:person|man|woman)|"
                    r"chancellor|premier|governor|mayor|envoy|commander)\b")
NOT_MODIFIERS = {"the", "a", "an", "its", "his", "her", "their", "our", "your", "which", "what", "whose",
                 "any", "each", "every", "this", "that", "former", "current", "new", "then", "vice", "deputy"}


def unknown_office(question: str, mentions) -> str | None:
    """'Who is North Korea's defense minister?' when the documents only ever name a *foreign*
    minister: the office is never mentioned, so its holder cannot be answered.
    `mentions(phrase)` says whether the documents contain a lower-cased phrase."""
    for match in OFFICE.finditer(question):  # lower-case modifiers only: "Russian President" is a name
        modifier, office = match.group(1), match.group(2)
        if modifier in NOT_MODIFIERS or modifier.endswith("'s"):
            continue
        phrase = f"{modifier.replace('-', ' ')} {office}"
        if not mentions(phrase):
            return phrase
    return None


def entity_coverage(question: str, text: str) -> float:
    """Share of the question's names that the sentence mentions (1.0 when it names none)."""
    names = entities(question)
    if not names:
        return 1.0
    lowered = text.lower()
    return sum(1 for n in names if n.lower() in lowered) / len(names)


def _counted_noun(question: str) -> str | None:
    match = re.search(r"how (many|much)\s+(\w+)", question, re.I)
    return match.group(2).lower() if match else None


def has_type(text: str, kind: str | None, question: str = "") -> bool:
    """Does `text` contain something of the expected answer type (beyond the question's words)?"""
    if kind is None:
        return True
    if kind == "day":
        return bool(DAY_DATE.search(text))
    if kind == "date":
        return bool(DATE.search(text))
    if kind == "duration":
        return bool(DURATION.search(text))
    if kind == "number":
        noun = _counted_noun(question)
        if noun and len(noun) > 3:
            # "how many troops" needs a number right before (a form of) that noun.
            stem = noun[:-1] if noun.endswith("s") else noun
            return bool(re.search(rf"({NUMBER.pattern})(\s+\S+){{0,2}}\s+{re.escape(stem)}", text, re.I))
        return bool(NUMBER.search(text))
    if kind == "name":
        asked = {w.lower() for w in re.findall(r"\w+", question)}
        return any(m.group().split()[0].lower() not in asked for m in NAME.finditer(text))
    return True


def says_unanswerable(text: str) -> bool:
    return bool(re.search(r"\b(not in the (article|text|sentences)|does not say|doesn't say|"
                          r"no information|not mentioned|cannot answer|can't answer|unknown)\b", text, re.I))
