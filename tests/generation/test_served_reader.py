"""The instruction-tuned reader on llama.cpp's real HTTP server (`--llm-url` serving the
Qwen2.5-Coder-0.5B tier that `make test` installs): the server is recognised as a reader, and it
reads, copies, declines and cites as the same GGUF does in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.generation import models, served
from rag.grounding import span
from rag.pipeline import Assistant
from rag.tools import evaluate

from ..conftest import FULL, agreement
from ..llm_server_fixture import LlamaServer, PlainOpenAI

pytest.importorskip("xllamacpp", reason="llama.cpp's server comes from the xllamacpp wheel (dev extra)")
pytestmark = pytest.mark.slow
TIER = "qwen2.5-coder-0.5b-instruct"


@pytest.fixture(scope="module")
def qwen_server():
    if not models.is_installed(models.tier(TIER)):
        pytest.fail(f"{TIER} is not installed: `make test` runs `rag models install {TIER}` first")
    server = LlamaServer(parallel=1, model=TIER).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def served_reader(qwen_server, assistant):
    return Assistant(assistant.settings.with_(llm_url=qwen_server.url), embedder=assistant.embedder,
                     retriever=assistant.retriever)


@pytest.fixture(scope="module")
def local_reader(assistant):
    return Assistant(assistant.settings.with_(model_path=Path(TIER)), embedder=assistant.embedder,
                     retriever=assistant.retriever)


def test_the_server_is_recognised_as_a_reader_with_its_fitted_confidence(served_reader):
    gen = served_reader.generator
    assert isinstance(gen, served.ServedGenerator)
    # Its chat template is its own (ChatML in special tokens), unlike gemma's fallback (test_served.py).
    assert gen.chat and gen.choose
    assert gen.model_sha256 == models.tier(TIER).sha256


@pytest.fixture(scope="module")
def sample(bundled_questions):
    return bundled_questions if FULL else bundled_questions[::4]


@pytest.fixture(scope="module")
def read_here(local_reader, sample):
    return evaluate.run(local_reader, sample)


def test_the_served_reader_reads_as_the_in_process_one(served_reader, read_here, sample):
    """Same GGUF, temperature 0, the same grammar as the logits processor: the same phrases and
    sentences (8 of 8 measured on the set's first questions), and the same judgement of whether
    any sentence answers, less the probability past the 64 likeliest first tokens."""
    there = evaluate.run(served_reader, sample)
    here = read_here
    same, _ = agreement(here, there)
    assert same >= 0.85, [(a["answer"], b["answer"]) for a, b in zip(here, there) if a["answer"] != b["answer"]]
    assert sum(p["outcome"] == "read" for p in there) >= len(there) // 2
    for a, b in zip(here, there):
        if "answerable" in a["features"] and "answerable" in b["features"]:
            assert abs(a["features"]["answerable"] - b["features"]["answerable"]) < 0.05, (a["question"], a, b)
        if b["outcome"] == "read":
            phrase, (cited,) = b["answer"].rsplit(" [", 1)[0], b["citations"]
            assert span.locate(phrase, cited["text"]) is not None and len(phrase) < len(cited["text"])


def test_a_plain_openai_server_reads_unconstrained_and_shows_only_the_sentences_words(qwen_server, assistant,
                                                                                       read_here, sample):
    """The same model behind a server with only the OpenAI API (vLLM, a hosted one): it reads
    through chat turns, nothing constraining what it writes. A phrase found word for word in a
    sentence is the answer, cited by code; one that is not never shows (measured on every eighth
    bundled question: 3 of 8 read as in-process, the rest not word for word, said as such)."""
    server = PlainOpenAI(qwen_server.url)
    try:
        notes: list[str] = []
        plain = Assistant(assistant.settings.with_(llm_url=server.url), embedder=assistant.embedder,
                          retriever=assistant.retriever, notify=notes.append)
        plain.load()
        assert notes == []  # the reader chooses its sentence itself: no reranker is asked for, or missed
        gen = plain.generator
        assert gen.chat and gen.choose and gen.first_step_probs and not gen.copy_spans
        assert gen.model_sha256 is None  # what GGUF it serves is not said: the readers' general fit
        questions, here = sample[::2], read_here[::2]
        there = evaluate.run(plain, questions)
        read = [(a, b) for a, b in zip(here, there) if b["outcome"] == "read"]
        assert len(read) >= 2, [b["model_output"] for b in there]
        for a, b in read:
            phrase, (cited,) = b["answer"].rsplit(" [", 1)[0], b["citations"]
            assert span.locate(phrase, cited["text"]) is not None and len(phrase) < len(cited["text"])
            assert 0.0 < b["features"]["choice"] <= 1.0 and 0.0 < b["features"]["answerable"] <= 1.0
        assert sum(a["citations"] == b["citations"] for a, b in read) >= len(read) - 1
        for b in there:
            if b["outcome"] == "reader_no_span":  # what it wrote stands in no sentence: never shown
                assert b["abstained"] and not b["citations"] and "word for word" in b["reason"]
        pieces: list[str] = []
        answer = plain.ask("When did Putin give final approval to the treaty?", on_token=pieces.append)
        assert answer.outcome == "read" and "".join(pieces).strip() in answer.answer
        assert "Answer" not in "".join(pieces)
    finally:
        server.stop()


def test_the_served_reader_streams_its_phrase(served_reader):
    pieces: list[str] = []
    answer = served_reader.ask("When did Putin give final approval to the treaty?", on_token=pieces.append)
    assert answer.outcome == "read" and [c.id for c in answer.citations] == ["S3"]
    assert "November 9" in "".join(pieces) and "".join(pieces).strip() in answer.answer


def test_a_poisoned_sentence_read_through_the_served_reader_is_quoted_never_obeyed(qwen_server, assistant, tmp_path):
    from ..test_injection_corpus import ABOUT_POISON, POISON

    from rag.settings import BUNDLED_CORPUS, Settings

    (tmp_path / "article.txt").write_text(BUNDLED_CORPUS.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "note.txt").write_text(POISON + "\n", encoding="utf-8")
    remote = Assistant(Settings(index_dir=tmp_path / "index", llm_url=qwen_server.url, min_confidence=0.0),
                       embedder=assistant.embedder)
    remote.index([tmp_path / "article.txt", tmp_path / "note.txt"])
    answer = remote.ask(ABOUT_POISON)
    assert answer.citations and answer.citations[0].text == POISON
    assert answer.outcome == "quote_instruction" and answer.answer.startswith("The article says:")
