"""Each reader on a real file made by the library people make such files with."""

from __future__ import annotations

import pytest

from rag import ingest
from rag.errors import CorpusError
from rag.ingest.corpus import split_sentences
from rag.ingest.pdf import reflow
from rag.lang import en
from tests.documents import make_docx, make_html, make_pdf, make_scanned_pdf


def sentences_of(path):
    return split_sentences([ingest.read(path)], en)


def test_pdf_keeps_pages_and_bookmarked_sections(tmp_path):
    found = sentences_of(make_pdf(tmp_path / "report.pdf"))
    cost = next(s for s in found if "45 million euros" in s.text)
    assert (cost.page, cost.section) == (2, "Costs")
    reopened = next(s for s in found if "reopened to traffic" in s.text)
    assert reopened.page == 1
    # A sentence wrapped over several lines of the page comes back whole.
    assert reopened.text.startswith("The Harbour Bridge in Tarvik") and reopened.text.endswith("years of repairs.")


def test_scanned_pdf_warns_by_name(tmp_path):
    document = ingest.read(make_scanned_pdf(tmp_path / "scan.pdf"))
    assert not document.text.strip()
    assert document.warnings and "scan.pdf" in document.warnings[0] and "no text layer" in document.warnings[0]


def test_html_keeps_the_article_and_drops_page_furniture(tmp_path):
    document = ingest.read(make_html(tmp_path / "festival.html"))
    for furniture in ("cookies", "Privacy policy", "Leave a comment", "Sport", "Copyright"):
        assert furniture not in document.text
    assert document.title == "Lantern Festival draws record crowds"
    move = next(s for s in split_sentences([document], en) if "old harbour" in s.text)
    assert move.section == "Next year"


def test_docx_headings_name_sections_and_are_not_sentences(tmp_path):
    found = sentences_of(make_docx(tmp_path / "observatory.docx"))
    assert [s.text for s in found if s.text in ("History", "Instruments")] == []
    founded = next(s for s in found if "Ingrid Vale" in s.text)
    assert founded.section == "History" and founded.page is None
    assert ingest.read(tmp_path / "observatory.docx").title == "The Kestrel Observatory"


def test_markdown_headings_but_not_hashes_in_code(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("# Field notes\n\nThe survey began in May.\n\n## Birds\n\nWe counted 40 terns.\n\n"
                    "```\n# not a heading\n```\n\nSetext title\n------------\n\nThe boat left at dawn.\n")
    found = sentences_of(path)
    by_text = {s.text: s.section for s in found}
    assert by_text["We counted 40 terns."] == "Birds"
    assert by_text["The boat left at dawn."] == "Setext title"
    assert "Field notes" not in by_text and "Birds" not in by_text
    assert ingest.read(path).title == "Field notes"


def test_plain_text_offsets_are_offsets_into_the_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("First line here.\n\nSecond paragraph. It has two sentences.\n")
    document = ingest.read(path)
    for s in split_sentences([document], en):
        assert path.read_text()[s.start:s.end] == s.text and s.page is None and s.section is None


@pytest.mark.parametrize("name, content, message", [
    ("a.pdf", b"not a pdf at all", "not a readable PDF"),
    ("a.docx", b"PK\x03\x04 broken", "not a readable .docx"),
    ("a.odt", b"whatever", "unsupported format"),
    ("a.txt", b"", "is empty"),
])
def test_unreadable_files_give_one_line_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        ingest.read(path)


@pytest.mark.parametrize("text, paragraphs", [
    # wrapped lines join; a short line ending a sentence ends the paragraph
    ("The first line of a long paragraph goes on\nand ends here.\nNext paragraph starts here and is long enough\nto wrap.",
     ["The first line of a long paragraph goes on and ends here.",
      "Next paragraph starts here and is long enough to wrap."]),
    # a short title line without final punctuation stands alone
    ("Introduction\nThis paragraph is long enough to set the width of the page text.",
     ["Introduction", "This paragraph is long enough to set the width of the page text."]),
    # a word hyphenated across lines is joined
    ("The engineers replaced the corroded steel ca-\nbles last year in a long job.",
     ["The engineers replaced the corroded steel ca-bles last year in a long job."]),
    ("", []),
])
def test_reflow(text, paragraphs):
    assert reflow(text) == paragraphs
