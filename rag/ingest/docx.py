"""Word (.docx): paragraphs in order, by python-docx; paragraphs styled Title or Heading N name
the sections."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import CorpusError
from .document import Builder, Document


def read(path: Path, raw: bytes, digest: str) -> Document:
    import io

    import docx

    try:
        document = docx.Document(io.BytesIO(raw))
    except Exception as exc:  # python-docx raises several types for a file that is not a .docx
        raise CorpusError(f"{path} is not a readable .docx file ({type(exc).__name__})") from None
    builder = Builder()
    title = document.core_properties.title or None
    for paragraph in document.paragraphs:
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = re.fullmatch(r"Heading (\d)", style)
        if style == "Title":
            title = title or paragraph.text.strip() or None
            builder.heading(paragraph.text, 1)
        elif level:
            builder.heading(paragraph.text, int(level.group(1)))
        else:
            builder.paragraph(paragraph.text)
    return builder.build(path, digest, title)
