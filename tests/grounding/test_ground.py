"""The answer-shape rules a claim must pass besides semantic support (table-driven)."""

import pytest

from rag.grounding.ground import names_the_date, names_the_person
from rag.lang import en
from rag.lang.question import parse

PEOPLE = ["Putin", "Kim Jong-un", "Choe Son-hui"]


@pytest.mark.parametrize(
    "claim, sentence, question, expected",
    [
        ("North Korea affirmed it.", "Choe Son-hui affirmed Pyongyang's support.", "Who affirmed it?", False),
        ("Choe Son-hui affirmed it.", "Choe Son-hui affirmed Pyongyang's support.", "Who affirmed it?", True),
        ("The West did.", "Western countries raised concerns.", "Who raised concerns?", True),  # no person to name
        ("North Korea affirmed it.", "Choe Son-hui affirmed Pyongyang's support.", "When was it affirmed?", True),
        ("Kim Jong-un signed it.", "It was signed by Putin and Kim Jong-un.", "Who signed it?", True),
    ],
)
def test_names_the_person(claim, sentence, question, expected):
    assert names_the_person(claim, sentence, parse(question, en), PEOPLE) is expected


@pytest.mark.parametrize(
    "claim, expected",
    [("He gave final approval on November 9.", True), ("He approved it in late October.", False)],
)
def test_names_the_date(claim, expected):
    sentence = "The Duma approved the treaty in late October, before Putin provided his final approval on November 9."
    assert names_the_date(claim, sentence, parse("When did Putin give final approval?", en)) is expected
