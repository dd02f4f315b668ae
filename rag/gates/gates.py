"""The gates a question passes before anything is read for it, in order: each looks at the
question, what retrieval found and what the documents mention, and returns an abstention or None.

The 270M model cannot judge answerability (its yes/no log-probabilities ranked answerable
questions *below* unanswerable ones), so these rest on what any reader can verify: whether the
question tries to steer the assistant, whether its names and numbers occur in the documents at
all, and whether any sentence is close to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..lang.question import Question
from ..settings import Settings
from ..types import Outcome, Retrieval
from .vocabulary import Vocabulary


@dataclass(frozen=True)
class Abstention:
    outcome: Outcome
    reason: str


Gate = Callable[[Question, Retrieval, Vocabulary, Settings], "Abstention | None"]


def instruction(question: Question, retrieval: Retrieval, vocabulary: Vocabulary, settings: Settings):
    if question.instruction:
        return Abstention(Outcome.INJECTION, "the question asks the assistant to leave the documents; it answers "
                                             "only questions about them")
    return None


def unknown_terms(question: Question, retrieval: Retrieval, vocabulary: Vocabulary, settings: Settings):
    missing = vocabulary.missing_terms(question)
    if missing:
        return Abstention(Outcome.UNKNOWN_TERMS, f"the documents never mention {', '.join(missing)}")
    return None


def off_topic(question: Question, retrieval: Retrieval, vocabulary: Vocabulary, settings: Settings):
    if retrieval.top_dense < settings.min_dense_score:
        return Abstention(Outcome.OFF_TOPIC, f"no sentence is close to the question (best similarity "
                                             f"{retrieval.top_dense:.2f} < {settings.min_dense_score})")
    return None


GATES: tuple[Gate, ...] = (instruction, unknown_terms, off_topic)


def first_abstention(question: Question, retrieval: Retrieval, vocabulary: Vocabulary, settings: Settings,
                     gates: Sequence[Gate] = GATES) -> Abstention | None:
    """The first gate's abstention, in order; None when the question passes them all."""
    for gate in gates:
        abstention = gate(question, retrieval, vocabulary, settings)
        if abstention is not None:
            return abstention
    return None
