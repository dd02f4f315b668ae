"""The confidence's features (rag/gates/confidence.py says what each means), measured on one
answer and the evidence it was chosen from."""

from __future__ import annotations

from typing import Sequence

from ..grounding import cite, compose
from ..lang.question import Question
from ..types import SHORT_ANSWERS, Answer, Passage, Retrieval
from .confidence import READER_FEATURES
from .vocabulary import Vocabulary


def measure(question: Question, answer: Answer, best: Passage, typed: Sequence[Passage],
            retrieval: Retrieval, reranked: dict[str, float], vocabulary: Vocabulary,
            reader: dict[str, float] | None = None) -> dict[str, float]:
    """`best` is the sentence the answer came from, `typed` the candidates that had the kind of
    phrase asked for, `reranked` the query-likelihood scores of all of them, `best`
    included (empty when no reranker ran); `reader` the instruction-tuned reader's own
    READER_FEATURES, when one answered."""
    others = [p.dense for p in retrieval.passages if p.id != best.id]
    # The runner-up is the best *other* candidate: a who-question may pick a sentence naming a
    # person over one the reranker scored higher, and its margin is then negative.
    rivals = [reranked[p.id] for p in typed if p.id in reranked and p.id != best.id]
    text = cite.extract(answer.answer, [c.id for c in answer.citations])[0]
    return {
        "dense": best.dense,
        "dense_gap": best.dense - max(others, default=0.0),
        "retrieval_top": float(bool(retrieval.passages) and retrieval.passages[0].id == best.id),
        "rerank": reranked.get(best.id, 0.0),
        "rerank_margin": reranked[best.id] - max(rivals) if best.id in reranked and rivals else 0.0,
        "coverage": vocabulary.coverage(question),
        "phrases": vocabulary.phrase_coverage(question),
        "typed": float(question.kind is not None),
        "adds": float(compose.adds_to(text, question)),
        "short": float(answer.outcome in SHORT_ANSWERS),
        **{name: reader[name] for name in READER_FEATURES if reader and name in reader},
    }
