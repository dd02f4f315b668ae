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

from ..errors import RagError


class QuestionFileError(RagError):
    pass


def corpus_of(path: Path) -> Path | None:
    """The corpus a question file names on its first line ({"corpus": "article.txt"}, relative
    to the file), or None: then the questions are about the current index."""
    try:
        with path.open(encoding="utf-8") as f:
            first = next((line for line in f if line.strip()), "")
        row = json.loads(first) if first else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if isinstance(row, dict) and "question" not in row and isinstance(row.get("corpus"), str):
        return (path.parent / row["corpus"]).resolve()
    return None


def corpus_index_dir(corpus: Path, settings) -> Path:
    """Where the eval keeps the index of a corpus: under the user's cache, keyed by the
    corpus's content and the settings that shape an index, so a changed file gets a new one."""
    import hashlib

    from ..settings import cache_dir

    if not corpus.exists():
        raise QuestionFileError(f"corpus not found: {corpus}")
    files = sorted(p for p in corpus.rglob("*") if p.is_file()) if corpus.is_dir() else [corpus]
    digest = hashlib.sha256(f"{settings.chunk_sentences}:{settings.chunk_overlap}".encode())
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return cache_dir() / "eval-indexes" / digest.hexdigest()[:16]


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
        if isinstance(row, dict) and "question" not in row and "corpus" in row:
            continue  # the header naming the corpus (corpus_of)
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


def _right(q: dict, text: str) -> bool:
    return q["answerable"] and contains_answer(text, q["answers"])


def risk_coverage(questions: list[dict], predictions: list[dict]) -> dict:
    """The risk-coverage curve of the confidence score: answer the most confident questions
    first; risk = share of those answers that are wrong (any answer to an unanswerable question
    is wrong). Rows a gate stopped before any answer existed (confidence null) are left out.
    AURC is the mean risk over all coverages (lower is better); `oracle` orders perfectly."""
    by_id = {p["id"]: p for p in predictions}
    rows = []
    for q in questions:
        p = by_id.get(q["id"])
        if p is None or p.get("confidence") is None:
            continue
        text = p["withheld"] if p["abstained"] else p["answer"]
        rows.append((p["confidence"], 0.0 if _right(q, text) else 1.0))
    if not rows:
        return {"aurc": None, "aurc_oracle": None, "aurc_questions": 0, "curve": []}

    def aurc(losses: list[float]) -> float:
        total, risks = 0.0, []
        for i, loss in enumerate(losses, 1):
            total += loss
            risks.append(total / i)
        return statistics.fmean(risks)

    rows.sort(key=lambda r: -r[0])
    losses = [loss for _, loss in rows]
    curve = []
    for share in (0.1, 0.25, 0.5, 0.75, 1.0):
        n = max(1, round(share * len(rows)))
        curve.append({"coverage": share, "risk": sum(losses[:n]) / n, "min_confidence": rows[n - 1][0]})
    return {"aurc": aurc(losses), "aurc_oracle": aurc(sorted(losses)), "aurc_random": statistics.fmean(losses),
            "aurc_questions": len(rows), "curve": curve}


def breakdown(questions: list[dict], predictions: list[dict]) -> dict:
    """Per outcome (why it abstained, how it answered): how many, how many answerable, how many right."""
    by_q = {q["id"]: q for q in questions}
    table: dict[str, dict] = {}
    for p in predictions:
        q = by_q.get(p["id"])
        if q is None:
            continue
        row = table.setdefault(p.get("outcome") or "unknown", {"n": 0, "answerable": 0, "right": 0})
        row["n"] += 1
        row["answerable"] += q["answerable"]
        # Right: a right answer, or an abstention on an unanswerable question.
        row["right"] += (not q["answerable"]) if p["abstained"] else _right(q, p["answer"])
    return dict(sorted(table.items(), key=lambda kv: -kv[1]["n"]))


def score(questions: list[dict], predictions: list[dict]) -> dict:
    """Metrics for predictions (matched to questions by id); see README for definitions."""
    by_id = {p["id"]: p for p in predictions}
    rows = [(q, by_id[q["id"]]) for q in questions if q["id"] in by_id]
    answerable = [(q, p) for q, p in rows if q["answerable"]]
    unanswerable = [(q, p) for q, p in rows if not q["answerable"]]
    given = [(q, p) for q, p in rows if not p["abstained"]]

    def share(items, test) -> float:
        return sum(1 for item in items if test(*item)) / len(items) if items else 0.0

    def answered_right(q, p):
        return not p["abstained"] and contains_answer(p["answer"], q["answers"])

    cited = [(q, c) for q, p in answerable if not p["abstained"] for c in p.get("citations", [])]
    metrics = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        # Right answer to an answerable question, or an abstention on an unanswerable one.
        "overall": share(rows, lambda q, p: answered_right(q, p) if q["answerable"] else p["abstained"]),
        "answered_precision": share(given, lambda q, p: q["answerable"] and answered_right(q, p)),
        "coverage": share(answerable, lambda q, p: not p["abstained"]),
        "answer_accuracy": share(answerable, answered_right),
        "answer_f1": statistics.fmean([0.0 if p["abstained"] else token_f1(p["answer"], q["answers"])
                                       for q, p in answerable]) if answerable else 0.0,
        "answer_f1_answered": statistics.fmean([token_f1(p["answer"], q["answers"]) for q, p in answerable
                                                if not p["abstained"]] or [0.0]),
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
    rc = risk_coverage(questions, predictions)
    metrics.update(aurc=rc["aurc"], aurc_oracle=rc["aurc_oracle"], aurc_random=rc.get("aurc_random"),
                   aurc_questions=rc["aurc_questions"], risk_coverage=rc["curve"],
                   outcomes=breakdown(questions, predictions))
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
    ("overall", "overall (right answer, or abstained when unanswerable)"),
    ("answered_precision", "answered precision (given answers that are right)"),
    ("coverage", "coverage (answerable questions answered)"),
    ("answer_accuracy", "answer accuracy on answerable (contains an accepted answer)"),
    ("answer_f1", "answer token F1 on answerable (abstention = 0)"),
    ("answer_f1_answered", "  token F1 of the answers given"),
    ("retrieval_recall", "retrieval recall@k (fused, shown to the model)"),
    ("recall_dense", "  dense only recall@k"),
    ("recall_bm25", "  BM25 only recall@k"),
    ("recall_fused", "  fused recall@k"),
    ("citation_precision", "citation precision"),
    ("citation_recall", "citation recall"),
    ("abstain_unanswerable", "abstained on unanswerable"),
    ("abstain_answerable", "wrongly abstained on answerable"),
    ("aurc", "risk-coverage AURC of the confidence (lower is better)"),
    ("aurc_oracle", "  AURC with a perfect confidence"),
    ("aurc_random", "  AURC with no information (the error rate)"),
    ("latency_p50_s", "latency p50 (s)"),
    ("latency_p95_s", "latency p95 (s)"),
    ("ttft_p50_s", "time to first token p50 (s)"),
    ("rerank_p50_s", "  sentence reranking p50 (s), when run"),
]


def tables(metrics: dict, title: str):
    """The metrics, the risk-coverage curve and the per-outcome breakdown as rich renderables."""
    from rich.console import Group
    from rich.table import Table

    main = Table(title=f"{title} ({metrics['answerable']} answerable, {metrics['unanswerable']} unanswerable)")
    main.add_column("metric")
    main.add_column("value", justify="right")
    for key, label in LABELS:
        if metrics.get(key) is not None:
            main.add_row(label, f"{metrics[key]:.3f}")
    curve = Table(title=f"risk-coverage of the confidence ({metrics['aurc_questions']} questions with an answer to judge)")
    for column in ("coverage", "risk (wrong answers)", "confidence at least"):
        curve.add_column(column, justify="right")
    for point in metrics.get("risk_coverage", []):
        curve.add_row(f"{point['coverage']:.2f}", f"{point['risk']:.3f}", f"{point['min_confidence']:.3f}")
    reasons = Table(title="outcomes (how it answered, or why it abstained)")
    for column in ("outcome", "questions", "answerable", "right"):
        reasons.add_column(column, justify="right" if column != "outcome" else "left")
    for name, row in metrics.get("outcomes", {}).items():
        reasons.add_row(name, str(row["n"]), str(row["answerable"]), str(row["right"]))
    return Group(main, curve, reasons)
