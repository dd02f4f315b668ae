"""One calibrated confidence that an answer is right, from signals that carry to any document.

Each feature is something a user would read the same way on any document, and each must push
confidence in the direction a user expects (a closer sentence, a surer reranker, a question
whose words the documents use, an answer that adds something to the question: all *raise* it).
`eval/fit_confidence.py` fits a logistic regression on `rag eval --out` predictions and drops any
feature whose fitted weight points the other way, so a benchmark's construction (questions that
copy a sentence and change one detail) cannot teach it that quoting a document is suspect.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

MODEL_FILE = Path(__file__).resolve().parent.parent / "data" / "confidence.json"

# name -> what it measures (all oriented so that higher should mean more trustworthy).
FEATURES = {
    "dense": "cosine similarity of the answer's sentence to the question (MiniLM)",
    "dense_gap": "that cosine minus the best cosine among the other retrieved sentences",
    "retrieval_top": "1 when the answer's sentence is retrieval's first choice",
    "rerank": "mean log-probability of the question's tokens after the sentence (query likelihood)",
    "rerank_margin": "query likelihood of the chosen sentence minus the runner-up's (0 with one candidate)",
    "coverage": "share of the question's content words that the documents use anywhere",
    "phrases": "share of the question's adjacent content-word pairs that the documents use anywhere",
    "typed": "1 when the question asks for a recognisable type (date, number, name...) and the sentence has it",
    "adds": "1 when the answer adds a content word to the question (it does not just echo it)",
    "short": "1 when the answer is a short span rather than the whole sentence",
    "choice": "the reader's probability for the sentence it chose, among the sentences shown and 'none'",
    "answerable": "1 minus the reader's probability that none of the sentences shown answers",
}
# Measured only when an instruction-tuned reader answered (rag/grounding/read.py).
READER_FEATURES = ("choice", "answerable")
FITTED_DIR = MODEL_FILE.parent / "confidence"


@dataclass(frozen=True)
class ConfidenceModel:
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    means: tuple[float, ...]
    scales: tuple[float, ...]
    note: str = ""

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> "ConfidenceModel":
        data = json.loads(path.read_text(encoding="utf-8"))
        unknown = set(data["features"]) - set(FEATURES)
        if unknown:
            raise ValueError(f"{path}: unknown features {sorted(unknown)}")
        return cls(tuple(data["features"]), tuple(data["weights"]), float(data["bias"]), float(data["threshold"]),
                   tuple(data["means"]), tuple(data["scales"]), data.get("note", ""))

    def score(self, values: dict[str, float]) -> float:
        z = self.bias
        for name, w, mu, sd in zip(self.features, self.weights, self.means, self.scales):
            z += w * (values.get(name, mu) - mu) / sd
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def contributions(self, values: dict[str, float]) -> dict[str, float]:
        """Each feature's pull on the log-odds (for --verbose: why it is or is not confident)."""
        return {n: w * (values.get(n, mu) - mu) / sd
                for n, w, mu, sd in zip(self.features, self.weights, self.means, self.scales)}


def for_model(sha256: str | None, reader: bool) -> ConfidenceModel:
    """The confidence fitted for this GGUF (rag/data/confidence/<sha256>.json, written by
    eval/fit_confidence.py --model), else the one fitted for its kind of pipeline: the reader's
    (an instruction-tuned GGUF by path) or the base model's."""
    fitted = FITTED_DIR / f"{sha256}.json" if sha256 else None
    if fitted is not None and fitted.is_file():
        return ConfidenceModel.load(fitted)
    kind = FITTED_DIR / "reader.json"
    return ConfidenceModel.load(kind if reader and kind.is_file() else MODEL_FILE)
