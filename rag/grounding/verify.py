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

import numpy as np

from ..lang import en
from ..text import stemmer

STOPWORDS = en.STOPWORDS
LIGHT_VERBS = en.LIGHT_VERBS
FACT = re.compile(rf"\b\d[\d,.]*\b|\b({en.MONTHS})\b", re.I)
NAME = re.compile(r"\b[A-Z][a-z]+(?:-[A-Z]?[a-z]+)*\b")


def _stemmer():
    return stemmer(en.STEMMER)


def stems(text: str) -> set[str]:
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS]
    return set(_stemmer().stemWords(words))


def facts(claim: str, question: str) -> set[str]:
    """Numbers, months and capitalised names that the claim adds beyond the question."""
    found = {m.group().lower().rstrip(".,") for m in FACT.finditer(claim)}
    for m in NAME.finditer(claim):
        if claim[: m.start()].strip() == "":  # sentence-initial capital is not a name signal
            continue
        found.add(m.group().lower())
    asked = question.lower()
    return {f for f in found if f not in asked}


@dataclass(frozen=True)
class Support:
    score: float
    missing: tuple[str, ...]  # facts (or word stems) of the claim that the sentence does not contain


class Verifier:
    def __init__(self, embedder):
        self.embedder = embedder

    def support(self, claim: str, sentence: str, question: str, claim_vec=None, sentence_vec=None) -> Support:
        lowered = sentence.lower()
        missing = tuple(sorted(f for f in facts(claim, question) if f not in lowered))
        if missing:
            return Support(0.0, missing)
        claim_stems = stems(claim) - stems(question)
        if not claim_stems:  # a claim that only restates the question answers nothing
            return Support(0.0, ())
        sentence_stems = stems(sentence)
        novel = {w for w in claim_stems - sentence_stems if w not in LIGHT_VERBS}
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

    def best(self, claim: str, sentences: list[tuple[str, str, np.ndarray]], question: str):
        """The (id, support) of the sentence that best supports an uncited claim."""
        if not sentences:
            return None
        vec = self.embedder.encode_one(claim)
        scored = [(sid, self.support(claim, text, question, vec, svec)) for sid, text, svec in sentences]
        return max(scored, key=lambda pair: pair[1].score)


DATE_SPAN = en.DATE_SPAN


def focus_date(sentence: str, question: str, window: int = 8) -> str | None:
    """When a sentence holds several dates, the one the question asks about: the date with
    the most question words near it ("final approval on November 9", not "late October").
    None when there is one date or no clear winner."""
    spans = list(DATE_SPAN.finditer(sentence))
    if len(spans) < 2:
        return None
    keys = stems(question)
    words = [(m.start(), w) for m, w in zip(
        re.finditer(r"[A-Za-z0-9]+", sentence),
        _stemmer().stemWords([m.group().lower() for m in re.finditer(r"[A-Za-z0-9]+", sentence)]))]

    def near(span: re.Match) -> int:
        first = next(i for i, (pos, _) in enumerate(words) if pos >= span.start())
        # English puts what happened before its date: "final approval on November 9".
        return sum(1 for _, w in words[max(0, first - window): first] if w in keys)

    scores = sorted(((near(s), s.group()) for s in spans), reverse=True)
    return scores[0][1] if scores[0][0] > scores[1][0] else None


def names_date(claim: str, date: str) -> bool:
    """Does the claim state this date (the month and day/year, ignoring early/late)?"""
    parts = [p for p in re.findall(r"[A-Za-z]+|\d+", date) if p.lower() not in {"early", "mid", "late"}]
    return all(re.search(rf"\b{re.escape(p)}\b", claim, re.I) for p in parts)
