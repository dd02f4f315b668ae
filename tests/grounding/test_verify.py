"""Which date a when-question asks about, when its sentence holds several."""

import pytest

from rag.grounding.verify import focus_date, names_date
from rag.lang import en
from rag.lang.question import parse

S3 = ("The Russian State Duma and Federation Council, the lower and upper chambers of Russia’s parliament, approved "
      "the treaty in late October and early November, respectively, before Putin provided his final approval on November 9.")
S17 = ("The sanctions against Russia, imposed due to its annexation of Crimea in 2014 and invasion of Ukraine in 2022, "
       "have targeted the Russian economy.")


@pytest.mark.parametrize("sentence, question, expected", [
    (S3, "When did Putin give final approval to the treaty?", "November 9"),
    (S3, "When did Putin ratify the agreement?", "November 9"),
    (S3, "When did the Duma approve the treaty?", None),  # two dates tie: no constraint
    (S17, "When did Russia annex Crimea?", "2014"),
    (S17, "In what year did Russia invade Ukraine?", "2022"),
    ("Putin visited Pyongyang in June.", "When did Putin visit?", None),  # one date
])
def test_focus_date(sentence, question, expected):
    assert focus_date(sentence, parse(question, en)) == expected


@pytest.mark.parametrize("claim, date, expected", [
    ("He approved it on November 9.", "November 9", True),
    ("In late October and early November.", "November 9", False),
    ("It happened in October.", "late October", True),
    ("In 2014.", "2022", False),
])
def test_names_date(claim, date, expected):
    assert names_date(claim, date, en) is expected


S5 = ("While Russia faces continued condemnation and punitive measures from Western countries over its war in Ukraine, "
      "North Korea similarly endures sanctions related to its nuclear program and ongoing human rights concerns.")


@pytest.mark.parametrize("claim, sentence, question, supported, missing", [
    ("Putin gave his final approval on November 9.", S3, "When did Putin give final approval to the treaty?", True, ()),
    ("It was approved on November 9, 2019.", S3, "When did Putin give final approval to the treaty?", False, ("2019",)),
    ("North Korea has been sanctioned for its nuclear and missile programs.", S5,
     "What has North Korea been sanctioned for?", False, ("missil",)),
    ("North Korea is sanctioned over its nuclear program.", S5, "What has North Korea been sanctioned for?", True, ()),
    ("Putin gave final approval to the treaty.", S3, "When did Putin give final approval to the treaty?", False, ()),
    ("Putin made it official on November 9.", S3, "When did Putin give final approval to the treaty?", False, ("offici",)),
])
def test_support(embedder, claim, sentence, question, supported, missing):
    from rag.grounding.verify import Verifier

    sup = Verifier(embedder).support(claim, sentence, parse(question, en))
    assert (sup.score >= 0.6) is supported and sup.missing == missing
