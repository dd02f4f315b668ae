"""Reading documents: one reader per format, each returning a Document (plain text, headings,
pages) for the sentence splitter."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import CorpusError
from . import docx, html, markdown, pdf, plain
from .document import Builder, Document, Heading

READERS = {
    ".txt": plain.read,
    ".text": plain.read,
    ".md": markdown.read,
    ".markdown": markdown.read,
    ".html": html.read,
    ".htm": html.read,
    ".pdf": pdf.read,
    ".docx": docx.read,
}
SUFFIXES = frozenset(READERS)
FORMATS = ".txt, .md, .html, .pdf or .docx"

__all__ = ["Builder", "Document", "Heading", "READERS", "SUFFIXES", "read", "digest"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read(path: Path) -> Document:
    """Read one document, with one-line errors for the usual ways this fails."""
    if not path.exists():
        raise CorpusError(f"document not found: {path}")
    if path.is_dir():
        raise CorpusError(f"{path} is a directory; pass the files in it or use `rag index DIR`")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise CorpusError(f"{path}: unsupported format; rag reads {FORMATS} files")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror}") from None
    document = reader(path, raw, hashlib.sha256(raw).hexdigest())
    if not document.text.strip() and not document.warnings:
        raise CorpusError(f"{path} is empty")
    return document
