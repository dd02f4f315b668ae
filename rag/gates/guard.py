"""Answerability gates: cheap checks on the question, the documents and the retrieved sentences.

The 270M model cannot judge answerability (its yes/no log-probabilities ranked answerable
questions *below* unanswerable ones), so these checks rest on what any reader can verify:
whether the question tries to steer the assistant, whether its names and numbers occur in the
documents at all, and whether a retrieved sentence holds the kind of thing it asks for.
Every English word or pattern comes from the language module (`rag/lang/en.py`).
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Iterable

from ..lang import en
from ..text import bare, fold, is_capitalised, stem_all, words

# A number and what is glued to it ("12th", "1990s"): the number is compared, the whole reported.
NUMERAL = re.compile(r"(\d[\d,.]*\d|\d)[^\W\d_]*")


def _number(text: str) -> str:
    return text.replace(",", "").rstrip(".")


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def is_injection(question: str, lang: ModuleType = en) -> bool:
    return bool(lang.INJECTION.search(question))


def expected_type(question: str, lang: ModuleType = en) -> str | None:
    for name, pattern in lang.QUESTION_TYPES:
        if pattern.search(question):
            return name
    return None


def is_yes_no(question: str, lang: ModuleType = en) -> bool:
    return bool(lang.YES_NO.search(question))


def names(text: str, lang: ModuleType = en) -> list[str]:
    """Capitalised words that are not the first word of a sentence or a question/function word:
    in English these name people, places, organisations and titles (any script)."""
    found = []
    for m in words(text):
        word = bare(m.group())
        before = text[: m.start()].rstrip()
        if not word or not is_capitalised(word) or not before or before[-1] in ".!?:;\"“(":
            continue
        if fold(word) in lang.STOPWORDS:
            continue
        found.append(word)
    return found


class Vocabulary:
    """What the documents mention, folded for case and accents and stemmed, so "Jose" finds
    "José" and "Marry" finds "married"."""

    def __init__(self, texts: Iterable[str], lang: ModuleType = en):
        self.lang = lang
        folded: set[str] = set()
        self.numbers: set[str] = set()
        self.pairs: set[tuple[str, str]] = set()
        for text in texts:
            for m in words(text):
                for part in re.split(r"[-.’']", fold(m.group())):
                    if part:
                        folded.add(part)
            self.numbers.update(_number(m.group(1)) for m in NUMERAL.finditer(text))
            self.pairs.update(self._pairs(text))
        self.words = folded
        self.stems = set(stem_all(sorted(folded), lang.STEMMER))
        # One-letter typos in names ("Hatmanis" for "Hartmanis"): every long word's deletions.
        self._near = {d for w in folded if len(w) >= 6 for d in _deletions(w)} | {w for w in folded if len(w) >= 6}

    def _pairs(self, text: str) -> set[tuple[str, str]]:
        """Adjacent content words, stemmed: "defense minister", "final approval"."""
        content = [fold(m.group()) for m in words(text)]
        content = stem_all([w for w in content if w not in self.lang.STOPWORDS], self.lang.STEMMER)
        return set(zip(content, content[1:]))

    def phrase_coverage(self, question: str) -> float:
        """Share of the question's adjacent content-word pairs that some document also has
        (1.0 with none): "the defense minister" of an article that only has a foreign minister."""
        asked = self._pairs(question)
        return sum(p in self.pairs for p in asked) / len(asked) if asked else 1.0

    def knows(self, word: str) -> bool:
        parts = [p for p in re.split(r"[-.’']", fold(word)) if p]
        return all(p in self.words or stem_all([p], self.lang.STEMMER)[0] in self.stems for p in parts)

    def knows_name(self, name: str) -> bool:
        """Like `knows`, forgiving one wrong, missing or extra letter in a long name."""
        if self.knows(name):
            return True
        parts = [p for p in re.split(r"[-.’']", fold(name)) if p]
        return all(p in self.words or (len(p) >= 6 and bool(({p} | _deletions(p)) & self._near)) for p in parts)

    def missing_terms(self, question: str) -> list[str]:
        """Names and numbers of the question that no document mentions: the documents cannot
        say anything about them ("Where did they meet in 2019?" of an article without 2019)."""
        missing = [n for n in names(question, self.lang) if not self.knows_name(n)]
        focus = asked_for(question, self.lang)
        if focus and not self.knows(focus):
            missing.append(focus)
        missing += [m.group() for m in NUMERAL.finditer(question) if _number(m.group(1)) not in self.numbers]
        return list(dict.fromkeys(missing))

    def _content(self, question: str) -> list[str]:
        return [m.group() for m in words(question) if fold(m.group()) not in self.lang.STOPWORDS]

    def coverage(self, question: str) -> float:
        """Share of the question's content words that the documents use (1.0 with none)."""
        content = self._content(question)
        if not content:
            return 1.0
        return sum(self.knows(w) for w in content) / len(content)

    def unknown_words(self, question: str) -> list[str]:
        """The question's content words that no document uses (what the documents do not cover)."""
        return list(dict.fromkeys(w for w in self._content(question) if not self.knows(w)))


def asked_for(question: str, lang: ModuleType = en) -> str | None:
    """The noun naming what the question asks for ("population" in "What is the population of
    X?"), or None when the question has no such noun."""
    match = lang.FOCUS.search(question)
    if not match:
        return None
    noun = next(g for g in match.groups() if g)
    return None if fold(noun) in lang.STOPWORDS else noun


def entity_coverage(question: str, text: str, lang: ModuleType = en) -> float:
    """Share of the question's names that the sentence mentions (1.0 when it names none)."""
    asked = names(question, lang)
    if not asked:
        return 1.0
    lowered = fold(text)
    return sum(1 for n in asked if fold(n) in lowered) / len(asked)


def has_type(text: str, kind: str | None, question: str = "", lang: ModuleType = en) -> bool:
    """Does `text` contain something of the expected answer type (beyond the question's words)?"""
    if kind is None:
        return True
    if kind == "day":
        return bool(lang.DAY_DATE.search(text))
    if kind == "date":
        return bool(lang.DATE.search(text))
    if kind == "duration":
        return bool(lang.DURATION.search(text))
    if kind == "number":
        match = lang.COUNTED_NOUN.search(question)
        noun = match.group(1).lower() if match else None
        if noun and len(noun) > 3:
            # "how many troops" needs a number right before (a form of) that noun.
            stem = noun[:-1] if noun.endswith("s") else noun
            return bool(re.search(rf"({lang.NUMBER.pattern})(\s+\S+){{0,2}}\s+{re.escape(stem)}", text, re.I))
        return bool(lang.NUMBER.search(text))
    if kind == "name":
        asked = {fold(m.group()) for m in words(question)}
        return any(fold(n) not in asked for n in names(text, lang))
    return True


def says_unanswerable(text: str, lang: ModuleType = en) -> bool:
    return bool(lang.SAYS_UNANSWERABLE.search(text))
