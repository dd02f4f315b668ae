"""Citation markers: parsing what a model wrote, and making invalid ids impossible to write."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np

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


def split_claims(text: str, allowed: Iterable[str]) -> list[Claim]:
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
    for start, end in sentence_spans(text, 0, len(text)):
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


class TokenTable:
    """Per-model facts about the vocabulary that the citation constraint needs (built once)."""

    MARKER_CHARS = set("S0123456789]")

    def __init__(self, pieces: list[str]):
        self.pieces = pieces
        # Tokens that can continue a marker after "[": only S, digits and "]".
        self.marker_tokens = {i: p for i, p in enumerate(pieces) if p and set(p) <= self.MARKER_CHARS}
        # Tokens that open a bracket and go on with other text ("[\"", "[[", "[x"): banned, so a
        # marker can only start with a token ending in "[", which puts us in the constrained state.
        self.bad_open = np.array(
            [i for i, p in enumerate(pieces) if "[" in p and not (p.endswith("[") and p.count("[") == 1)],
            dtype=np.int64,
        )


class CitationConstraint:
    """A llama.cpp logits processor: after "[", only a context id followed by "]" can be sampled.

    It touches the logits only inside a marker (and to ban a few malformed openers), so it
    costs microseconds per token where a GBNF grammar over a 262k vocabulary tripled decode time.
    """

    def __init__(self, table: TokenTable, allowed_ids: Iterable[str], detokenize, prompt_tail: str = ""):
        self.table = table
        self.targets = [f"{sid}]" for sid in allowed_ids]
        self.detokenize = detokenize
        self.prompt_tail = prompt_tail
        self.n_prompt: int | None = None

    def _state(self, input_ids: np.ndarray) -> str | None:
        """Text written since an unclosed "[", or None when not inside a marker."""
        if self.n_prompt is None:
            self.n_prompt = len(input_ids)
        generated = self.detokenize(list(input_ids[self.n_prompt :]))
        text = self.prompt_tail + generated
        open_at = text.rfind("[")
        if open_at < 0 or "]" in text[open_at:]:
            return None
        return text[open_at + 1 :]

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        state = self._state(input_ids)
        if state is None:
            if len(self.table.bad_open):
                scores[self.table.bad_open] = -np.inf
            return scores
        allowed = [
            i for i, p in self.table.marker_tokens.items()
            if any(t.startswith(state + p) for t in self.targets)
        ]
        if not allowed:  # cannot happen for a valid state; fail closed by closing the bracket
            allowed = [i for i, p in self.table.marker_tokens.items() if p == "]"]
        masked = np.full_like(scores, -np.inf)
        masked[allowed] = scores[allowed]
        return masked
