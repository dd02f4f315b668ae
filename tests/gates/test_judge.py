"""The judge: the confidence goes on the answer; below the threshold it is withheld, saying why."""

import pytest

from rag.gates.confidence import ConfidenceModel
from rag.gates.judge import judge
from rag.gates.vocabulary import Vocabulary
from rag.lang import en
from rag.lang.question import parse
from rag.types import Answer, Outcome, Passage, Retrieval

BEST = Passage("S1", "The bridge opened in 1932.", "doc", 0.1, 0.9, 1.0)
RETRIEVAL = Retrieval([BEST], ["S1"], ["S1"], ["S1"])
VOCABULARY = Vocabulary([BEST.text], en)
# One feature, the answer sentence's cosine: confidence = sigmoid(4 * (dense - 0.5)).
MODEL = ConfidenceModel(("dense",), (4.0,), 0.0, 0.6, (0.5,), (1.0,))


@pytest.mark.parametrize("question, threshold, withheld, why", [
    ("When did the bridge open?", None, False, ""),  # 0.83 >= the fitted 0.6
    ("When did the bridge open?", 0.9, True, "the closest sentence may not answer it (cosine"),
    ("When did the ferry open?", 0.9, True, "the documents never use ferry"),
])
def test_judge(question, threshold, withheld, why):
    answer = Answer(question, "1932 [S1].", False, [], [BEST], outcome=Outcome.SPAN_TYPED)
    stop = judge(parse(question, en), answer, BEST, [BEST], RETRIEVAL, {}, VOCABULARY, MODEL, threshold)
    assert answer.confidence == pytest.approx(0.83, abs=0.01) and answer.features["dense"] == 0.9
    assert (stop is not None) is withheld
    if withheld:
        assert stop.outcome == Outcome.LOW_CONFIDENCE and why in stop.reason
