"""One way to show an answer on a terminal (rag ask and rag chat alike), table-driven."""

import pytest

from rag.apps import render
from rag.types import Answer, Citation, Passage

CITED = Citation("S3", "Putin gave final approval on November 9.", "article.txt", 0, 41, 1.0, "model")
ATTACHED = Citation("S4", "It entered into force in December.", "report.pdf", 0, 34, 0.7, "attached", page=2,
                    section="Costs")
NEAR = [Passage(f"S{i}", f"Sentence {i}.", "article.txt", 0.1, 0.5, 1.0) for i in (7, 8, 9, 10)]


@pytest.mark.parametrize("answer, expected", [
    (Answer("q", "November 9 [S3].", False, [CITED], [], confidence=0.812),
     ["November 9 [S3].", "", "[S3] Putin gave final approval on November 9. (article.txt)", "Confidence 0.81"]),
    (Answer("q", "In December [S4].", False, [ATTACHED], [], confidence=0.5),
     ["In December [S4].", "", "[S4] It entered into force in December. (report.pdf p. 2 § Costs) "
      "(supporting sentence attached by rag)", "Confidence 0.50"]),
    # An abstention shows the closest three sentences it looked at, and why.
    (Answer("q", "The article does not say.", True, [], NEAR, reason="no sentence is close"),
     ["The article does not say.", "\nClosest sentences it looked at:", "[S7] Sentence 7. (article.txt)",
      "[S8] Sentence 8. (article.txt)", "[S9] Sentence 9. (article.txt)", "Why no answer: no sentence is close."]),
    (Answer("q", "The article does not say.", True, [], []), ["The article does not say."]),
])
def test_lines(answer, expected):
    assert render.lines(answer) == expected


@pytest.mark.parametrize("text, pieces", [
    ("November 9 [S3].", [("November 9 ", False), ("[S3]", True), (".", False)]),
    ("[S1][S12] both", [("[S1]", True), ("[S12]", True), (" both", False)]),
    ("no markers [S] or [s3]", [("no markers [S] or [s3]", False)]),
])
def test_marked(text, pieces):
    assert render.marked(text) == pieces


def test_details_show_the_standalone_question_only_when_rewritten():
    answer = Answer("When did he sign it?", "x", False, [], [], standalone="When did Putin sign the treaty?",
                    timings={"retrieve_s": 0.01}, features={"dense": 0.5})
    shown = "\n".join(render.details(answer))
    assert "standalone question: When did Putin sign the treaty?" in shown
    assert "retrieve_s=0.010" in shown and "dense=0.50" in shown
    answer.standalone = answer.question
    assert "standalone" not in "\n".join(render.details(answer))
