"""What the documents mention, for the gates and the confidence: a question about names,
numbers or words that no document uses cannot be answered from them."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Iterable

from ..lang.question import Question
from ..lang.words import NUMERAL, content_pairs, number_value
from ..text import fold, stem_all, words


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class Vocabulary:
    """What the documents mention, folded for case and accents and stemmed, so "Jose" finds
    "José" and "Marry" finds "married"."""

    def __init__(self, texts: Iterable[str], lang: ModuleType):
        self.lang = lang
        folded: set[str] = set()
        self.numbers: set[str] = set()
        self.pairs: set[tuple[str, str]] = set()
        for text in texts:
            for m in words(text):
                for part in re.split(r"[-.’']", fold(m.group())):
                    if part:
                        folded.add(part)
            self.numbers.update(number_value(m.group(1)) for m in NUMERAL.finditer(text))
            self.pairs.update(content_pairs(text, lang))
        self.words = folded
        self.stems = set(stem_all(sorted(folded), lang.STEMMER))
        # One-letter typos in names ("Hatmanis" for "Hartmanis"): every long word's deletions.
        self._near = {d for w in folded if len(w) >= 6 for d in _deletions(w)} | {w for w in folded if len(w) >= 6}

    def phrase_coverage(self, question: Question) -> float:
        """Share of the question's adjacent content-word pairs that some document also has
        (1.0 with none): "the defense minister" of an article that only has a foreign minister."""
        asked = question.pairs
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

    def missing_terms(self, question: Question) -> list[str]:
        """Names and numbers of the question that no document mentions: the documents cannot
        say anything about them ("Where did they meet in 2019?" of an article without 2019)."""
        missing = [n for n in question.names if not self.knows_name(n)]
        if question.focus and not self.knows(question.focus):
            missing.append(question.focus)
        missing += [whole for whole, value in question.numerals if value not in self.numbers]
        return list(dict.fromkeys(missing))

    def coverage(self, question: Question) -> float:
        """Share of the question's content words that the documents use (1.0 with none)."""
        if not question.content:
            return 1.0
        return sum(self.knows(w) for w in question.content) / len(question.content)

    def unknown_words(self, question: Question) -> list[str]:
        """The question's content words that no document uses (what the documents do not cover)."""
        return list(dict.fromkeys(w for w in question.content if not self.knows(w)))
