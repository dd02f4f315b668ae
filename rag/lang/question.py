"""The question, read once: what it asks for, what it names, the words it is about.

Every stage (gates, span picking, verification, the confidence) reads this one object instead of
matching the question's text again with its own patterns.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from ..text import fold, words
from . import words as w


@dataclass(frozen=True)
class Question:
    text: str
    lang: ModuleType  # the language module it was read with
    kind: str | None  # the kind of answer asked for: "date", "day", "number", "duration", "name", "place"
    opening: str  # the words that say so ("how long"): what is asked for, not what it is about
    yes_no: bool
    instruction: bool  # it tries to steer the assistant instead of asking about the documents
    names: tuple[str, ...]  # capitalised words past the first (rag/lang/words.py `names`)
    focus: str | None  # the noun naming what it asks for ("population" in "What is the population of X?")
    counted: str | None  # the noun after "how many", lower-cased
    numerals: tuple[tuple[str, str], ...]  # (as written, value): "2019", "12th" -> "12"
    content: tuple[str, ...]  # its words that are not stopwords, as written
    folded: frozenset[str]  # every word, folded
    keys: tuple[str, ...]  # content words past the opening, folded: what it is about, in order
    stems: frozenset[str]  # stems of its content words
    pairs: frozenset[tuple[str, str]]  # adjacent content words, stemmed


def parse(text: str, lang: ModuleType) -> Question:
    """Read `text` with the language module `lang` (rag/lang/en.py names what is used)."""
    kind, opening = None, ""
    for name, pattern in lang.QUESTION_TYPES:  # the first that matches wins
        if match := pattern.search(text):
            kind, opening = name, match.group()
            break
    asking = {w.plain(m.group(), lang) for m in words(opening)}
    asked = [w.plain(m.group(), lang) for m in words(text)]
    counted = lang.COUNTED_NOUN.search(text)
    return Question(
        text=text,
        lang=lang,
        kind=kind,
        opening=opening,
        yes_no=bool(lang.YES_NO.search(text)),
        instruction=w.is_instruction(text, lang),
        names=tuple(w.names(text, lang)),
        focus=_focus(text, lang),
        counted=counted.group(1).lower() if counted else None,
        numerals=tuple((m.group(), w.number_value(m.group(1))) for m in w.NUMERAL.finditer(text)),
        content=tuple(m.group() for m in words(text) if fold(m.group()) not in lang.STOPWORDS),
        folded=frozenset(fold(m.group()) for m in words(text)),
        keys=tuple(k for k in asked if k not in lang.STOPWORDS and k not in asking),
        stems=frozenset(w.stems(text, lang)),
        pairs=frozenset(w.content_pairs(text, lang)),
    )


def _focus(text: str, lang: ModuleType) -> str | None:
    match = lang.FOCUS.search(text)
    if not match:
        return None
    noun = next(g for g in match.groups() if g)
    return None if fold(noun) in lang.STOPWORDS else noun
