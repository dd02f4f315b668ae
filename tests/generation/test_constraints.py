"""The llama.cpp logits processors on toy token ids: spans copied, citation ids made real."""

import numpy as np
import pytest

from rag.generation.constraints import CitationConstraint, SpanConstraint, TokenTable, word_edges

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
    assert SpanConstraint(SOURCE, END).allowed(generated) == allowed


def test_span_constraint_masks_logits_after_the_prompt():
    constraint = SpanConstraint(SOURCE, END)
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
    constraint = SpanConstraint(SOURCES, END)
    assert constraint.allowed(generated) == allowed
    assert constraint.containing(generated) == holders


@pytest.mark.parametrize(
    "generated, allowed",
    [
        ([], {10, 11, 12, 20, 13, 30}),  # the first step is free as before
        ([11], {12, 13, 99}),  # still in two sentences: the copy goes on
        ([10], {99}),  # only the first sentence holds it: the source is known, the copy ends
        ([20, 11], {99}),  # where it would otherwise go on to 13
    ],
)
def test_a_settling_span_ends_once_one_source_holds_it(generated, allowed):
    constraint = SpanConstraint(SOURCES, END, settle=True)
    assert constraint.allowed(generated) == allowed


def test_span_constraint_keeps_the_first_steps_mass_per_source():
    constraint = SpanConstraint(SOURCES, END)
    scores = np.full(100, -np.inf, dtype=np.float32)
    scores[[11, 30, 50]] = np.log([0.5, 0.25, 0.25])  # 50 is outside every source
    constraint(np.array([1, 2]), scores)
    assert constraint.start_mass == pytest.approx([0.5, 0.5, 0.25])
    assert constraint.start_total == pytest.approx(0.75)  # 11 counted once


PIECES = ["<s>", "The", " [", "[", "S", "1", "2", "3", "4", "9", "]", "].", "[\"", " answer", "."]


def _run(allowed, state_tokens):
    table = TokenTable(PIECES)
    detok = lambda ids: "".join(PIECES[i] for i in ids)
    constraint = CitationConstraint(table, allowed, detok)
    prompt = [0, 1]
    constraint(np.array(prompt), np.zeros(len(PIECES)))  # first call fixes the prompt length
    scores = constraint(np.array(prompt + state_tokens), np.zeros(len(PIECES)))
    return {PIECES[i] for i in np.flatnonzero(np.isfinite(scores))}


def test_constraint_outside_a_marker_only_bans_malformed_openers():
    allowed = _run(["S12"], [])
    assert '["' not in allowed and " [" in allowed and " answer" in allowed


@pytest.mark.parametrize(
    "state, expected",
    [
        ([2], {"S"}),  # after " [" only S
        ([2, 4], {"1", "3"}),  # S1… or S3…
        ([2, 4, 5], {"2"}),  # S1 must go on to S12
        ([2, 4, 5, 6], {"]"}),  # S12 complete: only the closing bracket
        ([2, 4, 7], {"]"}),
    ],
)
def test_constraint_inside_a_marker_allows_only_context_ids(state, expected):
    assert _run(["S12", "S3"], state) == expected


@pytest.mark.parametrize(
    "pieces, starts, ends",
    [
        ([" It", " is", " in", " PS", "PACE"], [1, 1, 1, 1, 0], [1, 1, 1, 0, 1]),  # no span inside "PSPACE"
        ([" co", "-", "NP", ","], [1, 1, 1, 1], [1, 1, 1, 1]),  # punctuation is an edge on both sides
        ([" T", "(", "n", ")", " ="], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1]),
        ([" caf", "é", " au", " lait"], [1, 0, 1, 1], [0, 1, 1, 1]),  # letters beyond ASCII join a word
        ([" 20", "24", " June"], [1, 0, 1], [0, 1, 1]),  # digits too
        ([" 北京", "大学"], [1, 1], [1, 1]),  # a script without spaces: every token is an edge
        ([" caf", "", "x"], [1, 1, 1], [1, 1, 1]),  # half a character (reads as empty): an edge
    ],
)
def test_word_edges(pieces, starts, ends):
    assert word_edges(pieces) == ([bool(s) for s in starts], [bool(e) for e in ends])


WORDS = [10, 11, 12, 13]  # " in", " PS", "PACE", " time"
WORD_EDGES = word_edges([" in", " PS", "PACE", " time"])


@pytest.mark.parametrize(
    "generated, allowed",
    [
        ([], {10, 11, 13}),  # "PACE" cannot begin a span
        ([11], {12}),  # nor can one end after "PS"
        ([11, 12], {13, 99}),
        ([10, 11], {12}),
        ([12], {99}),  # not a span that can happen: only stopping is left
    ],
)
def test_span_constraint_keeps_to_word_edges(generated, allowed):
    assert SpanConstraint(WORDS, END, [WORD_EDGES]).allowed(generated) == allowed


def test_first_step_mass_counts_only_tokens_that_begin_a_word():
    constraint = SpanConstraint([WORDS], END, [WORD_EDGES])
    scores = np.full(100, -np.inf, dtype=np.float32)
    scores[[11, 12]] = np.log([0.4, 0.6])  # "PACE" (12) is likelier, and cannot begin the answer
    constraint(np.array([1, 2]), scores)
    assert constraint.start_mass == pytest.approx([0.4]) and constraint.start_total == pytest.approx(0.4)
