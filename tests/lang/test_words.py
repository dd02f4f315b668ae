"""Language-neutral readings of text with the English module: kinds of phrases, names, stems."""

import pytest

from rag.lang import en
from rag.lang.question import parse
from rag.lang.words import has_type, mentions, names, stems

@pytest.mark.parametrize(
    "text, kind, question, ok",
    [
        ("Putin approved it on November 9.", "date", "When?", True),
        ("Putin approved it.", "date", "When?", False),
        ("It was signed during his June visit.", "day", "On what date?", False),
        ("It was signed on June 19.", "day", "On what date?", True),
        ("About 10,000 troops were sent.", "number", "How many troops were sent?", True),
        ("Troops may have been sent, according to 2 reports.", "number", "How many troops were sent?", False),
        ("It was signed by Kim Jong-un.", "name", "Who signed it?", True),
        ("it was signed by him.", "name", "Who signed it?", False),
        # Dates of every era, not only 1800-2099.
        ("The Normans invaded England in 1066.", "date", "When did the Normans invade?", True),
        ("The abbey was founded in 793 by monks.", "date", "When was the abbey founded?", True),
        ("The city was founded in 753 BC.", "date", "When was the city founded?", True),
        ("Writing spread in the 10th century across the region.", "date", "When did writing spread?", True),
        ("Writing spread in the tenth century.", "date", "When did writing spread?", True),
        ("The style was popular in the 1960s.", "date", "When was the style popular?", True),
        ("The style was popular with 300 artists.", "date", "When was the style popular?", False),
        # Names in any script, accents kept.
        ("The theorem is due to Ólafur Þórðarson.", "name", "Who proved the theorem?", True),
        ("It was proved by Zoë Müller-Lüdenscheidt.", "name", "Who proved it?", True),
    ],
)
def test_has_type(text, kind, question, ok):
    asked = parse(question, en)
    assert asked.kind == kind
    assert has_type(text, asked) is ok


@pytest.mark.parametrize(
    "text, found",
    [
        ("Who did she Marry?", ["Marry"]),  # a name to the shape check; the vocabulary decides
        ("List the reasons Putin gave.", ["Putin"]),
        ("What did Ólafur write?", ["Ólafur"]),
        ("According to Kim, it was fine.", ["Kim"]),
        ("When did the U.S. sign?", ["U.S"]),
    ],
)
def test_names_skip_sentence_initial_capitals(text, found):
    assert names(text, en) == found


def test_mentions_matches_whole_names_only():
    assert mentions("Putinism is not a person; Kim Jong-un is.", ["Putin", "Kim Jong-un"]) == ["Kim Jong-un"]


@pytest.mark.parametrize("text, expected", [
    ("The treaty was approved on November 9.", {"treati", "approv", "9", "novemb"}),
    ("Korea's Son-hui", {"korea", "s", "son", "hui"}),  # letters and digits only, as before
    ("José Martí", {"jose", "marti"}),  # folded: accents are not a second word
])
def test_stems(text, expected):
    assert stems(text, en) == expected
