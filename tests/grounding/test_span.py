"""Span answers: the copy constraint on toy token ids, locating and tidying spans, and the
real model copying a short span of a sentence."""

import numpy as np
import pytest

from rag.grounding import span
from rag.lang import en

SOURCE = [10, 11, 12, 11, 13]  # e.g. " the cat sat the mat" with 11 repeated
END = {99}


@pytest.mark.parametrize(
    "generated, allowed",
    [
        ([], {10, 11, 12, 13}),  # any token of the sentence may start the span
        ([11], {12, 13, 99}),  # both occurrences of 11 continue
        ([10, 11], {12, 99}),
        ([11, 13], {99}),  # the sentence's end: only stopping is left
        ([12, 10], {99}),  # not a span (cannot happen under the constraint): only stop
    ],
)
def test_span_constraint_allows_only_continuations(generated, allowed):
    assert span.SpanConstraint(SOURCE, END).allowed(generated) == allowed


def test_span_constraint_masks_logits_after_the_prompt():
    constraint = span.SpanConstraint(SOURCE, END)
    prompt = np.array([1, 2, 3])
    scores = np.zeros(100, dtype=np.float32)
    first = constraint(prompt, scores.copy())
    assert set(np.flatnonzero(np.isfinite(first))) == {10, 11, 12, 13}
    later = constraint(np.array([1, 2, 3, 10, 11]), scores.copy())
    assert set(np.flatnonzero(np.isfinite(later))) == {12, 99}


SOURCES = [[10, 11, 12], [20, 11, 13], [30]]  # two sentences sharing token 11, and "None"


@pytest.mark.parametrize(
    "generated, allowed, holders",
    [
        ([], {10, 11, 12, 20, 13, 30}, [0, 1, 2]),  # a span of any source may start
        ([11], {12, 13, 99}, [0, 1]),  # 11 continues in either sentence
        ([20, 11], {13, 99}, [1]),
        ([30], {99}, [2]),  # "None" is a source like the others, then only the end
        ([12, 20], {99}, []),  # across two sources is no span
    ],
)
def test_span_constraint_over_several_sources(generated, allowed, holders):
    constraint = span.SpanConstraint(SOURCES, END)
    assert constraint.allowed(generated) == allowed
    assert constraint.containing(generated) == holders


def test_span_constraint_keeps_the_first_steps_mass_per_source():
    constraint = span.SpanConstraint(SOURCES, END)
    scores = np.full(100, -np.inf, dtype=np.float32)
    scores[[11, 30, 50]] = np.log([0.5, 0.25, 0.25])  # 50 is outside every source
    constraint(np.array([1, 2]), scores)
    assert constraint.start_mass == pytest.approx([0.5, 0.5, 0.25])
    assert constraint.start_total == pytest.approx(0.75)  # 11 counted once


@pytest.mark.parametrize(
    "text, sentence, found",
    [
        ("November 9", "Putin gave final approval on November 9.", (29, 39)),
        ("the (new) rules", "They set the [new]  rules today.", (9, 25)),
        ("approval  on", "final approval on November 9", (6, 17)),
        ("October 9", "Putin gave final approval on November 9.", None),
        ("", "anything", None),
    ],
)
def test_locate(text, sentence, found):
    assert span.locate(text, sentence) == found


@pytest.mark.parametrize(
    "raw, tidy",
    [
        (" November 9.", "November 9"),
        ("the 10th century,", "the 10th century"),
        ("A catalyst", "A catalyst"),
        ("Russia and", "Russia"),
        ("“the agreement", "the agreement"),
        ("(in Pyongyang", "in Pyongyang"),
        ("Kim Jong-un", "Kim Jong-un"),
    ],
)
def test_tidy(raw, tidy):
    assert span.tidy(raw, en.SPAN_TRIM) == tidy


@pytest.mark.parametrize(
    "question, sentence",
    [
        ("What does the port mostly export?", "The port's revenue comes mostly from grain exports to Egypt."),
        ("Which chambers approved the law?", "The lower and upper chambers approved the law in late spring."),
        ("What did the committee reject?", "The committee rejected the proposal to widen the canal."),
    ],
)
def test_the_real_model_writes_only_a_span_of_the_sentence(assistant, question, sentence):
    gen = assistant.generator
    prompt = span.render(assistant.settings.prompts_dir, question, sentence)
    out = gen.generate(prompt, copy_from=sentence, max_tokens=24, stop=["\n"])
    text = span.tidy(out.text, en.SPAN_TRIM)
    assert text and span.locate(text, sentence) is not None
    assert len(text) < len(sentence)  # a phrase, not the sentence again


@pytest.mark.parametrize(
    "question, kind, sentence, expected",
    [
        # Several dates: the one whose neighbourhood holds the question's words.
        ("When did the mayor give final approval to the plan?", "date",
         "The council approved the plan in late May and early June, before the mayor gave final approval on July 2.",
         "July 2"),
        ("When did the council approve the plan?", "date",
         "The council approved the plan in late May and early June, before the mayor gave final approval on July 2.",
         "late May and early June"),
        ("When was the abbey founded?", "date", "Monks founded the abbey in 793 and rebuilt it in the 12th century.",
         "793"),
        ("When was the abbey rebuilt?", "date", "The abbey was rebuilt in the 12th century after a fire in 1066.",
         "12th century"),
        ("How many people attended the festival?", "number",
         "About 40,000 people attended the festival in 1999, twice as many as in 1990.", "40,000"),
        ("How long will the deal last?", "duration", "The deal will last for as long as necessary, the minister said.",
         "for as long as necessary"),
        # Names: titles and the question's own words trimmed; a phrase naming the topic is skipped.
        ("Who is Norway's foreign minister?", "name", "Norwegian Foreign Minister Åsa Lind spoke in Oslo.", "Åsa Lind"),
        ("Who signed the Oslo Accord?", "name", "The Oslo Accord was signed by Rabin and Arafat in 1993.",
         "Rabin and Arafat"),
        ("Who wrote the paper?", "name", "The paper was written by Juris Hartmanis and Richard Stearns.",
         "Juris Hartmanis and Richard Stearns"),
        ("Where did the minister sign it?", "place", "The minister signed it during a visit to Pyongyang.", "Pyongyang"),
        ("When did it open?", "date", "It opened without ceremony.", None),
    ],
)
def test_pick_typed(question, kind, sentence, expected):
    assert span.pick_typed(sentence, question, kind, en) == expected


def test_clause_punctuation_ties_words_to_their_own_phrase():
    sentence = ("The chambers approved the treaty in late October and early November, respectively, "
                "before Putin provided his final approval on November 9.")
    assert span.pick_typed(sentence, "When did Putin ratify the agreement?", "date", en) == "November 9"
    assert span.pick_typed(sentence, "When did the chambers approve the treaty?", "date", en) == \
        "late October and early November"
