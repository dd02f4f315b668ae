"""A read document: its plain text, where its headings and pages are in that text."""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    start: int  # the heading's span in Document.text: it names a section, it is not a sentence
    end: int
    title: str
    level: int


@dataclass(frozen=True)
class Document:
    name: str
    path: Path | None
    text: str
    title: str | None = None
    headings: tuple[Heading, ...] = ()
    # Offset in `text` where each page starts (PDF); empty for formats without pages.
    pages: tuple[int, ...] = ()
    # Things the user should hear about (a scanned page without text), naming the file.
    warnings: tuple[str, ...] = ()
    # Hash of the file's bytes when read from disk (what an incremental index compares), else of the text.
    digest: str = field(default="")

    @property
    def sha256(self) -> str:
        return self.digest or hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def page_at(self, offset: int) -> int | None:
        """1-based page of a character offset, None for formats without pages."""
        if not self.pages:
            return None
        return max(1, bisect.bisect_right(self.pages, offset))

    @cached_property
    def _heading_starts(self) -> list[int]:
        return [h.start for h in self.headings]

    def section_at(self, offset: int) -> str | None:
        """Title of the nearest heading before the offset."""
        i = bisect.bisect_right(self._heading_starts, offset)
        return self.headings[i - 1].title if i else None


class Builder:
    """Assembles a Document's text from blocks (headings, paragraphs, page breaks), one
    paragraph a line, so the sentence splitter sees the same shape whatever the format."""

    def __init__(self):
        self.parts: list[str] = []
        self.length = 0
        self.headings: list[Heading] = []
        self.pages: list[int] = []

    def _add(self, text: str) -> tuple[int, int] | None:
        text = re.sub(r"\s+", " ", text).strip()
        if not text:
            return None
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        return start, self.length

    def paragraph(self, text: str) -> None:
        self._add(text)

    def heading(self, text: str, level: int = 1) -> None:
        span = self._add(text)
        if span:
            self.headings.append(Heading(span[0], span[1], self.text[span[0]:span[1]], level))

    def section(self, title: str, level: int = 1) -> None:
        """A section starts here without a heading line in the text (a PDF bookmark)."""
        title = re.sub(r"\s+", " ", title).strip()
        if title:
            at = self.length + (2 if self.parts else 0)
            self.headings.append(Heading(at, at, title, level))

    def page(self) -> None:
        """A new page starts here (the next block is on it)."""
        self.pages.append(self.length + (2 if self.parts else 0))

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def build(self, path: Path, digest: str, title: str | None = None, warnings: tuple[str, ...] = ()) -> Document:
        return Document(path.name, path, self.text, title or None, tuple(self.headings), tuple(self.pages),
                        warnings, digest)
