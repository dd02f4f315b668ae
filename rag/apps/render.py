"""One way to show an answer on a terminal, for `rag ask` and `rag chat` alike: the answer, the
sentences under it (its citations, or for an abstention the closest ones it looked at), and how
far to trust it. Plain lines here; the rich view lays the same rows out as a table."""

from __future__ import annotations

from typing import NamedTuple

from ..types import MARKER, Answer


class Row(NamedTuple):
    """A sentence shown under an answer."""

    id: str
    text: str
    score: float
    source: str  # "model", "attached" (the pipeline attached it) or "retrieved"
    where: str  # document, page and section


def rows(answer: Answer) -> tuple[str, list[Row]]:
    """(title, rows): its citations, or for an abstention the closest sentences it looked at."""
    if answer.citations:
        return "Cited sentences", [Row(c.id, c.text, c.score, c.source, c.where) for c in answer.citations]
    if answer.abstained and answer.retrieved:
        return "Closest sentences it looked at", [Row(p.id, p.text, p.dense, "retrieved", p.doc)
                                                 for p in answer.retrieved[:3]]
    return "", []


def status(answer: Answer) -> str:
    """How far to trust the answer, or why there is none."""
    if answer.abstained:
        return f"Why no answer: {answer.reason}." if answer.reason else ""
    return f"Confidence {answer.confidence:.2f}" if answer.confidence is not None else ""


def lines(answer: Answer) -> list[str]:
    """The answer as plain lines (README, "Use")."""
    out = [answer.answer]
    title, shown = rows(answer)
    if shown:
        out.append("" if answer.citations else f"\n{title}:")
        for row in shown:
            note = " (supporting sentence attached by rag)" if row.source == "attached" else ""
            out.append(f"[{row.id}] {row.text} ({row.where}){note}")
    if status(answer):
        out.append(status(answer))
    return out


def details(answer: Answer) -> list[str]:
    """What --verbose adds: how the answer was formed, the timings, the confidence's features."""
    out = []
    if answer.standalone and answer.standalone != answer.question:
        out.append(f"standalone question: {answer.standalone}")
    out += [f"reason: {answer.reason}", f"model output: {answer.model_output!r}",
            f"latency: {answer.latency_s:.3f} s; " + ", ".join(f"{k}={v:.3f}" for k, v in answer.timings.items())]
    if answer.features:
        out.append("confidence features: " + ", ".join(f"{k}={v:.2f}" for k, v in answer.features.items()))
    if answer.rerank:
        out.append("reranked (question log-likelihood per token): "
                   + ", ".join(f"{k}={v:.2f}" for k, v in answer.rerank.items()))
    return out


def marked(text: str) -> list[tuple[str, bool]]:
    """The text in pieces, each marked True when it is a citation marker ("[S3]")."""
    pieces, at = [], 0
    for m in MARKER.finditer(text):
        if m.start() > at:
            pieces.append((text[at:m.start()], False))
        pieces.append((m.group(), True))
        at = m.end()
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces
