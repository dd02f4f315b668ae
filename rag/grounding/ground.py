"""Grounding a model answer: keep the claims that their cited sentences support, with scores."""

from __future__ import annotations

from ..lang.question import Question
from ..lang.words import has_type, mentions, says_unanswerable
from ..settings import Settings
from ..stores.store import Store
from ..types import Answer, Citation, Passage
from . import cite
from .verify import Verifier, focus_date, names_date


def citation(store: Store, sid: str, score: float, source: str) -> Citation:
    sent = store.by_id[sid]
    return Citation(sent.id, sent.text, sent.doc, sent.start, sent.end, score, source,
                    store.title_of(sent.doc), sent.page, sent.section)


def names_the_person(claim: str, sentence: str, question: Question, people) -> bool:
    """A who-question's answer must name a person when its sentence names one
    ("North Korea" is not who affirmed it when the sentence says Choe Son-hui did)."""
    if question.kind != "name":
        return True
    named = mentions(sentence, people)
    return not named or bool(mentions(claim, named))


def names_the_date(claim: str, sentence: str, question: Question) -> bool:
    """A when-question's answer must give the date its sentence ties to the question."""
    if question.kind not in ("date", "day"):
        return True
    date = focus_date(sentence, question)
    return date is None or names_date(claim, date, question.lang)


class Grounder:
    def __init__(self, store: Store, embedder, verifier: Verifier, settings: Settings, people):
        self.store = store
        self.embedder = embedder
        self.verifier = verifier
        self.settings = settings
        self.people = people

    def ground(self, question: Question, raw: str, evidence: list[Passage], typed: list[Passage]) -> Answer | None:
        """The verified claims of `raw` (the model's text) as an Answer; None when none survives.
        `typed` are the evidence sentences holding the expected answer type: an uncited claim
        gets the best of them if it passes the support threshold."""
        s = self.settings
        by_id = {p.id: p for p in evidence}
        index = self.store.sentence_index
        vec = {p.id: index.vector(self.store.position[p.id]) for p in evidence}
        kept: list[tuple[str, list[str]]] = []
        citations: dict[str, Citation] = {}
        for claim in cite.split_claims(raw, by_id, question.lang):
            if says_unanswerable(claim.text, question.lang):
                continue
            cvec = self.embedder.encode_one(claim.text)
            good = []
            for sid in claim.ids:
                sentence = by_id[sid].text
                sup = self.verifier.support(claim.text, sentence, question, cvec, vec[sid])
                if (sup.score >= s.min_support and has_type(claim.text, question)
                        and names_the_person(claim.text, sentence, question, self.people)
                        and names_the_date(claim.text, sentence, question)):
                    good.append((sid, sup.score, "model"))
            if not good and not claim.ids:
                found = self.verifier.best(claim.text, [(p.id, p.text, vec[p.id]) for p in typed], question)
                if found and found[1].score >= s.min_support:
                    good.append((found[0], found[1].score, "attached"))
            if good:
                kept.append((claim.text, [sid for sid, _, _ in good]))
                for sid, score, source in good:
                    if sid not in citations or citations[sid].score < score:
                        citations[sid] = citation(self.store, sid, score, source)
        if not kept:
            return None
        return Answer(question.text, cite.render(kept), False, list(citations.values()), evidence,
                      reason="model answer, verified against its cited sentences")
