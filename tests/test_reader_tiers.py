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
    qwen = Assistant(assistant.settings.with_(model_path=Path(TIER)), embedder=assistant.embedder,
                     retriever=assistant.retriever)
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


def test_the_chat_opening_is_evaluated_once_at_load(reader):
    """Qwen's template puts a system turn before the question's: that and the reading prompt's fixed
    start are evaluated at load, so a question prefills only its sentences and itself."""
    from rag import prompts
    from rag.generation.generate import chat_opening

    g = reader.generator
    prefix = prompts.fixed_prefix(reader.settings.prompts_dir, "read")
    opening = chat_opening(g._chat_text, prefix)
    assert opening.startswith("<|im_start|>system") and opening.endswith(prefix)
    assert g.warm(prefix) > 0 and g.llm.n_tokens == len(g._tokenize_chat(opening))


def test_the_opening_is_put_back_after_a_yes_no_question_took_its_place(reader, monkeypatch):
    """A yes/no question is read with instructions of its own, which take the KV cache: the next
    question reads the saved opening back (milliseconds) instead of prefilling it again, and
    answers as it did with the opening in place."""
    from rag import prompts
    from rag.generation import prefix_cache

    g = reader.generator
    g.warm(prompts.fixed_prefix(reader.settings.prompts_dir, "read"))  # as Assistant.load() does
    question = "When did Putin give final approval to the treaty?"
    before = reader.ask(question)
    yes_no = reader.ask("Is Russia a permanent member of the UN Security Council?")
    assert yes_no.outcome == "quote_yes_no" and yes_no.timings["completion_tokens"] > 0
    assert list(g.llm.input_ids[: len(g._warm)]) != g._warm  # the opening is gone
    restored = []
    real = prefix_cache.restore
    monkeypatch.setattr(prefix_cache, "restore", lambda llm, path, tokens: restored.append(tokens) or
                        real(llm, path, tokens))
    after = reader.ask(question)
    assert restored == [g._warm]
    assert (after.answer, after.outcome) == (before.answer, before.outcome)


@pytest.mark.parametrize("question", [
    "Is Russia a permanent member of the UN Security Council?",
    "Did North Korea confirm that it sent troops to Russia?",
])
def test_a_yes_no_reading_stops_copying_once_its_sentence_is_known(reader, monkeypatch, question):
    """The answer quotes the chosen sentence whole, so the copy ends once its words stand in one
    sentence only: the same answer and citation as copying on to the end, in fewer tokens."""
    from rag.grounding.read import Reader

    settled = reader.ask(question)
    real = Reader._copy
    monkeypatch.setattr(Reader, "_copy", lambda self, prompt, sources, reply, on_token, settle=False:
                        real(self, prompt, sources, reply, on_token))
    full = reader.ask(question)
    assert settled.outcome == full.outcome == "quote_yes_no"
    assert (settled.answer, [c.id for c in settled.citations]) == (full.answer, [c.id for c in full.citations])
    assert 0 < settled.timings["completion_tokens"] < full.timings["completion_tokens"]


def test_the_tier_is_recognised_through_a_link_so_its_fitted_confidence_applies(reader, tmp_path):
    link = tmp_path / "copy.gguf"
    link.symlink_to(models.tier(TIER).path())
    assert models.tier_of(link) == models.tier(TIER)


# Measured with this tier and its fitted confidence on the bundled set (`rag eval --model
# qwen2.5-coder-0.5b-instruct`, the four-example reading prompt: answered precision 0.742, citation
# precision 0.966, abstained on unanswerable 0.846, coverage 0.644); floors, not pins, a few
# questions below each.
READER_FLOORS = {
    "answered_precision": 0.742 - 0.05,
    "citation_precision": 0.966 - 0.05,
    "abstain_unanswerable": 0.846 - 0.16,  # 13 questions: one is 0.077
    "coverage": 0.644 - 0.08,  # 45 answerable: one is 0.022
}


@pytest.fixture(scope="module")
def reader_predictions(reader, bundled_questions):
    from rag.tools import evaluate

    return evaluate.run(reader, bundled_questions)


@pytest.mark.parametrize("metric, floor", READER_FLOORS.items())
def test_reader_quality_stays_above_its_floor(bundled_questions, reader_predictions, metric, floor):
    from rag.tools import evaluate

    value = evaluate.score(bundled_questions, reader_predictions)[metric]
    assert value >= floor, f"{metric} {value:.3f} fell below its floor {floor:.3f}"


def test_every_reader_answer_was_generated(reader_predictions):
    answered = [p for p in reader_predictions if p["outcome"] == "read"]
    assert answered and all(p["timings"]["completion_tokens"] > 0 for p in answered)
    assert not [p for p in reader_predictions if p["outcome"] in ("span_typed", "quote_unverified", "span")]
