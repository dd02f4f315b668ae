"""What the documents mention: names and numbers a question uses that no document does."""

import pytest

from rag.gates.vocabulary import Vocabulary
from rag.lang import en
from rag.lang.question import parse

DOCUMENTS = [
    "Russian President Vladimir Putin met North Korean leader Kim Jong-un in Pyongyang, North Korea, in 2024.",
    "José Martí married Carmen Zayas-Bazán in 1877, and the couple moved to Guatemala.",
    "The 10th century saw 40,000 new settlers arrive.",
]


@pytest.mark.parametrize(
    "question, missing",
    [
        ("What is the capital of South Korea?", ["South", "capital"]),
        ("Which Chinese official commented?", ["Chinese"]),
        ("What did Putin say about North Korea?", []),
        ("Where did Putin meet Xi in 2019?", ["Xi", "2019"]),
        ("What happened in 2024?", []),
        ("How many of the 3000 troops returned?", ["3000"]),
        # Folded for accents and case: a user types "Jose" for "José".
        ("Whom did Jose Marti marry?", []),
        ("Whom did JOSÉ MARTÍ marry?", []),
        # Capitalised verbs and imperatives are not names; stems match ("Marry" / "married").
        ("Who did he Marry in 1877?", []),
        ("List two places where Jose Marti lived.", []),
        ("What arrived in the 10th century?", []),
        ("What arrived in the 12th century?", ["12th"]),
        ("How many settlers arrived, 40,000?", []),
        # One-letter typos in long names are forgiven; a different short name is not.
        ("Whom did Jose Mardi marry?", ["Mardi"]),
        ("When did Carmen Zayas-Bazan marry?", []),
        ("Where did Vladimit Putin meet Kim?", []),
        ("Where did Vladislav Putin meet Kim?", ["Vladislav"]),
        # What the question asks for, when the documents never use that word.
        ("What is the population of Guatemala?", ["population"]),
        ("How many votes did Marti get?", ["votes"]),
        ("How many settlers arrived?", []),
    ],
)
def test_missing_terms(question, missing):
    assert Vocabulary(DOCUMENTS, en).missing_terms(parse(question, en)) == missing


@pytest.mark.parametrize(
    "question, coverage, unknown",
    [
        ("Where was Kim Jong-un with Putin?", 1.0, []),
        ("What is the population of Pyongyang?", 0.5, ["population"]),
        ("Who is the defense minister of Guatemala?", 1 / 3, ["defense", "minister"]),
        ("What is it?", 1.0, []),
    ],
)
def test_coverage_and_unknown_words(question, coverage, unknown):
    vocabulary, asked = Vocabulary(DOCUMENTS, en), parse(question, en)
    assert vocabulary.coverage(asked) == pytest.approx(coverage)
    assert vocabulary.unknown_words(asked) == unknown
