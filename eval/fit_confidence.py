"""Fit the confidence model (rag/data/confidence.json) from `rag eval --out` predictions.

    python eval/fit_confidence.py --fit PRED.jsonl:QUESTIONS.jsonl [--fit ...] --check PRED:QUESTIONS ...
    python eval/fit_confidence.py --model qwen2.5-coder-1.5b-instruct --fit ... (that tier's own file)

Label: the answer it gave (or withheld) is right. Every feature is standardised and a logistic
regression is fitted by Newton's method with a small L2 penalty. A feature whose weight comes
out negative is dropped and the model refitted: each feature is oriented so that higher should
mean more trustworthy to a user (rag/gates/confidence.py), and a negative weight would mean it learned
how a benchmark was built (SQuAD 2.0's unanswerable questions copy a sentence and change one
detail), not something true of documents in general. The threshold is the highest confidence
that still lets through --keep (97 %) of the right answers on the fitting sets: with the default
270M model the confidence cannot tell a changed detail from a real answer, so it is used to
withhold only what is clearly weak, never to trade many right answers for a few wrong ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rag.gates.confidence import FEATURES, FITTED_DIR, MODEL_FILE  # noqa: E402
from rag.generation import models  # noqa: E402
from rag.stores.store import atomic_write  # noqa: E402
from rag.tools.evaluate import contains_answer, load_questions  # noqa: E402


def rows(pair: str, answerable_only: bool = False) -> tuple[np.ndarray, np.ndarray, list[str]]:
    pred_path, q_path = pair.split(":")
    questions = {q["id"]: q for q in load_questions(Path(q_path))}
    names = list(FEATURES)
    X, y = [], []
    for line in Path(pred_path).read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        if p.get("confidence") is None or not p.get("features"):
            continue  # stopped by a gate before any answer existed
        q = questions[p["id"]]
        if answerable_only and not q["answerable"]:
            continue
        text = p["withheld"] if p["abstained"] else p["answer"]
        X.append([p["features"].get(n, 0.0) for n in names])
        y.append(float(q["answerable"] and contains_answer(text, q["answers"])))
    return np.array(X), np.array(y), names


def logistic(X: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, float]:
    A = np.hstack([X, np.ones((len(X), 1))])
    w = np.zeros(A.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-A @ w))
        reg = np.r_[l2 * w[:-1], 0.0]
        grad = A.T @ (p - y) + reg
        H = A.T @ (A * (p * (1 - p))[:, None]) + np.diag(np.r_[np.full(A.shape[1] - 1, l2), 1e-6])
        w -= np.linalg.solve(H, grad)
    return w[:-1], float(w[-1])


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    pos, neg = scores[y == 1], scores[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    return float(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", action="append", required=True, help="PREDICTIONS.jsonl:QUESTIONS.jsonl to fit on")
    ap.add_argument("--check", action="append", default=[], help="PREDICTIONS.jsonl:QUESTIONS.jsonl to report on")
    ap.add_argument("--keep", type=float, default=0.97, help="share of right answers the threshold must let through")
    ap.add_argument("--out", type=Path, default=None, help=f"default: {MODEL_FILE}, or the --model's own file")
    ap.add_argument("--model", help="a tier's name (`rag models`): write rag/data/confidence/<its GGUF sha256>.json, "
                                    "which `rag` loads whenever that GGUF answers")
    ap.add_argument("--answerable-only", action="store_true",
                    help="fit on answerable questions only: learn when an answer is wrong, not how a benchmark "
                         "made its unanswerable questions")
    args = ap.parse_args()
    tier = models.tier(args.model) if args.model else None
    if args.out is None:
        args.out = FITTED_DIR / f"{tier.sha256}.json" if tier else MODEL_FILE
    parts = [rows(pair, args.answerable_only) for pair in args.fit]
    X = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    names = parts[0][2]
    keep = [i for i in range(len(names)) if X[:, i].std() > 1e-9]
    for i in range(len(names)):
        print(f"  {names[i]:15s} AUC alone {auc(X[:, i], y):.3f}")
    mu, sd = X.mean(0), X.std(0) + 1e-9
    while True:
        w, b = logistic((X[:, keep] - mu[keep]) / sd[keep], y)
        wrong = [keep[j] for j in range(len(keep)) if w[j] < 0]
        if not wrong:
            break
        print("dropped (weight points the wrong way):", [names[i] for i in wrong])
        keep = [i for i in keep if i not in wrong]
    conf = 1 / (1 + np.exp(-(((X[:, keep] - mu[keep]) / sd[keep]) @ w + b)))
    right = np.sort(conf[y == 1])
    threshold = float(np.floor(right[int((1 - args.keep) * len(right))] * 1000) / 1000) if len(right) else 0.0
    given = conf >= threshold
    print(f"fitted on {len(y)} answers ({int(y.sum())} right): AUC {auc(conf, y):.3f}, threshold {threshold:.3f}, "
          f"answers kept {given.mean():.3f}, precision of kept {y[given].mean():.3f} (all: {y.mean():.3f})")
    for pair in args.check:
        Xc, yc, _ = rows(pair)
        cc = 1 / (1 + np.exp(-(((Xc[:, keep] - mu[keep]) / sd[keep]) @ w + b)))
        print(f"check {pair}: AUC {auc(cc, yc):.3f}, answered above threshold {np.mean(cc >= threshold):.3f}, "
              f"precision there {yc[cc >= threshold].mean() if (cc >= threshold).any() else float('nan'):.3f}")
    model = {"features": [names[i] for i in keep], "weights": [round(float(v), 4) for v in w], "bias": round(b, 4),
             "threshold": round(threshold, 4), "means": [round(float(mu[i]), 4) for i in keep],
             "scales": [round(float(sd[i]), 4) for i in keep],
             "note": (f"{tier.name}: " if tier else "") + f"fitted by eval/fit_confidence.py on {', '.join(args.fit)}"
                     + (" (answerable questions only)" if args.answerable_only else "")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, (json.dumps(model, indent=1) + "\n").encode())
    print(json.dumps(model))


if __name__ == "__main__":
    main()
