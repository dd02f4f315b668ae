"""Documents → cleaned paragraphs → sentences with stable ids and character offsets."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from ..errors import CorpusError
from ..types import Chunk, Sentence
from . import FORMATS, SUFFIXES, Document

def paragraphs(text: str, lang: ModuleType, skip: list[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Spans of non-empty lines (paragraphs), the language's boilerplate and the `skip` spans
    (headings) removed."""
    spans = []
    for match in re.finditer(r"[^\n]+", text):
        start, end = match.span()
        stripped = match.group().strip()
        if not stripped or lang.BOILERPLATE.match(stripped) or any(a <= start < b for a, b in skip):
            continue
        # Trim whitespace so that spans hold exactly the paragraph's text.
        start += len(match.group()) - len(match.group().lstrip())
        end -= len(match.group()) - len(match.group().rstrip())
        spans.append((start, end))
    return spans


@lru_cache(maxsize=4)
def _segmenter(code: str):
    import pysbd  # a rule-based splitter that handles quotes and abbreviations

    return pysbd.Segmenter(language=code, clean=False, char_span=False)


def sentence_spans(text: str, start: int, end: int, lang: ModuleType) -> list[tuple[int, int]]:
    """Sentence spans inside text[start:end], located by search so offsets are exact."""
    spans = []
    cursor = start
    for piece in _segmenter(lang.SENTENCE_SPLITTER).segment(text[start:end]):
        piece = piece.strip()
        if not piece:
            continue
        found = text.find(piece, cursor, end)
        if found < 0:  # the splitter changed the text; fall back to the rest as one sentence
            spans.append((cursor, end))
            cursor = end
            break
        spans.append((found, found + len(piece)))
        cursor = found + len(piece)
    if cursor < end and text[cursor:end].strip():
        rest = text[cursor:end]
        spans.append((cursor + len(rest) - len(rest.lstrip()), end))
    return spans


def split_sentences(documents: list[Document], lang: ModuleType, first_id: int = 1) -> list[Sentence]:
    sentences: list[Sentence] = []
    n = first_id
    for doc in documents:
        headings = [(h.start, h.end) for h in doc.headings]
        for p, (ps, pe) in enumerate(paragraphs(doc.text, lang, headings)):
            for s, e in sentence_spans(doc.text, ps, pe, lang):
                sentences.append(Sentence(f"S{n}", doc.name, p, s, e, doc.text[s:e], doc.page_at(s), doc.section_at(s)))
                n += 1
    return sentences


def make_chunks(sentences: list[Sentence], size: int = 3, overlap: int = 1) -> list[Chunk]:
    """Windows of whole sentences that never cross a paragraph or document boundary."""
    step = max(1, size - overlap)
    chunks: list[Chunk] = []
    group: list[Sentence] = []

    def flush():
        for i in range(0, max(1, len(group) - overlap), step):
            window = group[i : i + size]
            if window:
                chunks.append(
                    Chunk(f"C{len(chunks) + 1}", tuple(s.id for s in window), " ".join(s.text for s in window))
                )

    for sent in sentences:
        if group and (sent.doc, sent.paragraph) != (group[0].doc, group[0].paragraph):
            flush()
            group = []
        group.append(sent)
    if group:
        flush()
    return chunks


def collect_paths(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Expand directories into their text files; return files and warnings for skipped ones."""
    files: list[Path] = []
    warnings: list[str] = []
    for path in paths:
        if not path.exists():
            raise CorpusError(f"document not found: {path}")
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in SUFFIXES:
                    files.append(child)
                elif not child.name.startswith("."):
                    warnings.append(f"skipped {child}: not a {FORMATS} file")
        else:
            files.append(path)
    return files, warnings
