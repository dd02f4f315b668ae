"""One answer, as named steps:

    retrieve -> gates -> choose the sentence -> compose -> judge

`choose` and `compose` come in two kinds. A base model (gemma) has candidates of the asked-for
kind ranked by query likelihood, and the answer written from the first (rag/grounding/compose.py:
a typed phrase, a copied span, verified free text or a quote). An instruction-tuned reader reads
the top sentences and copies a phrase from the one it chooses, or says none answers
(rag/grounding/read.py). Every exit is an `Outcome`; gates and the judge return `Abstention`s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..gates.gates import Abstention, first_abstention
from ..gates.judge import judge
from ..grounding import ground
from ..grounding.compose import INSTRUCTION_REASON
from ..grounding.read import Reader
from ..lang.question import Question
from ..lang.words import entity_coverage, has_type, is_instruction, mentions
from ..types import Answer, Outcome, Passage, Retrieval
from .components import Components


@dataclass
class Trace:
    """What the steps measured for one question, copied onto its answer at the end."""

    question: Question
    retrieval: Retrieval
    started: float
    timings: dict[str, float] = field(default_factory=dict)
    reranked: dict[str, float] = field(default_factory=dict)

    def finish(self, answer: Answer) -> Answer:
        answer.latency_s = time.perf_counter() - self.started
        answer.timings = self.timings
        answer.rerank = self.reranked
        answer.standalone = self.question.text
        r = self.retrieval
        answer.rankings = {"dense": r.dense_ids, "bm25": r.bm25_ids, "fused": r.fused_ids}
        return answer


def answer(c: Components, question: Question, k: int | None = None, on_token=None,
           documents: list[str] | None = None) -> Answer:
    """Answer a standalone question; the caller holds `c.lock`."""
    t0 = time.perf_counter()
    retrieval = c.retriever.search(question.text, k, documents)
    trace = Trace(question, retrieval, t0, {"retrieve_s": time.perf_counter() - t0})
    stop = first_abstention(question, retrieval, c.vocabulary, c.settings)
    if stop is not None:
        return trace.finish(abstain(c, question, retrieval.passages, stop))
    if c.reads:
        return trace.finish(read(c, trace, on_token))
    return trace.finish(write(c, trace, on_token))


def write(c: Components, trace: Trace, on_token) -> Answer:
    """The base model's path: typed candidates, reranked; the answer written from the first."""
    question, evidence = trace.question, trace.retrieval.passages
    candidates = typed_candidates(question, evidence, c.settings.type_window)
    if not candidates:
        return abstain(c, question, evidence, Abstention(
            Outcome.NO_TYPED_SENTENCE, f"no retrieved sentence contains the {question.kind} asked for"))
    candidates = rank(c, question, candidates, trace)
    best = candidates[0]
    t0 = time.perf_counter()
    result = c.composer().write(question, best, evidence, candidates, trace.timings, on_token)
    trace.timings["answer_s"] = time.perf_counter() - t0
    return judged(c, trace, result, best, candidates)


def typed_candidates(question: Question, evidence: list[Passage], window: int) -> list[Passage]:
    """The top `window` sentences that hold the kind of thing the question asks for."""
    return [p for p in evidence[:window] if has_type(p.text, question)]


def rank(c: Components, question: Question, candidates: list[Passage], trace: Trace) -> list[Passage]:
    """Order the candidate sentences by how well they answer the question: query likelihood
    picked a supporting one for 34 of 35 eval questions that had one among them (retrieval
    rank: 29); without a reranker, prefer the sentence naming what the question names."""
    scores = [entity_coverage(question, p.text) for p in candidates]
    if len(candidates) > 1 and c.reranker is not None:  # building its context takes 0.2 s
        t0 = time.perf_counter()
        try:
            scores = c.reranker.score(question.text, [p.text for p in candidates])
            trace.timings["rerank_s"] = time.perf_counter() - t0
            trace.reranked.update((p.id, score) for p, score in zip(candidates, scores))
        except (ValueError, RuntimeError) as exc:
            c.no_rerank(exc)
    # A who-question asks for a person: a sentence naming one of the article's people beats
    # one whose only names are places (query likelihood alone favours on-topic generalities).
    people = [question.kind == "name" and bool(mentions(p.text, c.names)) for p in candidates]
    order = sorted(range(len(candidates)), key=lambda i: (not people[i], -scores[i]))  # stable: ties keep rank
    return [candidates[i] for i in order]


def read(c: Components, trace: Trace, on_token) -> Answer:
    """The instruction-tuned reader's path: it chooses the answering sentence among the top ones,
    or none, and copies the answer from it; the confidence reads its choice."""
    question, evidence = trace.question, trace.retrieval.passages
    t0 = time.perf_counter()
    # Nothing is streamed while a shown sentence addresses the assistant: what the model copies
    # from it may be the instruction's payload, and is then quoted instead (below).
    instructed = any(is_instruction(p.text, c.lang) for p in evidence)
    reading = Reader(c.generator, c.settings, c.lang).read(question, evidence, None if instructed else on_token)
    trace.timings["answer_s"] = time.perf_counter() - t0
    if reading is None:
        return abstain(c, question, evidence, Abstention(
            Outcome.CONTEXT_TOO_SMALL, "the model's context window is too small for a prompt with evidence"))
    trace.timings.update(reading.timings)
    # A yes/no reading offers no "None" (rag/grounding/read.py): it measures no answerability.
    features = {} if question.yes_no else {"choice": reading.p_chosen, "answerable": 1.0 - reading.p_none}
    best = reading.chosen
    if best is None and reading.unquoted:
        declined = Abstention(Outcome.READER_NO_SPAN, f"what the model answered is not word for word in any of the "
                                                      f"{len(reading.shown)} closest sentences it read")
    elif best is None:
        declined = Abstention(Outcome.READER_NONE, f"the model read the {len(reading.shown)} closest sentences and "
                                                   f"found none that answers it")
    elif not reading.span and not is_instruction(best.text, c.lang) and not question.yes_no:
        # A phrase that only repeats the question's words is not withheld by rule: real answers
        # often do ("randomized algorithms" to "algorithms that use random bits"); as a rule it
        # withheld 9 right answers for 8 abstentions. `adds` is measured for the confidence,
        # whose fit keeps it only where its weight comes out positive (the readers' fits drop it).
        declined = Abstention(Outcome.READER_NO_SPAN, f"what the model copied from [{best.id}] is not a phrase of it")
    else:
        declined = None
    if declined is not None:
        result = abstain(c, question, evidence, declined)
        result.model_output, result.features = reading.raw, features
        return result
    composer = c.composer()
    if is_instruction(best.text, c.lang):
        result = composer.quote(question, best, evidence, Outcome.QUOTE_INSTRUCTION, INSTRUCTION_REASON)
    elif question.yes_no:
        result = composer.quote(question, best, evidence, Outcome.QUOTE_YES_NO,
                                "yes/no question: quoted the sentence the model answered from")
    else:
        result = Answer(question.text, f"{reading.span} [{best.id}].", False,
                        [ground.citation(c.store, best.id, 1.0, "model")], evidence, outcome=Outcome.READ,
                        reason="a verbatim phrase of the sentence the model chose as answering")
    result.model_output = reading.raw
    return judged(c, trace, result, best, reading.shown, features)


def judged(c: Components, trace: Trace, result: Answer, best: Passage, candidates: list[Passage],
           reader: dict[str, float] | None = None) -> Answer:
    """The answer with its confidence; below the threshold, withheld, saying why."""
    question = trace.question
    stop = judge(question, result, best, candidates, trace.retrieval, trace.reranked, c.vocabulary, c.confidence,
                 c.settings.min_confidence, reader)
    if stop is None:
        return result
    withheld = abstain(c, question, result.retrieved, stop)
    withheld.confidence, withheld.features = result.confidence, result.features
    withheld.withheld, withheld.withheld_citations = result.answer, result.citations
    withheld.model_output = result.model_output
    return withheld


def abstain(c: Components, question: Question, evidence: list[Passage], why: Abstention) -> Answer:
    text = c.lang.ABSTAIN_MANY if c.many_documents else c.lang.ABSTAIN_ONE
    return Answer(question.text, text, True, [], evidence, reason=why.reason, outcome=why.outcome)
