"""Plain text: the file as it is (offsets are offsets into the file)."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import CorpusError
from .document import Document


def decode(raw: bytes, path: Path) -> str:
    if b"\x00" in raw[:8192]:
        raise CorpusError(f"{path} looks binary, not text")
    # Undecodable bytes are replaced rather than fatal: one bad byte should not lose a document.
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    # Control characters (other than newline and tab) would corrupt prompts and terminals;
    # spaces keep the character offsets aligned.
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", text)


def read(path: Path, raw: bytes, digest: str) -> Document:
    return Document(path.name, path, decode(raw, path), digest=digest)
