"""Documents → cleaned paragraphs → sentences with stable ids and character offsets."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import CorpusError

TEXT_SUFFIXES = {".txt", ".md"}

# Whole paragraphs that are web-page furniture, not content. Matched case-insensitively
# against a stripped paragraph, so a sentence that merely mentions "reply" is kept.
BOILERPLATE = re.compile(
    r"^(leave a (reply|comment)|post a comment|share this( article| post)?:?|"
    r"related( posts| articles)?:?|click to share.*|subscribe( now)?|"
    r"like this:?|loading\.{0,3}|comments?|you may also like:?)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Sentence:
    id: str  # "S12": assigned by code, in corpus order, stable for the same text
    doc: str  # document name (file name)
    paragraph: int  # 0-based paragraph index within the document
    start: int  # character offsets into the document text: text == doc_text[start:end]
    end: int
    text: str


@dataclass(frozen=True)
class Chunk:
    id: str
    sentence_ids: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Document:
    name: str
    path: Path | None
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def read_document(path: Path) -> Document:
    """Read one text document, with one-line errors for the usual ways this fails."""
    if not path.exists():
        raise CorpusError(f"document not found: {path}")
    if path.is_dir():
        raise CorpusError(f"{path} is a directory; pass the files in it or use `rag index DIR`")
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise CorpusError(f"{path} looks binary, not text; only .txt and .md files can be indexed")
    # Undecodable bytes are replaced rather than fatal: one bad byte should not lose a document.
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    text = _strip_control(text)
    if not text.strip():
        raise CorpusError(f"{path} is empty")
    return Document(name=path.name, path=path, text=text)


def _strip_control(text: str) -> str:
    # Control characters (other than newline and tab) would corrupt prompts and terminals.
    # Replace with spaces so that character offsets stay aligned.
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", text)


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Spans of non-empty lines (paragraphs), boilerplate removed."""
    spans = []
    for match in re.finditer(r"[^\n]+", text):
        start, end = match.span()
        stripped = match.group().strip()
        if not stripped or BOILERPLATE.match(stripped):
            continue
        # Trim whitespace so that spans hold exactly the paragraph's text.
        start += len(match.group()) - len(match.group().lstrip())
        end -= len(match.group()) - len(match.group().rstrip())
        spans.append((start, end))
    return spans


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd  # a rule-based splitter that handles quotes and abbreviations

    return pysbd.Segmenter(language="en", clean=False, char_span=False)


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside text[start:end], located by search so offsets are exact."""
    spans = []
    cursor = start
    for piece in _segmenter().segment(text[start:end]):
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


def split_sentences(documents: list[Document], first_id: int = 1) -> list[Sentence]:
    sentences: list[Sentence] = []
    n = first_id
    for doc in documents:
        for p, (ps, pe) in enumerate(paragraphs(doc.text)):
            for s, e in sentence_spans(doc.text, ps, pe):
                sentences.append(Sentence(f"S{n}", doc.name, p, s, e, doc.text[s:e]))
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
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in TEXT_SUFFIXES:
                    files.append(child)
                else:
                    warnings.append(f"skipped {child}: not a .txt or .md file")
        else:
            files.append(path)
    return files, warnings


def corpus_hash(documents: list[Document]) -> str:
    h = hashlib.sha256()
    for doc in documents:
        h.update(doc.name.encode() + b"\0" + doc.sha256.encode() + b"\0")
    return h.hexdigest()
