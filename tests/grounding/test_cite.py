import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from rag.grounding.cite import CitationConstraint, TokenTable, extract, render, split_claims

ALLOWED = {"S3", "S4", "S12"}


@pytest.mark.parametrize(
    "text, clean, ids",
    [
        ("Putin approved it on November 9 [S3].", "Putin approved it on November 9.", ["S3"]),
        ("An invented id [S99].", "An invented id.", []),
        ("Two at once [S3,S4].", "Two at once.", ["S3", "S4"]),
        ("Lower case [s3].", "Lower case.", ["S3"]),
        ("Adjacent [S3][S4].", "Adjacent.", ["S3", "S4"]),
        ("Spaces [ S12 ] and semicolons [S3; S4].", "Spaces and semicolons.", ["S12", "S3", "S4"]),
        ("No markers at all.", "No markers at all.", []),
        ("A bare id S3 and junk [S] here.", "A bare id and junk here.", []),
        ("Repeated [S3] twice [S3].", "Repeated twice.", ["S3"]),
        ("Unclosed [S3", "Unclosed", []),
    ],
)
def test_extract_table(text, clean, ids):
    assert extract(text, ALLOWED) == (clean, ids)


def test_citation_first_markers_belong_to_the_claim_after_them():
    claims = split_claims("[S3] It was approved on November 9. [S4] Kim signed it.", ALLOWED)
    assert [(c.text, c.ids) for c in claims] == [
        ("It was approved on November 9.", ("S3",)),
        ("Kim signed it.", ("S4",)),
    ]


def test_trailing_marker_attaches_to_last_claim():
    claims = split_claims("It was approved. [S12]", ALLOWED)
    assert claims[-1].ids == ("S12",)


def test_render_puts_canonical_markers_before_the_full_stop():
    assert render([("It was approved on November 9.", ["S3", "S4"])]) == "It was approved on November 9 [S3][S4]."


@hsettings(max_examples=200, deadline=None)
@given(st.text(alphabet="S0123456789[], ;.abc\n", max_size=60))
def test_parser_never_raises_and_never_returns_foreign_ids(text):
    clean, ids = extract(text, ALLOWED)
    assert set(ids) <= ALLOWED
    for claim in split_claims(text, ALLOWED):
        assert set(claim.ids) <= ALLOWED


# A toy vocabulary: id -> text, as a model's detokenizer would give it.
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
