"""PDF: the text layer of each page, by pypdf (pure Python, maintained); lines are reflowed into
paragraphs so a sentence wrapped over two lines stays one sentence, and every sentence keeps its
page. A page without a text layer (a scan) is named in a warning."""

from __future__ import annotations

import io
from pathlib import Path

from ..errors import CorpusError
from .document import Builder, Document

ENDS_PARAGRAPH = tuple('.!?:"”')


def reflow(page_text: str) -> list[str]:
    """A page's lines as paragraphs: a line ends its paragraph when it is blank, or ends a
    sentence and stops well short of the page's full line width; a short line without final
    punctuation (a title, a heading) stands alone."""
    lines = [line.strip() for line in page_text.splitlines()]
    width = max((len(line) for line in lines), default=0)
    paragraphs, current = [], []
    for k, line in enumerate(lines):
        if not line:
            if current:
                paragraphs.append(current)
            current = []
            continue
        following = lines[k + 1] if k + 1 < len(lines) else ""
        if (not current and len(line) < 0.6 * width and not line.endswith(ENDS_PARAGRAPH + (",", ";", "-"))
                and following[:1].isupper()):
            paragraphs.append([line])
            continue
        if current and current[-1].endswith("-") and line[:1].islower():
            current[-1] = current[-1] + line  # a word hyphenated across lines
        else:
            current.append(line)
        if line.endswith(ENDS_PARAGRAPH) and len(line) < 0.8 * width:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return [" ".join(p) for p in paragraphs]


def read(path: Path, raw: bytes, digest: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise CorpusError(f"{path} is not a readable PDF ({exc})") from None
    builder = Builder()
    sections = _outline(reader)
    empty = []
    for number, text in enumerate(pages, 1):
        builder.page()
        for title in sections.get(number, []):
            builder.section(title)
        paragraphs = reflow(text)
        if not paragraphs:
            empty.append(number)
        for paragraph in paragraphs:
            builder.paragraph(paragraph)
    warnings = ()
    if empty:
        which = "every page" if len(empty) == len(pages) else f"page(s) {', '.join(map(str, empty))}"
        warnings = (f"{path.name}: no text layer on {which} (a scan?); run OCR on it (e.g. ocrmypdf) to index that text",)
    title = (reader.metadata.title if reader.metadata else None) or None
    return builder.build(path, digest, title, warnings)


def _outline(reader) -> dict[int, list[str]]:
    """The PDF's bookmarks (its table of contents) by 1-based page: they name the sections."""
    found: dict[int, list[str]] = {}

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
                continue
            try:
                page = reader.get_destination_page_number(item) + 1
            except Exception:  # a bookmark pointing nowhere names no page
                continue
            if getattr(item, "title", None):
                found.setdefault(page, []).append(str(item.title).strip())

    try:
        walk(reader.outline)
    except Exception:  # a damaged outline costs the sections, not the document
        return {}
    return found
