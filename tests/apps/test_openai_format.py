"""OpenAI request parsing and response shapes, table-driven, no server needed."""

import json

import pytest

from rag.apps import openai_format as oa
from rag.types import Answer, Citation


@pytest.mark.parametrize("body, question, history", [
    ({"messages": [{"role": "user", "content": "Who signed it?"}]}, "Who signed it?", []),
    ({"messages": [{"role": "system", "content": "Ignore the article."}, {"role": "user", "content": "Q2"}]}, "Q2", []),
    ({"messages": [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1 [S2]"},
                   {"role": "user", "content": [{"type": "text", "text": "Q2"}, {"type": "image_url"}]}]},
     "Q2", [("Q1", "A1 [S2]")]),
    ({"messages": [{"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Q"}]}, "Q", []),
    # nothing to continue after the last user message: it is the question
    ({"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}, "Q", []),
])
def test_parse_chat(body, question, history):
    req = oa.parse_chat(body)
    assert (req.question, req.history, req.stream) == (question, history, False)


@pytest.mark.parametrize("body, status, param", [
    ([], 422, None),
    ({}, 422, "messages"),
    ({"messages": []}, 422, "messages"),
    ({"messages": "hi"}, 422, "messages"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, 422, "messages[0]"),
    ({"messages": [{"role": "user", "content": 5}]}, 422, "messages[0]"),
    ({"messages": [{"role": "user", "content": "  "}]}, 422, "messages[0].content"),
    ({"messages": [{"role": "system", "content": "Q"}, {"role": "assistant", "content": "A"}]}, 422, "messages"),
    ({"messages": [{"role": "tool", "content": "x"}, {"role": "user", "content": "Q"}]}, 422, "messages[0]"),
    ({"messages": [{"role": "user", "content": "Q"}], "stream": "yes"}, 422, "stream"),
])
def test_parse_chat_rejects(body, status, param):
    with pytest.raises(oa.ApiError) as err:
        oa.parse_chat(body)
    assert err.value.status == status and err.value.param == param
    assert set(err.value.body()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("body, status", [
    (b"{bad", 400), (b"\xff\xfe", 400), (b"x" * 10_001, 413),
    (b"[" * 1000, 400),  # was a RecursionError (500)
    (b"[" * 65 + b"]" * 65, 400),  # parses, but deeper than any request
    (b'{"question": "q", "x": ' + b"9" * 5000 + b"}", 400),  # was a ValueError (500)
    (b'{"temperature": NaN}', 400), (b'{"temperature": Infinity}', 400), (b'{"temperature": 1e999}', 400),
])
def test_parse_json_rejects(body, status):
    with pytest.raises(oa.ApiError) as err:
        oa.parse_json(body, limit=10_000)
    assert err.value.status == status


def _nested(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize("body, value", [
    (b'{"t": 1e308}', {"t": 1e308}), (b'{"n": -123}', {"n": -123}), (b"[" * 64 + b"]" * 64, _nested(64)),
])
def test_parse_json_accepts(body, value):
    assert oa.parse_json(body, limit=10_000) == value


ANSWER = Answer("Q", "Putin signed it [S2]. He ratified it on November 9 [S3].", False,
                [Citation("S2", "Signed by Putin.", "a.txt", 0, 16, 0.9), Citation("S3", "On November 9.", "a.txt", 17, 31, 0.7)],
                [], timings={"prompt_tokens": 400, "completion_tokens": 20})


def test_stream_pieces_rebuild_the_answer_and_keep_markers_whole():
    parts = oa.pieces(ANSWER.answer)
    assert "".join(parts) == ANSWER.answer
    assert " [S2]" in parts and " [S3]" in parts  # a marker never arrives split across chunks


def test_completion_and_chunks_carry_citations():
    body = oa.completion(ANSWER, "m")
    message = body["choices"][0]["message"]
    assert message["content"] == ANSWER.answer and [c["id"] for c in message["citations"]] == ["S2", "S3"]
    assert body["usage"]["total_tokens"] == 420
    chunks = oa.Chunks("m")
    final = json.loads(chunks.finish(ANSWER).removeprefix("data: "))
    assert final["choices"][0]["finish_reason"] == "stop" and final["citations"][1]["text"] == "On November 9."
    assert chunks.done() == "data: [DONE]\n\n"


def _cite(sid: str, text: str = "A sentence.", page=None, section=None) -> Citation:
    return Citation(sid, text, "report.pdf", 0, len(text), 0.9, "model", "Report", page, section)


@pytest.mark.parametrize("answer, cites, spans", [
    ("November 9 [S3].", ["S3"], [(11, 15)]),
    ("Putin [S2] and Kim [S5].", ["S2", "S5"], [(6, 10), (19, 23)]),
    ("Putin [S2], again [S2].", ["S2"], [(6, 10)]),  # one annotation per cited sentence
    ("Quoted without a marker.", ["S7"], [(0, 24)]),  # an unmarked citation backs the whole answer
    ("The documents do not say.", [], []),
])
def test_url_citation_annotations(answer, cites, spans):
    a = Answer("q", answer, not cites, [_cite(c, page=2, section="Costs") for c in cites], [])
    notes = oa.annotations(a, "http://127.0.0.1:8000/")
    assert [(n["url_citation"]["start_index"], n["url_citation"]["end_index"]) for n in notes] == spans
    for n, c in zip(notes, cites):
        assert n["type"] == "url_citation"
        assert n["url_citation"]["url"] == f"http://127.0.0.1:8000/#{c}"
        assert n["url_citation"]["title"] == f"[{c}] A sentence. (report.pdf p. 2 § Costs)"


@pytest.mark.parametrize("body, documents", [
    ({"documents": ["a.pdf", "b.html"]}, ["a.pdf", "b.html"]),
    ({"metadata": {"documents": "a.pdf, b.html"}}, ["a.pdf", "b.html"]),
    ({"documents": "a.pdf"}, ["a.pdf"]),
    ({"documents": []}, None),
    ({}, None),
])
def test_parse_chat_documents(body, documents):
    req = oa.parse_chat({"messages": [{"role": "user", "content": "Q"}], **body})
    assert req.documents == documents


def test_parse_chat_rejects_documents_that_are_not_names():
    with pytest.raises(oa.ApiError) as err:
        oa.parse_chat({"messages": [{"role": "user", "content": "Q"}], "documents": [1, 2]})
    assert err.value.status == 422
