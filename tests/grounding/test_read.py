"""The instruction-tuned reader's logic on a scripted backend: which sentence a copied phrase
cites, "None" as an abstention, the first step's mass as features, and text that ignored the copy
constraint never shown. The real Qwen reader runs in tests/test_reader_tiers.py."""

import pytest

from rag.generation.generate import BaseGenerator, Generation
from rag.grounding.read import Reader
from rag.lang import en
from rag.lang.question import parse
from rag.settings import Settings
from rag.types import Passage

SHOWN = [
    Passage("S7", "Putin signed the treaty in Pyongyang.", "a.txt", 0.03, 0.7, 3.0),
    Passage("S2", "The parliament approved it on November 9.", "a.txt", 0.02, 0.6, 2.0),
    Passage("S9", "Putin also met Kim Jong-un.", "a.txt", 0.01, 0.5, 1.0),
]


class CopyingBackend(BaseGenerator):
    """Replies with a scripted text and reports, as llama.cpp's constraint would, which sources
    hold it and the first step's mass per source."""

    name = "copying"
    chat = copy_spans = choose = True

    def __init__(self, reply: str | list[str], mass: list[float], total: float, holders: list[int] | None = None):
        self.replies = [reply] if isinstance(reply, str) else list(reply)
        self.mass, self.total, self.holders = mass, total, holders
        self.calls: list[dict] = []

    def generate(self, prompt, *, allowed_ids=(), copy_from=None, max_tokens=48, stop=(), on_token=None,
                 reply_prefix="", settle=False):
        self.calls.append(dict(prompt=prompt, copy_from=copy_from, reply_prefix=reply_prefix, settle=settle))
        reply = self.replies.pop(0)
        if on_token:
            on_token(reply)
        gen = Generation(reply, 100, 3, 0.1, 0.2, start_mass=self.mass, start_total=self.total)
        gen.sources = self.holders
        return gen


def read(reply, holders, mass=(0.6, 0.1, 0.1, 0.2), total=1.0):
    backend = CopyingBackend(reply, list(mass), total, holders)
    return Reader(backend, Settings(), en).read(parse("When was it approved?", en), SHOWN), backend


@pytest.mark.parametrize(
    "reply, holders, chosen, text",
    [
        (" November 9", [1], "S2", "November 9"),  # cited: the sentence the phrase was copied from
        (" Putin", [0, 2], "S7", "Putin"),  # in two sentences: the better retrieved one
        (" Kim Jong-un", None, "S9", "Kim Jong-un"),  # no sources reported: found by its text
        (" Paris", None, None, ""),  # text of no sentence (a backend that ignored the constraint)
    ],
)
def test_the_phrase_cites_the_sentence_it_was_copied_from(reply, holders, chosen, text):
    reading, _ = read(reply, holders)
    assert (reading.chosen.id if reading.chosen else None) == chosen
    assert reading.span == text


def test_every_shown_sentence_and_none_are_the_copy_sources_after_the_reply_prefix():
    _, backend = read(" November 9", [1])
    call = backend.calls[0]
    assert call["copy_from"] == [p.text for p in SHOWN] + [en.READER_NONE]
    assert call["reply_prefix"] == en.READER_REPLY
    for i, p in enumerate(SHOWN, start=1):
        assert f"[{i}] {p.text}" in call["prompt"]
    assert "S7" not in call["prompt"]  # ids are assigned by code; the model never sees or writes one


def test_first_step_mass_becomes_the_readers_features():
    reading, _ = read(" November 9", [1], mass=(0.1, 0.5, 0.1, 0.2), total=0.8)
    assert reading.p_none == pytest.approx(0.25)
    assert reading.p_chosen == pytest.approx(0.625)


def test_sentences_that_do_not_fit_the_context_are_dropped_lowest_first():
    class Small(CopyingBackend):
        n_ctx = 200

        def count_tokens(self, text):  # 20 tokens per shown sentence (the template's examples are fixed)
            return 60 + 20 * sum(p.text in text for p in SHOWN)

    backend = Small(" Putin", [0], 1.0)
    reading = Reader(backend, Settings(max_span_tokens=32), en).read(parse("Who signed?", en), SHOWN)
    assert [p.id for p in reading.shown] == ["S7", "S2"]


def test_none_loses_to_the_mass_for_answering_spread_over_phrases():
    """Greedy decoding picked "None" (one token, 0.3) over phrases whose first tokens held 0.7 in
    all: the reader then copies a phrase, with "None" no longer a source, and streams no "None"."""
    streamed = []
    backend = CopyingBackend([" None", " November 9"], [0.4, 0.3, 0.1, 0.3], 1.0, [1])
    reading = Reader(backend, Settings(), en).read(parse("When was it approved?", en), SHOWN, streamed.append)
    assert reading.chosen.id == "S2" and reading.span == "November 9"
    assert backend.calls[1]["copy_from"] == [p.text for p in SHOWN]
    assert streamed == [" November 9"]


def test_none_that_holds_most_of_the_mass_is_an_abstention():
    backend = CopyingBackend([" None", " November 9"], [0.1, 0.1, 0.1, 0.6], 1.0, [3])
    reading = Reader(backend, Settings(), en).read(parse("When was it approved?", en), SHOWN)
    assert reading.chosen is None and len(backend.calls) == 1


def test_a_yes_no_question_offers_no_none_and_asks_for_the_sentence_that_tells():
    backend = CopyingBackend(" Putin signed the treaty in Pyongyang", [0.9, 0.0, 0.0], 0.9, [0])
    reading = Reader(backend, Settings(), en).read(parse("Did Putin sign it?", en), SHOWN)
    call = backend.calls[0]
    assert call["copy_from"] == [p.text for p in SHOWN]
    assert call["reply_prefix"] == en.READER_REPLY_YES_NO and "yes or no" in call["prompt"]
    assert reading.chosen.id == "S7" and reading.p_none == 0.0
