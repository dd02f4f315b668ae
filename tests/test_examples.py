"""The in-process Gradio example: served for real on loopback, asked through gradio_client."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gradio_chat.py"


@pytest.fixture(scope="module")
def example():
    pytest.importorskip("gradio", reason="gradio is not installed (it is in the dev extras)")
    spec = importlib.util.spec_from_file_location("gradio_chat", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("text, shown", [
    ("plain words", "plain words"),
    ("**bold** and <b>tag</b>", r"\*\*bold\*\* and \<b\>tag\</b\>"),
    ("[S3](http://x)", r"\[S3\]\(http://x\)"),
])
def test_document_text_is_shown_literally(example, text, shown):
    assert example.literal(text) == shown


def test_history_becomes_question_answer_pairs(example):
    history = [{"role": "user", "content": "Who signed it?"}, {"role": "assistant", "content": "Putin [S2]."},
               {"role": "user", "content": [{"type": "text", "text": "When?"}]}]
    assert example.turns(history) == [("Who signed it?", "Putin [S2].")]


@pytest.mark.slow
def test_served_chat_shows_cited_sentences(example, assistant):
    from gradio_client import Client

    demo = example.build(assistant)
    demo.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False, download_files=False)
        reply = client.predict("When did Putin give final approval to the treaty?", api_name="/respond")  # named after the function
        assert "November 9" in reply
        assert "russia\\-north\\-korea\\-partnership\\.txt" in reply  # the cited sentence's document
        assert re.search(r"\*\*\[S\d+\]\*\*", reply)  # each cited sentence under the answer, id first
        assert "Confidence" in reply
        reply = client.predict("What does the mutual defense clause oblige?", api_name="/respond")
        assert "militar" in reply  # an answer the model copied, not a pattern's pick
    finally:
        demo.close()
