"""The base types every stage passes on, as plain data: sentences and chunks (ingest, stores),
passages and retrievals (retrieval), answers and citations (what the CLI, server and eval print).

This module imports nothing of rag: every layer may use it (the import-linter contract in
pyproject.toml holds the layers)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum

# A sentence id and its citation marker as the code writes them ("S12", "[S12]"): every view and
# reader of answers uses these (rag/grounding/cite.py parses a model's looser forms).
SENTENCE_ID = r"S\d+"
MARKER = re.compile(rf"\[({SENTENCE_ID})\]")


@dataclass(frozen=True)
class Sentence:
    id: str  # "S12": assigned by code, in corpus order, stable for the same text
    doc: str  # document name (file name)
    paragraph: int  # 0-based paragraph index within the document
    start: int  # character offsets into the document text: text == doc_text[start:end]
    end: int
    text: str
    page: int | None = None  # 1-based page (PDF), else None
    section: str | None = None  # the nearest heading above the sentence, if the format has headings


@dataclass(frozen=True)
class Chunk:
    id: str
    sentence_ids: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Passage:
    id: str
    text: str
    doc: str
    score: float  # fused RRF score (higher is better)
    dense: float  # cosine similarity of the sentence to the question
    bm25: float

    def to_dict(self) -> dict:
        return {"id": self.id, "text": self.text, "doc": self.doc, "score": round(self.score, 5),
                "dense": round(self.dense, 4), "bm25": round(self.bm25, 4)}


@dataclass(frozen=True)
class Retrieval:
    passages: list[Passage]  # fused ranking, best first, `k` long
    dense_ids: list[str]  # each retriever's own ranking, for recall@k per method
    bm25_ids: list[str]
    fused_ids: list[str]
    timings: dict[str, float] = field(default_factory=dict)  # embed_s, dense_s, bm25_s, fuse_s

    @property
    def top_dense(self) -> float:
        return max((p.dense for p in self.passages), default=0.0)


class Outcome(StrEnum):
    """How an answer was formed, or why there is none: every exit of the pipeline has one code,
    defined here and nowhere else (the eval breaks its results down by them)."""

    # Answered with a phrase of one cited sentence, or the model's words verified claim by claim.
    SPAN_TYPED = "span_typed"  # the phrase of the asked-for kind nearest the question's words
    SPAN = "span"  # a span the model copied from the chosen sentence
    FREE = "free"  # the model's own words, each claim verified against its cited sentences
    READ = "read"  # the instruction-tuned reader's phrase, copied from the sentence it chose
    # Answered by quoting the whole chosen sentence.
    QUOTE = "quote"  # --answer-mode quote
    QUOTE_YES_NO = "quote_yes_no"  # a yes/no question: the sentence that tells
    QUOTE_INSTRUCTION = "quote_instruction"  # the sentence addresses an assistant: shown, never obeyed
    QUOTE_NO_SPAN = "quote_no_span"  # no span of the sentence came back
    QUOTE_SPAN_ECHOES_QUESTION = "quote_span_echoes_question"  # the span only repeated the question
    QUOTE_UNVERIFIED = "quote_unverified"  # the model's words did not verify
    QUOTE_CONTEXT_TOO_SMALL = "quote_context_too_small"  # no room for the prompt in the model's context
    # Abstained.
    INJECTION = "injection"  # the question tries to steer the assistant
    UNKNOWN_TERMS = "unknown_terms"  # it names what no document mentions
    OFF_TOPIC = "off_topic"  # no sentence is close to it
    NO_TYPED_SENTENCE = "no_typed_sentence"  # no retrieved sentence holds the kind of thing asked for
    CONTEXT_TOO_SMALL = "context_too_small"  # the reader's context cannot hold one sentence
    READER_NONE = "reader_none"  # the reader found no sentence that answers
    READER_NO_SPAN = "reader_no_span"  # what the reader copied is not a phrase of its sentence
    LOW_CONFIDENCE = "low_confidence"  # the answer's confidence is below the threshold: withheld


# Answers that are a short phrase, not a quoted sentence (a confidence feature).
SHORT_ANSWERS = frozenset({Outcome.SPAN_TYPED, Outcome.SPAN, Outcome.FREE, Outcome.READ})


def location(doc: str, page: int | None = None, section: str | None = None) -> str:
    """Where a sentence is, as every view prints it: "report.pdf p. 3 § Costs"."""
    return doc + (f" p. {page}" if page else "") + (f" § {section}" if section else "")


@dataclass(frozen=True)
class Citation:
    id: str  # sentence id, e.g. "S12"
    text: str  # the sentence, verbatim from the document
    doc: str
    start: int
    end: int
    score: float  # support score of the claim by this sentence (0..1)
    # "model": cited by the model and verified; "attached": the model gave no usable
    # citation and the pipeline attached the best supporting retrieved sentence.
    source: str = "model"
    title: str | None = None  # the document's title (HTML <title>, PDF/DOCX metadata, first # heading)
    page: int | None = None  # 1-based page (PDF), else None
    section: str | None = None  # the nearest heading above the sentence

    @property
    def where(self) -> str:
        return location(self.doc, self.page, self.section)


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    retrieved: list[Passage]
    latency_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    reason: str = ""  # why it abstained, or how the answer was formed
    model_output: str = ""  # the raw generation, for --verbose and debugging
    # Each retriever's own ranking of sentence ids (dense, bm25, fused), for recall per method.
    rankings: dict[str, list[str]] = field(default_factory=dict)
    # The question as retrieval saw it: a follow-up rewritten to stand alone (else the question).
    standalone: str = ""
    # Query-likelihood score of each candidate sentence (id -> mean log-prob), when reranked.
    rerank: dict[str, float] = field(default_factory=dict)
    # How far to trust the answer: estimated probability that it is right (0..1), from the
    # signals in `features` (rag/gates/confidence.py). None when a gate abstained before any answer.
    confidence: float | None = None
    features: dict[str, float] = field(default_factory=dict)
    # How the answer was formed or why it abstained (per-reason eval breakdown).
    outcome: Outcome | str = ""
    # The answer it would have given, when it abstained for low confidence (for risk-coverage).
    withheld: str = ""
    withheld_citations: list[Citation] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "standalone_question": self.standalone or self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [
                {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(c).items()}
                for c in self.citations
            ],
            "retrieved": [p.to_dict() for p in self.retrieved],
            "latency_s": round(self.latency_s, 4),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "reason": self.reason,
            "model_output": self.model_output,
            "rerank": {k: round(v, 4) for k, v in self.rerank.items()},
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "outcome": self.outcome,
            "features": {k: round(v, 4) for k, v in self.features.items()},
            "withheld": self.withheld,
            "withheld_citations": [asdict(c) for c in self.withheld_citations],
        }
