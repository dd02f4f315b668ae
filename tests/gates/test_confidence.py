"""The confidence as shipped: every fitted file loads and keeps the sign rule, scores move the
way each feature says they should, the pipeline withholds exactly below the shipped threshold,
and eval/fit_confidence.py fits, drops a wrongly signed feature and writes a loadable file."""

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from rag.gates import confidence
from rag.gates.confidence import FEATURES, FITTED_DIR, MODEL_FILE, ConfidenceModel

SHIPPED = [MODEL_FILE, *sorted(FITTED_DIR.glob("*.json"))]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_files_load_and_keep_the_sign_rule(path):
    model = ConfidenceModel.load(path)
    n = len(model.features)
    assert n >= 2 and len(model.weights) == len(model.means) == len(model.scales) == n
    assert set(model.features) <= set(FEATURES)
    # Each feature is oriented so that higher means more trustworthy: a negative weight would be
    # a benchmark artefact, and eval/fit_confidence.py drops it.
    assert all(w > 0 for w in model.weights), dict(zip(model.features, model.weights))
    assert all(sd > 0 for sd in model.scales) and 0 < model.threshold < 1


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_score_is_the_logistic_of_standardised_features_and_rises_with_each(path):
    model = ConfidenceModel.load(path)
    at_means = dict(zip(model.features, model.means))
    assert model.score(at_means) == pytest.approx(1 / (1 + math.exp(-model.bias)))
    assert model.score({}) == model.score(at_means)  # a missing feature counts as average
    for name, sd in zip(model.features, model.scales):
        assert model.score({**at_means, name: at_means[name] + sd}) > model.score(at_means)
    assert sum(model.contributions(at_means).values()) == pytest.approx(0.0)


def test_load_refuses_a_feature_the_code_does_not_measure(tmp_path):
    data = json.loads(MODEL_FILE.read_text())
    data["features"][0] = "made_up"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="made_up"):
        ConfidenceModel.load(path)


def test_for_model_picks_the_tiers_own_file_then_its_kind():
    fitted = sorted(p for p in FITTED_DIR.glob("*.json") if p.stem != "reader")
    assert fitted, "no per-model confidence shipped"
    for path in fitted:
        assert confidence.for_model(path.stem, reader=True) == ConfidenceModel.load(path)
    assert confidence.for_model("0" * 64, reader=True) == ConfidenceModel.load(FITTED_DIR / "reader.json")
    assert confidence.for_model("0" * 64, reader=False) == ConfidenceModel.load(MODEL_FILE)
    assert confidence.for_model(None, reader=False) == ConfidenceModel.load(MODEL_FILE)


def test_the_pipeline_withholds_exactly_below_the_shipped_threshold(assistant, bundled_predictions):
    shipped = assistant.confidence
    assert shipped.threshold == ConfidenceModel.load(MODEL_FILE).threshold
    scored = [p for p in bundled_predictions if p["confidence"] is not None]
    assert scored
    for p in scored:
        withheld = p["outcome"] == "low_confidence"
        assert withheld == (p["confidence"] < shipped.threshold), p["id"]
        assert p["confidence"] == pytest.approx(shipped.score(p["features"]), abs=1e-3)


def test_fit_on_a_tiny_set_drops_a_wrongly_signed_feature(tmp_path):
    """`dense` tells right from wrong; `coverage` is higher on the wrong answers (as a benchmark's
    built unanswerables can make it): the fit must drop it and keep `dense`."""
    rng = random.Random(7)
    questions, predictions = [], []
    for i in range(80):
        right = i % 2 == 0
        questions.append({"id": f"q{i}", "question": f"q{i}?", "answers": ["yes"], "answerable": True})
        predictions.append({"id": f"q{i}", "abstained": False, "answer": "yes [S1]." if right else "no [S1].",
                            "withheld": "", "confidence": 0.5,
                            "features": {"dense": (0.7 if right else 0.4) + rng.gauss(0, 0.1),
                                         "coverage": (0.5 if right else 0.8) + rng.gauss(0, 0.1)}})
    qs, ps, out = tmp_path / "q.jsonl", tmp_path / "p.jsonl", tmp_path / "fitted.json"
    qs.write_text("".join(json.dumps(q) + "\n" for q in questions))
    ps.write_text("".join(json.dumps(p) + "\n" for p in predictions))
    run = subprocess.run([sys.executable, str(ROOT / "eval" / "fit_confidence.py"), "--fit", f"{ps}:{qs}",
                          "--keep", "0.9", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "dropped (weight points the wrong way): ['coverage']" in run.stdout
    model = ConfidenceModel.load(out)
    assert model.features == ("dense",) and model.weights[0] > 0
    scores = [model.score(p["features"]) for p in predictions]
    kept_right = sum(s >= model.threshold for s, p in zip(scores, predictions) if p["answer"].startswith("yes"))
    assert kept_right >= 0.9 * 40  # the threshold lets --keep of the right answers through
    kept_wrong = sum(s >= model.threshold for s, p in zip(scores, predictions) if p["answer"].startswith("no"))
    assert kept_wrong < kept_right
