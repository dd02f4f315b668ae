"""Span answers: locating and tidying spans, picking typed ones, and the real model copying a
short span of a sentence."""

import pytest

from rag.grounding import span
from rag.lang import en
from rag.lang.question import parse


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
    "text, sentence, found",
    [
        ("the theory", "The theory formalizes it.", (0, 10)),  # a model's change of case
        ("No", "North Korea denied it.", None),  # only at word edges
        ("no", "It said no more.", (8, 10)),
        ("Kim", "Kim Jong-un signed it.", (0, 3)),
        ("Jong", "Kim Jong-un signed it.", (4, 8)),  # a hyphen is an edge
        ("1962", "It opened in May 2015.", None),
    ],
)
def test_locate_a_phrase_written_unconstrained(text, sentence, found):
    assert span.locate(text, sentence, written=True) == found


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
    asked = parse(question, en)
    assert asked.kind == kind
    assert span.pick_typed(sentence, asked) == expected


def test_clause_punctuation_ties_words_to_their_own_phrase():
    sentence = ("The chambers approved the treaty in late October and early November, respectively, "
                "before Putin provided his final approval on November 9.")
    assert span.pick_typed(sentence, parse("When did Putin ratify the agreement?", en)) == "November 9"
    assert span.pick_typed(sentence, parse("When did the chambers approve the treaty?", en)) == \
        "late October and early November"
