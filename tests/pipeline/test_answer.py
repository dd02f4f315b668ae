"""The answer's steps on their own: typed candidates, their ranking, and what a trace puts on
the answer (the whole path runs in test_assistant.py, with scripted and real models)."""

import time
from types import SimpleNamespace

import pytest

from rag.lang import en
from rag.lang.question import parse
from rag.pipeline.answer import Trace, rank, typed_candidates
from rag.types import Answer, Passage, Retrieval

EVIDENCE = [
    Passage("S1", "The treaty was discussed at length.", "doc", 0.3, 0.7, 1.0),
    Passage("S2", "Pyongyang hosted the signing in June 2024.", "doc", 0.2, 0.6, 1.0),
    Passage("S3", "President Putin signed it on June 19.", "doc", 0.1, 0.5, 1.0),
    Passage("S4", "It was ratified in November.", "doc", 0.05, 0.4, 1.0),
]


@pytest.mark.parametrize("question, window, ids", [
    ("When was the treaty signed?", 3, ["S2", "S3"]),  # S4 has a date but lies past the window
    ("When was the treaty signed?", 4, ["S2", "S3", "S4"]),
    ("On what date was it signed?", 4, ["S3"]),  # a day needs a month and its day
    ("Why was the treaty signed?", 2, ["S1", "S2"]),  # no kind asked for: every sentence may answer
])
def test_typed_candidates(question, window, ids):
    assert [p.id for p in typed_candidates(parse(question, en), EVIDENCE, window)] == ids


class Reversed:
    def score(self, question, sentences):
        return [float(i) for i in range(len(sentences))]


class Broken:
    def score(self, question, sentences):
        raise RuntimeError("llama_decode returned -1")


def components(reranker, names=()):
    said = []
    return SimpleNamespace(reranker=reranker, names=dict.fromkeys(names, ""), no_rerank=said.append), said


def trace(question):
    return Trace(parse(question, en), Retrieval(EVIDENCE, [], [], []), time.perf_counter())


@pytest.mark.parametrize("question, reranker, names, ids", [
    # query likelihood orders them; its scores are kept for the confidence
    ("When was the treaty signed?", Reversed(), (), ["S3", "S2"]),
    # without a reranker, retrieval order (ties on the question's names keep it)
    ("When was the treaty signed?", None, (), ["S2", "S3"]),
    # a who-question prefers a sentence naming one of the documents' people
    ("Who signed the treaty?", None, ("Putin",), ["S3", "S2"]),
])
def test_rank(question, reranker, names, ids):
    c, _ = components(reranker, names)
    t = trace(question)
    ranked = rank(c, t.question, [EVIDENCE[1], EVIDENCE[2]], t)
    assert [p.id for p in ranked] == ids
    assert bool(t.reranked) is (reranker is not None)


def test_a_failing_reranker_is_reported_and_retrieval_order_kept():
    c, said = components(Broken())
    t = trace("When was the treaty signed?")
    assert [p.id for p in rank(c, t.question, [EVIDENCE[1], EVIDENCE[2]], t)] == ["S2", "S3"]
    assert len(said) == 1 and "llama_decode" in str(said[0]) and "rerank_s" not in t.timings


def test_the_trace_puts_its_measurements_on_the_answer():
    t = Trace(parse("When was it signed?", en), Retrieval(EVIDENCE, ["S2"], ["S3"], ["S1"]), time.perf_counter(),
              {"retrieve_s": 0.01}, {"S2": -1.5})
    answer = t.finish(Answer("when was it signed", "x", False, [], EVIDENCE))
    assert answer.standalone == "When was it signed?" and answer.rerank == {"S2": -1.5}
    assert answer.rankings == {"dense": ["S2"], "bm25": ["S3"], "fused": ["S1"]} and answer.latency_s >= 0
