import pytest
from hypothesis import given, settings as hsettings, strategies as st

from rag.grounding.cite import extract, render, split_claims
from rag.lang import en

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
    claims = split_claims("[S3] It was approved on November 9. [S4] Kim signed it.", ALLOWED, en)
    assert [(c.text, c.ids) for c in claims] == [
        ("It was approved on November 9.", ("S3",)),
        ("Kim signed it.", ("S4",)),
    ]


def test_trailing_marker_attaches_to_last_claim():
    claims = split_claims("It was approved. [S12]", ALLOWED, en)
    assert claims[-1].ids == ("S12",)


def test_render_puts_canonical_markers_before_the_full_stop():
    assert render([("It was approved on November 9.", ["S3", "S4"])]) == "It was approved on November 9 [S3][S4]."


@hsettings(max_examples=200, deadline=None)
@given(st.text(alphabet="S0123456789[], ;.abc\n", max_size=60))
def test_parser_never_raises_and_never_returns_foreign_ids(text):
    clean, ids = extract(text, ALLOWED)
    assert set(ids) <= ALLOWED
    for claim in split_claims(text, ALLOWED, en):
        assert set(claim.ids) <= ALLOWED


# A toy vocabulary: id -> text, as a model's detokenizer would give it.
