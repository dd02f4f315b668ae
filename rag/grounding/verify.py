"""Check each claim of an answer against the sentences it cites.

A claim is supported when every number, date and name in it appears in the cited sentence
(the small model's typical failure is an invented year or name next to the right topic), every
other content word of it is in the sentence or the question (stemmed), and its meaning is close
to the sentence: support = mean of lexical coverage and embedding cosine, compared with a
threshold calibrated on eval/questions.jsonl.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType

import numpy as np

from ..lang.question import Question
from ..lang.words import names, stems
from ..text import fold, stem_all


@lru_cache(maxsize=4)
def _fact_pattern(months: str) -> re.Pattern:
    return re.compile(rf"\b\d[\d,.]*\b|\b({months})\b", re.I)


def facts(claim: str, question: Question) -> set[str]:
    """Numbers, months and names that the claim adds beyond the question."""
    lang = question.lang
    found = {fold(m.group()).rstrip(".,") for m in _fact_pattern(lang.MONTHS).finditer(claim)}
    found |= {fold(n) for n in names(claim, lang)}
    asked = fold(question.text)
    return {f for f in found if f not in asked}


@dataclass(frozen=True)
class Support:
    score: float
    missing: tuple[str, ...]  # facts (or word stems) of the claim that the sentence does not contain


class Verifier:
    def __init__(self, embedder):
        self.embedder = embedder

    def support(self, claim: str, sentence: str, question: Question, claim_vec=None, sentence_vec=None) -> Support:
        lang = question.lang
        lowered = fold(sentence)
        missing = tuple(sorted(f for f in facts(claim, question) if f not in lowered))
        if missing:
            return Support(0.0, missing)
        claim_stems = stems(claim, lang) - question.stems
        if not claim_stems:  # a claim that only restates the question answers nothing
            return Support(0.0, ())
        sentence_stems = stems(sentence, lang)
        novel = {w for w in claim_stems - sentence_stems if w not in lang.LIGHT_VERBS}
        if novel:
            # A content word in neither the sentence nor the question is something the model
            # added ("nuclear and missile programs" from "its nuclear program"): not supported.
            return Support(0.0, tuple(sorted(novel)))
        lexical = len(claim_stems & sentence_stems) / len(claim_stems)
        if claim_vec is None:
            claim_vec = self.embedder.encode_one(claim)
        if sentence_vec is None:
            sentence_vec = self.embedder.encode_one(sentence)
        cosine = float(np.dot(claim_vec, sentence_vec))
        return Support(0.5 * lexical + 0.5 * max(0.0, cosine), ())

    def best(self, claim: str, sentences: list[tuple[str, str, np.ndarray]], question: Question):
        """The (id, support) of the sentence that best supports an uncited claim."""
        if not sentences:
            return None
        vec = self.embedder.encode_one(claim)
        scored = [(sid, self.support(claim, text, question, vec, svec)) for sid, text, svec in sentences]
        return max(scored, key=lambda pair: pair[1].score)


def focus_date(sentence: str, question: Question, window: int = 8) -> str | None:
    """When a sentence holds several dates, the one the question asks about: the date with
    the most question words near it ("final approval on November 9", not "late October").
    None when there is one date or no clear winner."""
    lang = question.lang
    spans = list(lang.DATE_SPAN.finditer(sentence))
    if len(spans) < 2:
        return None
    tokens = list(re.finditer(r"[^\W_]+", sentence))
    words = list(zip((m.start() for m in tokens), stem_all([fold(m.group()) for m in tokens], lang.STEMMER)))

    def near(span: re.Match) -> int:
        first = next(i for i, (pos, _) in enumerate(words) if pos >= span.start())
        # The words that tie a date to an event stand on the side the language puts the event.
        side = words[max(0, first - window): first] if lang.EVENT_BEFORE_DATE else words[first: first + window + 1]
        return sum(1 for _, w in side if w in question.stems)

    scores = sorted(((near(s), s.group()) for s in spans), reverse=True)
    return scores[0][1] if scores[0][0] > scores[1][0] else None


def names_date(claim: str, date: str, lang: ModuleType) -> bool:
    """Does the claim state this date (its month, day and year; "early"/"late" need not be said)?"""
    parts = [p for p in re.findall(r"[^\W\d_]+|\d+", date) if fold(p) not in lang.DATE_QUALIFIERS]
    return all(re.search(rf"\b{re.escape(p)}\b", claim, re.I) for p in parts)
