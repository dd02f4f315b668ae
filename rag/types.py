"""The base types every stage passes on, as plain data: sentences and chunks (ingest, stores),
passages and retrievals (retrieval), answers and citations (what the CLI, server and eval print).

This module imports nothing of rag: every layer may use it (the import-linter contract in
pyproject.toml holds the layers)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import NamedTuple


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


class Shown(NamedTuple):
    """A sentence shown under an answer."""

    id: str
    text: str
    score: float
    source: str  # "model", "attached" or "retrieved"
    where: str  # document, page and section


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
    # A short code for how the answer was formed or why it abstained (per-reason eval breakdown).
    outcome: str = ""
    # The answer it would have given, when it abstained for low confidence (for risk-coverage).
    withheld: str = ""
    withheld_citations: list[Citation] = field(default_factory=list)

    def shown_sentences(self) -> tuple[str, list[Shown]]:
        """What every view prints under the answer, as (title, rows): its citations, or for an
        abstention the closest sentences it looked at."""
        if self.citations:
            return "Cited sentences", [Shown(c.id, c.text, c.score, c.source, c.where) for c in self.citations]
        if self.abstained and self.retrieved:
            return "Closest sentences it looked at", [Shown(p.id, p.text, p.dense, "retrieved", p.doc)
                                                       for p in self.retrieved[:3]]
        return "", []

    def status_line(self) -> str:
        """One line every view prints under the answer: how far to trust it, or why it abstained."""
        if self.abstained:
            return f"Why no answer: {self.reason}." if self.reason else ""
        return f"Confidence {self.confidence:.2f}" if self.confidence is not None else ""

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
