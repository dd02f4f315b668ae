"""Markdown: the file's text, its headings (ATX and setext, found by markdown-it-py, so a
`#` inside a code block is not one) naming the sections."""

from __future__ import annotations

from pathlib import Path

from .document import Document, Heading
from .plain import decode


def read(path: Path, raw: bytes, digest: str) -> Document:
    from markdown_it import MarkdownIt

    text = decode(raw, path)
    line_starts = [0]
    for line in text.split("\n"):
        line_starts.append(line_starts[-1] + len(line) + 1)
    tokens = MarkdownIt("commonmark").parse(text)
    headings = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            first, last = token.map
            start, end = line_starts[first], line_starts[last] - 1
            title = tokens[i + 1].content.strip()
            if title:
                headings.append(Heading(start, end, title, int(token.tag[1:])))
    title = next((h.title for h in headings if h.level == 1), None)
    return Document(path.name, path, text, title, tuple(headings), digest=digest)
