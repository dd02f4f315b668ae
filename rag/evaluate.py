"""The eval harness: run a question set through `Assistant.ask` and score what came back.

Scoring reads only prediction rows (the `rag ask --json` shape plus `id`) and the questions,
so a saved predictions file can be re-scored, and hand-made rows can test the scorer.
"""

from __future__ import annotations

import json
import re
import statistics
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable

from .errors import RagError


class QuestionFileError(RagError):
    pass


def load_questions(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise QuestionFileError(f"question file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionFileError(f"cannot read {path}: {exc}") from None
    questions, seen = [], set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise QuestionFileError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not row["question"].strip():
            raise QuestionFileError(f"{path}:{n}: each line needs a non-empty \"question\" string")
        row.setdefault("id", f"line{n}")
        row["id"] = str(row["id"])
        if row["id"] in seen:
            raise QuestionFileError(f"{path}:{n}: duplicate id {row['id']!r}")
        seen.add(row["id"])
        for key in ("answers", "support"):
            value = row.setdefault(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise QuestionFileError(f"{path}:{n}: \"{key}\" must be a list of strings")
        answerable = row.setdefault("answerable", bool(row["answers"]))
        if not isinstance(answerable, bool):
            raise QuestionFileError(f"{path}:{n}: \"answerable\" must be true or false")
        questions.append(row)
    if not questions:
        raise QuestionFileError(f"{path} holds no questions")
    return questions


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"[^\w\s'-]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def contains_answer(prediction: str, answers: Iterable[str]) -> bool:
    pred = f" {normalize(prediction)} "
    return any(f" {normalize(a)} " in pred for a in answers if normalize(a))


def token_f1(prediction: str, answers: Iterable[str]) -> float:
    pred = normalize(prediction).split()
    best = 0.0
    for answer in answers:
        gold = normalize(answer).split()
        common = sum((Counter(pred) & Counter(gold)).values())
        if common:
            p, r = common / len(pred), common / len(gold)
            best = max(best, 2 * p * r / (p + r))
    return best


def supports(sentence: str, support: Iterable[str]) -> bool:
    sentence = " ".join(sentence.split())
    return any(" ".join(s.split()) in sentence for s in support)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    pos = q * (len(values) - 1)  # linear interpolation, as numpy.percentile does by default
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def score(questions: list[dict], predictions: list[dict]) -> dict:
    """Metrics for predictions (matched to questions by id); see README for definitions."""
    by_id = {p["id"]: p for p in predictions}
    rows = [(q, by_id[q["id"]]) for q in questions if q["id"] in by_id]
    answerable = [(q, p) for q, p in rows if q["answerable"]]
    unanswerable = [(q, p) for q, p in rows if not q["answerable"]]

    def share(items, test) -> float:
        return sum(1 for item in items if test(*item)) / len(items) if items else 0.0

    def answered_right(q, p):
        return not p["abstained"] and contains_answer(p["answer"], q["answers"])

    cited = [(q, c) for q, p in answerable if not p["abstained"] for c in p.get("citations", [])]
    metrics = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answer_accuracy": share(answerable, answered_right),
        "answer_f1": statistics.fmean([0.0 if p["abstained"] else token_f1(p["answer"], q["answers"])
                                       for q, p in answerable]) if answerable else 0.0,
        "retrieval_recall": share(answerable, lambda q, p: any(supports(r["text"], q["support"]) for r in p.get("retrieved", []))),
        "citation_precision": (sum(supports(c["text"], q["support"]) for q, c in cited) / len(cited)) if cited else 0.0,
        "citation_recall": share(answerable, lambda q, p: not p["abstained"] and any(
            supports(c["text"], q["support"]) for c in p.get("citations", []))),
        "abstain_unanswerable": share(unanswerable, lambda q, p: p["abstained"]),
        "abstain_answerable": share(answerable, lambda q, p: p["abstained"]),
        "latency_p50_s": _pct([p.get("latency_s", 0.0) for _, p in rows], 0.5),
        "latency_p95_s": _pct([p.get("latency_s", 0.0) for _, p in rows], 0.95),
        "ttft_p50_s": _pct([p["timings"]["ttft_s"] for _, p in rows if "ttft_s" in p.get("timings", {})], 0.5),
        # Reranking runs only when two or more candidate sentences hold the answer type.
        "rerank_p50_s": _pct([p["timings"]["rerank_s"] for _, p in rows if "rerank_s" in p.get("timings", {})], 0.5),
    }
    for method in ("dense", "bm25", "fused"):
        hits = [p["recall"][method] for _, p in answerable if method in p.get("recall", {})]
        if hits:
            metrics[f"recall_{method}"] = sum(hits) / len(hits)
    return metrics


def run(assistant, questions: list[dict], k: int | None = None,
        on_result: Callable[[dict], None] | None = None) -> list[dict]:
    """Ask every question through the same path as `rag ask`; one prediction row each."""
    k = k or assistant.settings.k
    predictions = []
    for q in questions:
        answer = assistant.ask(q["question"], k=k)
        row = {"id": q["id"], **answer.to_dict()}
        if q.get("support"):
            text = assistant.store.by_id
            row["recall"] = {method: any(supports(text[i].text, q["support"]) for i in ids[:k])
                             for method, ids in answer.rankings.items()}
        predictions.append(row)
        if on_result:
            on_result(row)
    return predictions


LABELS = [
    ("answer_accuracy", "answer accuracy (contains an accepted answer)"),
    ("answer_f1", "answer token F1"),
    ("retrieval_recall", "retrieval recall@k (fused, shown to the model)"),
    ("recall_dense", "  dense only recall@k"),
    ("recall_bm25", "  BM25 only recall@k"),
    ("recall_fused", "  fused recall@k"),
    ("citation_precision", "citation precision"),
    ("citation_recall", "citation recall"),
    ("abstain_unanswerable", "abstained on unanswerable"),
    ("abstain_answerable", "wrongly abstained on answerable"),
    ("latency_p50_s", "latency p50 (s)"),
    ("latency_p95_s", "latency p95 (s)"),
    ("ttft_p50_s", "time to first token p50 (s)"),
    ("rerank_p50_s", "  sentence reranking p50 (s), when run"),
]
