"""Language-neutral readings of text, each given the language module whose words it uses:
names, stems, word pairs, numbers, and whether a text holds the kind of thing a question asks for.

Every name detector lives here, each for its own job: `names` (capitalised words, what a question
or sentence names), `name_runs` (whole name phrases to copy as an answer), `titled_people` (who the
documents introduce with a title, for follow-ups) and `mentions` (which of those a text names).
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import TYPE_CHECKING, Iterable

from ..text import fold, is_capitalised, stem_all, words

if TYPE_CHECKING:
    from .question import Question

# A number and what is glued to it ("12th", "1990s"): the number is compared, the whole reported.
NUMERAL = re.compile(r"(\d[\d,.]*\d|\d)[^\W\d_]*")
# A word for `stems`: letters or digits only, so "Son-hui" and "Korea's" are two words each.
_ALNUM = re.compile(r"[^\W_]+")


def number_value(text: str) -> str:
    """The number a numeral states, for comparison: "40,000." -> "40000"."""
    return text.replace(",", "").rstrip(".")


def bare(word: str, lang: ModuleType) -> str:
    """The word without a possessive ending: "Korea's" -> "Korea"."""
    return lang.POSSESSIVE.sub("", word)


def plain(word: str, lang: ModuleType) -> str:
    """Folded (case, accents) and without a possessive ending: how words are compared."""
    return bare(fold(word), lang)


def stems(text: str, lang: ModuleType) -> set[str]:
    """The stems of the text's content words."""
    found = [w for w in _ALNUM.findall(fold(text)) if w not in lang.STOPWORDS]
    return set(stem_all(found, lang.STEMMER))


def content_pairs(text: str, lang: ModuleType) -> set[tuple[str, str]]:
    """Adjacent content words, stemmed: "defense minister", "final approval"."""
    content = [fold(m.group()) for m in words(text)]
    content = stem_all([w for w in content if w not in lang.STOPWORDS], lang.STEMMER)
    return set(zip(content, content[1:]))


def names(text: str, lang: ModuleType) -> list[str]:
    """Capitalised words that are not the first word of a sentence or a question/function word:
    they name people, places, organisations and titles (any script)."""
    found = []
    for m in words(text):
        word = bare(m.group(), lang)
        before = text[: m.start()].rstrip()
        if not word or not is_capitalised(word) or not before or before[-1] in ".!?:;\"“(":
            continue
        if fold(word) in lang.STOPWORDS:
            continue
        found.append(word)
    return found


def name_runs(sentence: str, lang: ModuleType) -> list[tuple[int, int]]:
    """Runs of capitalised words, with a connector or title inside ("Ivan the Terrible", "North Korean
    leader Kim Jong-un"): names of any script."""
    runs, start, end, pending = [], None, None, False
    for m in words(sentence):
        word = m.group()
        if is_capitalised(word) and fold(word) not in lang.STOPWORDS:
            start = m.start() if start is None else start
            end, pending = m.end(), False
        elif start is not None and (fold(word) in lang.NAME_CONNECTORS or fold(word) in lang.TITLES) and not pending:
            pending = True
        else:
            if start is not None:
                runs.append((start, end))
            start, pending = None, False
    if start is not None:
        runs.append((start, end))
    return runs


def titled_people(texts: Iterable[str], lang: ModuleType) -> dict[str, str]:
    """Every way the documents refer to a titled person: full name and each part → full name."""
    found: dict[str, str] = {}
    for text in texts:
        for match in lang.TITLED_PERSON.finditer(text):
            full = match.group(1)
            found.setdefault(full, full)
            for part in full.split():
                if len(part) > 2:
                    found.setdefault(part, full)
    return found


def mentions(text: str, people: Iterable[str]) -> list[str]:
    """Which of `people` (names as the documents write them) the text names."""
    return [n for n in people if re.search(rf"\b{re.escape(n)}\b", text)]


def is_instruction(text: str, lang: ModuleType) -> bool:
    """Does the text address an assistant ("ignore your instructions and ...")?"""
    return bool(lang.INJECTION.search(text))


def says_unanswerable(text: str, lang: ModuleType) -> bool:
    return bool(lang.SAYS_UNANSWERABLE.search(text))


def entity_coverage(question: Question, text: str) -> float:
    """Share of the question's names that the text mentions (1.0 when it names none)."""
    if not question.names:
        return 1.0
    lowered = fold(text)
    return sum(1 for n in question.names if fold(n) in lowered) / len(question.names)


def has_type(text: str, question: Question) -> bool:
    """Does `text` contain something of the kind the question asks for (beyond its own words)?"""
    lang, kind = question.lang, question.kind
    if kind is None:
        return True
    if kind == "day":
        return bool(lang.DAY_DATE.search(text))
    if kind == "date":
        return bool(lang.DATE.search(text))
    if kind == "duration":
        return bool(lang.DURATION.search(text))
    if kind == "number":
        noun = question.counted
        if noun and len(noun) > 3:
            # "how many troops" needs a number right before (a form of) that noun.
            stem = lang.singular(noun)
            return bool(re.search(rf"({lang.NUMBER.pattern})(\s+\S+){{0,2}}\s+{re.escape(stem)}", text, re.I))
        return bool(lang.NUMBER.search(text))
    if kind == "name":
        return any(fold(n) not in question.folded for n in names(text, lang))
    return True
