import pytest

from rag.gates.confidence import FEATURES, READER_FEATURES
from rag.gates.features import measure
from rag.gates.vocabulary import Vocabulary
from rag.lang import en
from rag.lang.question import parse
from rag.types import Answer, Passage, Retrieval

DOCS = ["The bridge opened in 1932 after six years of work.", "The tunnel was dug by hand."]


def passage(id_: str, dense: float, text: str = "The bridge opened in 1932.") -> Passage:
    return Passage(id_, text, "doc", 0.0, dense, 0.0)


def features(ranked, best, reranked, answer="1932 [S1]", outcome="span", question="When did the bridge open?",
             reader=None):
    retrieval = Retrieval(ranked, [p.id for p in ranked], [], [p.id for p in ranked])
    typed = [p for p in ranked if p.id in reranked] or [best]
    got = Answer(question, answer, False, [], ranked, outcome=outcome)
    return measure(parse(question, en), got, best, typed, retrieval, reranked, Vocabulary(DOCS, en), reader)


S1, S2, S3 = passage("S1", 0.8), passage("S2", 0.5), passage("S3", 0.6)


@pytest.mark.parametrize("ranked, best, reranked, expected", [
    # the answer's sentence is retrieval's first: its lead over the best other sentence
    ([S1, S2, S3], S1, {}, {"dense": 0.8, "dense_gap": 0.8 - 0.6, "retrieval_top": 1.0,
                            "rerank": 0.0, "rerank_margin": 0.0}),
    # reranking chose a sentence retrieval put second: the gap is negative, not top
    ([S3, S1], S1, {"S1": -1.0, "S3": -2.5}, {"dense_gap": 0.8 - 0.6, "retrieval_top": 0.0,
                                             "rerank": -1.0, "rerank_margin": 1.5}),
    ([S1, S3], S3, {"S1": -1.0, "S3": -2.5}, {"dense_gap": 0.6 - 0.8, "retrieval_top": 0.0,
                                             "rerank": -2.5, "rerank_margin": -1.5}),
    # one candidate: no runner-up to be surer than
    ([S1], S1, {"S1": -1.2}, {"dense_gap": 0.8, "rerank": -1.2, "rerank_margin": 0.0}),
])
def test_retrieval_and_rerank_features(ranked, best, reranked, expected):
    got = features(ranked, best, reranked)
    assert {k: got[k] for k in expected} == pytest.approx(expected)


@pytest.mark.parametrize("answer, outcome, question, expected", [
    ("1932 [S1]", "span", "When did the bridge open?", {"adds": 1.0, "short": 1.0, "typed": 1.0}),
    ("The bridge opened in 1932. [S1]", "quote", "Why did the bridge open?", {"adds": 1.0, "short": 0.0, "typed": 0.0}),
    # an answer that only repeats the question's words adds nothing
    ("the bridge open [S1]", "free", "Why did the bridge open?", {"adds": 0.0, "short": 1.0}),
])
def test_answer_features(answer, outcome, question, expected):
    got = features([S1], S1, {}, answer=answer, outcome=outcome, question=question)
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize("question, coverage", [
    ("When did the bridge open?", 1.0),
    ("When did the ferry open?", 0.5),  # "ferry" is not in the documents
])
def test_vocabulary_features_and_names(question, coverage):
    got = features([S1], S1, {}, question=question)
    assert got["coverage"] == pytest.approx(coverage)
    # every feature the model may be fitted on, and no other; the reader's only when one answered
    assert set(got) == set(FEATURES) - set(READER_FEATURES)


def test_the_readers_own_features_join_when_it_answered():
    got = features([S1], S1, {}, outcome="read", reader={"choice": 0.7, "answerable": 0.9})
    assert set(got) == set(FEATURES) and (got["choice"], got["answerable"]) == (0.7, 0.9)
