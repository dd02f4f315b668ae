"""Real files in each format, made with the libraries people make them with (fpdf2, python-docx),
for the reader and end-to-end tests."""

from __future__ import annotations

from pathlib import Path

PDF_PAGES = [
    ["Harbour Bridge report", "",
     "The Harbour Bridge in Tarvik reopened to traffic on 3 March 2021 after two years of repairs. The city "
     "council ordered the work after inspectors found corroded cables in 2018."],
    ["Costs", "",
     "The repairs of the Harbour Bridge cost 45 million euros, according to the city council. Engineers replaced "
     "every steel cable and repainted the deck."],
]

HTML = """<!doctype html>
<html><head><title>Lantern Festival draws record crowds</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li></ul></nav>
<div class="cookie-banner"><p>We use cookies to improve your experience. Accept all cookies or manage settings.</p></div>
<main><article>
<h1>Lantern Festival draws record crowds</h1>
<p>The Lantern Festival in the town of Orsund drew about 12,000 visitors in September 2023, twice as many as in its first year.
The organisers said most visitors came from outside the region.</p>
<h2>Next year</h2>
<p>The festival will move to the old harbour in 2024 because the market square became too small for the crowds.</p>
</article></main>
<form class="comment-form"><h3>Leave a comment</h3><textarea name="c"></textarea><button>Post comment</button></form>
<footer><p>Copyright 2024 Orsund Daily. All rights reserved.</p><p><a href="/privacy">Privacy policy</a> | <a href="/contact">Contact the newsroom</a></p></footer>
</body></html>
"""

DOCX = [
    ("Title", "The Kestrel Observatory"),
    ("Heading 1", "History"),
    (None, "The Kestrel Observatory was founded by the astronomer Ingrid Vale in 1958 on a hill above Brenmark."),
    ("Heading 1", "Instruments"),
    (None, "Its main telescope has a mirror 2.4 metres wide and was installed in 1974."),
]


def make_pdf(path: Path, pages=PDF_PAGES) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for lines in pages:
        pdf.add_page()
        pdf.start_section(lines[0])  # a bookmark: what readers show as the table of contents
        for line in lines:
            pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    pdf.set_title("Harbour Bridge report")
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path) -> Path:
    """A PDF whose page is a picture only: no text layer, like a scan."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 50, style="F")
    pdf.output(str(path))
    return path


def make_html(path: Path) -> Path:
    path.write_text(HTML, encoding="utf-8")
    return path


def make_docx(path: Path, paragraphs=DOCX) -> Path:
    import docx

    document = docx.Document()
    for style, text in paragraphs:
        document.add_paragraph(text, style=style) if style else document.add_paragraph(text)
    document.save(str(path))
    return path
