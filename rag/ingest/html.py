"""HTML: the main content only, by trafilatura (a maintained extractor that drops navigation,
menus, cookie banners, comment forms and footers); headings name the sections."""

from __future__ import annotations

from pathlib import Path

from ..errors import CorpusError
from .document import Builder, Document
from .plain import decode


def read(path: Path, raw: bytes, digest: str) -> Document:
    import trafilatura
    from lxml import etree

    html = decode(raw, path)
    xml = trafilatura.extract(html, output_format="xml", include_comments=False, include_tables=True,
                              include_links=False, include_images=False)
    if not xml:
        raise CorpusError(f"{path}: no main text found in the page")
    root = etree.fromstring(xml.encode("utf-8"))
    main = root.find("main")
    builder = Builder()
    for element in (main if main is not None else root):
        if element.tag == "head":
            rend = element.get("rend") or "h2"
            builder.heading("".join(element.itertext()), int(rend[1:]) if rend[1:].isdigit() else 2)
        elif element.tag == "list":
            for item in element.iter("item"):
                builder.paragraph("".join(item.itertext()))
        elif element.tag == "table":
            for row in element.iter("row"):
                builder.paragraph(" | ".join("".join(cell.itertext()).strip() for cell in row.iter("cell")))
        else:
            builder.paragraph("".join(element.itertext()))
    metadata = trafilatura.extract_metadata(html)
    title = (metadata.title if metadata else None) or next((h.title for h in builder.headings), None)
    return builder.build(path, digest, title)
