import json

import pytest

from rag.tools.evaluate import (
    QuestionFileError,
    contains_answer,
    corpus_of,
    load_questions,
    risk_coverage,
    score,
    token_f1,
)

QUESTIONS = [
    {"id": "a", "question": "When?", "answers": ["November 9"], "support": ["approval on November 9"], "answerable": True},
    {"id": "b", "question": "Who?", "answers": ["Kim Jong-un"], "support": ["signed by Putin"], "answerable": True},
    {"id": "c", "question": "How many?", "answers": [], "support": [], "answerable": False},
    {"id": "d", "question": "What?", "answers": [], "support": [], "answerable": False},
]
GOOD = {"id": "S3", "text": "... final approval on November 9.", "doc": "x"}
BAD = {"id": "S9", "text": "Something unrelated.", "doc": "x"}
PREDICTIONS = [
    # right answer, one supporting and one unsupported citation, support retrieved
    {"id": "a", "answer": "On November 9 [S3].", "abstained": False, "citations": [GOOD, BAD],
     "retrieved": [GOOD, BAD], "latency_s": 1.0, "timings": {"ttft_s": 0.2, "rerank_s": 0.1}},
    # wrong answer, wrong citation, support not retrieved
    {"id": "b", "answer": "Putin [S9].", "abstained": False, "citations": [BAD],
     "retrieved": [BAD], "latency_s": 3.0, "timings": {"ttft_s": 0.4, "rerank_s": 0.3}},
    {"id": "c", "answer": "The article does not say.", "abstained": True, "citations": [], "retrieved": [],
     "latency_s": 0.1, "timings": {}},
    {"id": "d", "answer": "Made up [S9].", "abstained": False, "citations": [BAD], "retrieved": [BAD],
     "latency_s": 2.0, "timings": {"ttft_s": 0.3}},
]


def test_score_known_predictions():
    m = score(QUESTIONS, PREDICTIONS)
    assert m["answer_accuracy"] == 0.5
    assert m["retrieval_recall"] == 0.5
    assert m["citation_precision"] == pytest.approx(1 / 3)  # 1 of 3 citations on answerable rows
    assert m["citation_recall"] == 0.5
    assert m["abstain_unanswerable"] == 0.5
    assert m["abstain_answerable"] == 0.0
    assert m["latency_p50_s"] == pytest.approx(1.5) and m["latency_p95_s"] == pytest.approx(2.85)
    assert m["ttft_p50_s"] == 0.3
    assert m["rerank_p50_s"] == pytest.approx(0.2)  # only rows that reranked
    assert m["overall"] == pytest.approx(2 / 4)  # a right, c abstained; b wrong, d answered unanswerable
    assert m["answered_precision"] == pytest.approx(1 / 3)  # a of a, b, d
    assert m["coverage"] == 1.0
    assert m["outcomes"] == {"unknown": {"n": 4, "answerable": 2, "right": 2}}


def _row(qid, confidence, answer, abstained=False, withheld=""):
    return {"id": qid, "answer": answer, "abstained": abstained, "confidence": confidence, "withheld": withheld,
            "outcome": "low_confidence" if abstained else "span", "citations": [], "retrieved": []}


def test_risk_coverage_orders_answers_by_confidence():
    rows = [_row("a", 0.9, "November 9 [S3]."),  # right
            _row("b", 0.8, "Putin [S9]."),  # wrong
            _row("c", 0.1, "The article does not say.", abstained=True, withheld="Three [S4]."),  # withheld, wrong
            _row("d", None, "The article does not say.", abstained=True)]  # a gate: no answer to judge
    rc = risk_coverage(QUESTIONS, rows)
    assert rc["aurc_questions"] == 3
    assert rc["aurc"] == pytest.approx((0 + 1 / 2 + 2 / 3) / 3)
    assert rc["aurc_oracle"] == pytest.approx((0 + 1 / 2 + 2 / 3) / 3)  # already the best order
    flipped = [dict(r, confidence=1 - r["confidence"]) if r["confidence"] is not None else r for r in rows]
    assert risk_coverage(QUESTIONS, flipped)["aurc"] > rc["aurc"]
    m = score(QUESTIONS, rows)
    assert m["outcomes"]["low_confidence"] == {"n": 2, "answerable": 0, "right": 2}


def test_a_question_file_may_name_its_corpus(tmp_path):
    (tmp_path / "doc.txt").write_text("Text.")
    path = tmp_path / "q.jsonl"
    path.write_text('{"corpus": "doc.txt"}\n{"question": "q?", "answers": ["a"]}\n')
    assert corpus_of(path) == (tmp_path / "doc.txt").resolve()
    assert [q["question"] for q in load_questions(path)] == ["q?"]
    plain = tmp_path / "plain.jsonl"
    plain.write_text('{"question": "q?"}\n')
    assert corpus_of(plain) is None


@pytest.mark.parametrize(
    "prediction, answers, ok",
    [
        ("On November 9 [S3].", ["November 9"], True),
        ("On November 19.", ["November 9"], False),
        ("Russia’s ultimate victory", ["Russia's ultimate victory"], True),
        ("No, it is not.", ["no"], True),
        ("Nothing.", ["no"], False),
    ],
)
def test_contains_answer(prediction, answers, ok):
    assert contains_answer(prediction, answers) is ok


def test_token_f1():
    assert token_f1("on November 9", ["November 9"]) == pytest.approx(0.8)
    assert token_f1("unrelated", ["November 9"]) == 0.0


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"question": "ok"}', "{broken"], ":2: not valid JSON"),
        (['{"answers": []}'], ":1: each line needs"),
        (['{"id": 1, "question": "a"}', '{"id": 1, "question": "b"}'], ":2: duplicate id"),
        (['{"question": "a", "answers": "x"}'], "must be a list"),
        ([""], "holds no questions"),
    ],
)
def test_malformed_question_files_name_the_line(tmp_path, lines, message):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines))
    with pytest.raises(QuestionFileError, match=message):
        load_questions(path)


def test_extra_fields_are_ignored(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "x", "question": "q?", "answers": ["a"], "difficulty": "hard"}))
    assert load_questions(path)[0]["answerable"] is True
