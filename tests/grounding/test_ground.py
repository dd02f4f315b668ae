"""The answer-shape rules a claim must pass besides semantic support (table-driven)."""

import pytest

from rag.grounding.ground import named_people, names_the_date, names_the_person

PEOPLE = ["Putin", "Kim Jong-un", "Choe Son-hui"]


@pytest.mark.parametrize(
    "claim, sentence, kind, expected",
    [
        ("North Korea affirmed it.", "Choe Son-hui affirmed Pyongyang's support.", "name", False),
        ("Choe Son-hui affirmed it.", "Choe Son-hui affirmed Pyongyang's support.", "name", True),
        ("The West did.", "Western countries raised concerns.", "name", True),  # no person to name
        ("North Korea affirmed it.", "Choe Son-hui affirmed Pyongyang's support.", "date", True),
        ("Kim Jong-un signed it.", "It was signed by Putin and Kim Jong-un.", "name", True),
    ],
)
def test_names_the_person(claim, sentence, kind, expected):
    assert names_the_person(claim, sentence, kind, PEOPLE) is expected


@pytest.mark.parametrize(
    "claim, expected",
    [("He gave final approval on November 9.", True), ("He approved it in late October.", False)],
)
def test_names_the_date(claim, expected):
    sentence = "The Duma approved the treaty in late October, before Putin provided his final approval on November 9."
    assert names_the_date(claim, sentence, "date", "When did Putin give final approval?") is expected


def test_named_people_matches_whole_names_only():
    assert named_people("Putinism is not a person; Kim Jong-un is.", PEOPLE) == ["Kim Jong-un"]
