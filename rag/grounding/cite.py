"""Citation markers: parsing what a model wrote (rag/generation/constraints.py makes invalid ids
impossible to write)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType
from typing import Iterable

# Lenient on input ([s3], [S3, S4], [ S3 ]), strict on output: we re-render as [S3][S4].
MARKER = re.compile(r"\[\s*([sS]\d+(?:\s*[,;]\s*[sS]?\d+)*)\s*\]")
# Anything still looking like a marker or an id after parsing is noise the model made up.
STRAY = re.compile(r"\[[^\]\n]{0,12}\]?|\b[sS]\d+\b")


@dataclass(frozen=True)
class Claim:
    text: str  # the claim without markers
    ids: tuple[str, ...]  # valid, deduplicated, in the order written


def parse_ids(marker_body: str) -> list[str]:
    return ["S" + n for n in re.findall(r"\d+", marker_body)]


def extract(text: str, allowed: Iterable[str]) -> tuple[str, list[str]]:
    """Remove all markers from text; return the clean text and the allowed ids it cited."""
    allowed = set(allowed)
    ids: list[str] = []

    def keep(match: re.Match) -> str:
        for sid in parse_ids(match.group(1)):
            if sid in allowed and sid not in ids:
                ids.append(sid)
        return " "

    clean = MARKER.sub(keep, text)
    clean = STRAY.sub(" ", clean)
    clean = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s+", " ", clean)).strip()
    return clean, ids


def split_claims(text: str, allowed: Iterable[str], lang: ModuleType) -> list[Claim]:
    """One claim per sentence of the answer, each with the ids cited inside or right after it.

    Markers standing before a claim (the citation-first format "[S3] Putin ...") belong to it.
    """
    from ..ingest.corpus import sentence_spans

    allowed = set(allowed)
    text = text.strip()
    if not text:
        return []
    claims: list[Claim] = []
    pending: list[str] = []
    for start, end in sentence_spans(text, 0, len(text), lang):
        piece = text[start:end]
        clean, ids = extract(piece, allowed)
        if not re.search(r"\w", clean):  # a lone marker: carry it to the next claim
            pending += [i for i in ids if i not in pending]
            continue
        merged = tuple(dict.fromkeys(pending + ids))
        claims.append(Claim(clean, merged))
        pending = []
    if pending and claims:  # trailing markers after the last sentence belong to it
        last = claims[-1]
        claims[-1] = Claim(last.text, tuple(dict.fromkeys(list(last.ids) + pending)))
    return claims


def render(claims: list[tuple[str, list[str]]]) -> str:
    """Claims back to text with canonical markers at the end of each claim."""
    parts = []
    for text, ids in claims:
        body = text.rstrip()
        punct = ""
        if body and body[-1] in ".!?":
            body, punct = body[:-1], body[-1]
        markers = "".join(f"[{i}]" for i in ids)
        parts.append(f"{body} {markers}{punct or '.'}" if markers else f"{body}{punct or '.'}")
    return " ".join(parts)
