"""The last step: how far to trust the answer, and whether to give it at all."""

from __future__ import annotations

from typing import Sequence

from ..lang.question import Question
from ..types import Answer, Outcome, Passage, Retrieval
from .confidence import FEATURES, ConfidenceModel
from .features import measure
from .gates import Abstention
from .vocabulary import Vocabulary


def judge(question: Question, answer: Answer, best: Passage, candidates: Sequence[Passage], retrieval: Retrieval,
          reranked: dict[str, float], vocabulary: Vocabulary, confidence: ConfidenceModel, threshold: float | None,
          reader: dict[str, float] | None = None) -> Abstention | None:
    """Attach the confidence and its features to `answer`; below the threshold (`threshold`, else
    the model's fitted one), the abstention that withholds it, saying why."""
    features = measure(question, answer, best, candidates, retrieval, reranked, vocabulary, reader)
    answer.features = features
    answer.confidence = confidence.score(features)
    threshold = confidence.threshold if threshold is None else threshold
    if answer.confidence >= threshold:
        return None
    weakest = min(confidence.contributions(features).items(), key=lambda kv: kv[1], default=("", 0))[0]
    missing = vocabulary.unknown_words(question)
    why = (f"the documents never use {', '.join(missing)}" if missing
           else f"the closest sentence may not answer it ({FEATURES.get(weakest, weakest)} is low)")
    return Abstention(Outcome.LOW_CONFIDENCE, f"confidence {answer.confidence:.2f} < {threshold:.2f}: {why}")
