import json

import pytest

from rag.evaluate import QuestionFileError, contains_answer, load_questions, score, token_f1

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
