"""Follow-up rewriting: table-driven, on names taken from the real article."""

import pytest

from rag.ingest import read as read_document
from rag.ingest.corpus import split_sentences
from rag.lang import en
from rag.lang.words import titled_people
from rag.retrieval.followup import standalone
from rag.settings import BUNDLED_CORPUS

NAMES = titled_people((s.text for s in split_sentences([read_document(BUNDLED_CORPUS)], en)), en)
SIGNED = ("Who signed the agreement?", "It was signed by Putin and North Korean leader Kim Jong-un [S2].")


def test_people_come_from_titles_in_the_article():
    assert NAMES["Putin"] == "Vladimir Putin"
    assert NAMES["Kim"] == "Kim Jong-un"
    assert NAMES["Choe"] == "Choe Son-hui"
    assert "North" not in NAMES and "Russia" not in NAMES


@pytest.mark.parametrize("history, question, expected", [
    ([], "When did he ratify it?", "When did he ratify it?"),  # nothing to resolve against
    ([SIGNED], "When did he ratify it?", "When did Putin ratify the agreement?"),
    ([SIGNED], "Where did he go?", "Where did Putin go?"),
    ([SIGNED], "What does its defense clause say?", "What does the agreement’s defense clause say?"),
    ([SIGNED], "It says what?", "The agreement says what?"),
    ([SIGNED], "And the treaty?", "Who signed the treaty?"),
    ([SIGNED], "What is the mutual defense clause?", "What is the mutual defense clause?"),  # already standalone
    ([("What did the North Korean Foreign Minister say?", "Choe Son-hui affirmed support [S22].")],
     "What did she claim?", "What did Choe Son-hui claim?"),
    ([("What did Putin say about the cooperation?", "That it is not public [S27].")],
     "What about Kim?", "What did Kim say about the cooperation?"),
    # "it" resolves through an earlier rewrite: turn 2's "it" already meant the agreement.
    ([SIGNED, ("When did he ratify it?", "On November 9 [S3].")], "Why did he sign it?",
     "Why did Putin sign the agreement?"),
    ([("Is the sky blue?", "The article does not say.")], "Who is he?", "Who is he?"),  # no one to refer to
])
def test_standalone(history, question, expected):
    assert standalone(question, history, NAMES, en) == expected
