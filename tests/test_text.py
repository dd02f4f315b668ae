import pytest

from rag.text import fold, words


@pytest.mark.parametrize(
    "text, folded",
    [
        ("José Martí", "jose marti"),
        ("Vardø", "vardo"),
        ("Þórðarson", "thordarson"),
        ("Straße", "strasse"),
        ("Łódź", "lodz"),
        ("KIM’S", "kim's"),
        ("Ångström", "angstrom"),
    ],
)
def test_fold(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize(
    "text, found",
    [
        ("Kim Jong-un met Putin.", ["Kim", "Jong-un", "met", "Putin"]),
        ("the U.S. and Россия", ["the", "U.S", "and", "Россия"]),
        ("40,000 people in 1066", ["40", "000", "people", "in", "1066"]),
        ("Russia’s ally", ["Russia’s", "ally"]),
    ],
)
def test_words(text, found):
    assert [m.group() for m in words(text)] == found
