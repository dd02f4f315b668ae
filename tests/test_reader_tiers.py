"""The instruction-tuned reader tier end to end: the real Qwen2.5-Coder-0.5B-Instruct GGUF (installed
by name by `make test`), the real embedder and index. Every answer here goes through generation."""

from pathlib import Path

import pytest

from rag.generation import models
from rag.grounding import span
from rag.pipeline import Assistant

pytestmark = pytest.mark.slow
TIER = "qwen2.5-coder-0.5b-instruct"


@pytest.fixture(scope="module")
def reader(assistant):
    if not models.is_installed(models.tier(TIER)):
        pytest.fail(f"{TIER} is not installed: `make test` runs `rag models install {TIER}` first")
    qwen = Assistant(assistant.settings.with_(model_path=Path(TIER)), embedder=assistant.embedder)
    qwen._retriever = assistant.retriever
    return qwen


def test_the_tier_loads_by_name_as_a_chat_reader(reader):
    g = reader.generator
    assert g.chat and g.choose and g.path == models.tier(TIER).path()
    assert g.model_sha256 == models.tier(TIER).sha256


def test_the_sample_question_is_read_and_copied_from_its_sentence(reader):
    answer = reader.ask("When did Putin give final approval to the treaty?")
    assert answer.outcome == "read" and not answer.abstained
    assert answer.timings["completion_tokens"] > 0 and answer.model_output.strip()
    assert "November 9" in answer.answer and [c.id for c in answer.citations] == ["S3"]


@pytest.mark.parametrize("question", [
    "Which article of the United Nations Charter does the provision align with?",
    "Who is North Korea's Foreign Minister?",
    "What is the treaty's central provision?",
])
def test_answers_are_verbatim_phrases_of_the_sentence_they_cite(reader, question):
    answer = reader.ask(question)
    assert answer.outcome in ("read", "reader_none", "low_confidence"), answer.reason
    if answer.outcome == "read":
        (citation,) = answer.citations
        phrase = answer.answer.rsplit(" [", 1)[0]
        assert span.locate(phrase, citation.text) is not None
        assert len(phrase) < len(citation.text)  # a phrase, not the sentence quoted whole


def test_the_tier_is_recognised_through_a_link_so_its_fitted_confidence_applies(reader, tmp_path):
    link = tmp_path / "copy.gguf"
    link.symlink_to(models.tier(TIER).path())
    assert models.tier_of(link) == models.tier(TIER)
