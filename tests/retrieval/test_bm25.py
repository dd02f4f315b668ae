import json
from pathlib import Path

import numpy as np
import pytest

from rag.lang import en
from rag.retrieval.bm25 import BM25Index

WIKI = Path(__file__).parent.parent.parent / "eval" / "squad2-computational-complexity"


def reference(texts: list[str]):
    """bm25s, as rag/retrieval/retrieve.py called it before rag/retrieval/bm25.py: the scores to match."""
    bm25s = pytest.importorskip("bm25s")
    import Stemmer

    stem = Stemmer.Stemmer("english")
    index = bm25s.BM25()
    index.index(bm25s.tokenize(texts, stopwords="en", stemmer=stem, show_progress=False), show_progress=False)

    def scores(query: str) -> np.ndarray:
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=stem, show_progress=False, return_ids=False)[0]
        if not tokens:
            return np.zeros(len(texts), dtype=np.float32)
        return np.asarray(index.get_scores(tokens), dtype=np.float32)

    return scores


def wiki_sentences() -> list[str]:
    import pysbd

    article = (WIKI / "article.txt").read_text(encoding="utf-8")
    return [s.strip() for s in pysbd.Segmenter(language="en", clean=False).segment(article) if s.strip()]


def test_scores_are_bm25s_own_on_both_dev_sets(assistant, bundled_questions):
    wiki_questions = [json.loads(line) for line in (WIKI / "questions.jsonl").read_text().splitlines()]
    sets = [([s.text for s in assistant.store.sentences], [q["question"] for q in bundled_questions]),
            (wiki_sentences(), [q["question"] for q in wiki_questions if "question" in q])]
    for texts, questions in sets:
        ours, theirs = BM25Index(texts, en), reference(texts)
        for query in questions + texts[:20]:  # sentences as queries: long, repeated words
            assert np.array_equal(ours.scores(query), theirs(query)), query


@pytest.mark.parametrize("text, terms", [
    ("The treaty was signed in Pyongyang.", ["treati", "sign", "pyongyang"]),
    ("A an THE and", []),  # stop words in any case
    ("x y 7 9", []),  # one-character words are not words here
    ("Mutual-assistance clauses, 2024", ["mutual", "assist", "claus", "2024"]),
    ("Pyongyang’s army", ["pyongyang", "armi"]),  # the curly apostrophe splits; "s" is too short
    ("Müller über Straße", ["müller", "über", "straße"]),
    ("", []),
])
def test_terms(text, terms):
    assert BM25Index([], en).terms(text) == terms


def test_a_repeated_word_counts_twice_and_unknown_words_nothing():
    index = BM25Index(["Russia signed the treaty.", "North Korea ratified it.", "The weather was mild."], en)
    once, twice = index.scores("treaty"), index.scores("treaty treaty")
    assert once[0] > 0 and once[1] == once[2] == 0
    assert twice[0] == pytest.approx(2 * once[0])
    assert not index.scores("zebra and the of").any()


def test_an_empty_index_scores_nothing():
    assert BM25Index([], en).scores("treaty").shape == (0,)
    assert not BM25Index(["a the of", "an"], en).scores("the treaty").any()
