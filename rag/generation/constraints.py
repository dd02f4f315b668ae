"""llama.cpp logits processors: what the model may write next, so answers are faithful by
construction. `SpanConstraint`: only a contiguous span of the sentence's own tokens (an answer
cannot add a word, digit or name its sentence lacks); `CitationConstraint`: after "[", only a
real sentence id and "]". The served backend (served.py) writes the same rules as GBNF grammars."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


def _wordy(ch: str) -> bool:
    # Letters of scripts written without spaces (CJK, kana: U+2E80 on) each stand alone.
    return ch.isalnum() and ord(ch) < 0x2E80


def word_edges(pieces: Sequence[str]) -> tuple[list[bool], list[bool]]:
    """For each token of a text (its text piece): may a copied span begin at it, and end after it.
    A span never begins or ends inside a word: token by token, "PACE" could be copied out of "PSPACE"
    (" PS", "PACE"), which no reader takes for a word of the sentence. A guarantee rather than a
    measured gain: on the dev sets no answer did it. A piece that is not whole characters (a
    multi-byte letter split in two) reads as empty and counts as an edge."""
    n = len(pieces)
    starts = [i == 0 or not (pieces[i - 1] and pieces[i] and _wordy(pieces[i - 1][-1]) and _wordy(pieces[i][0]))
              for i in range(n)]
    ends = [i == n - 1 or starts[i + 1] for i in range(n)]
    return starts, ends


class SpanConstraint:
    """llama-cpp-python logits processor: the output must be a contiguous run of the tokens of
    one of `sources` (a token list, or several), then one of `end` (which stops generation).
    With `edges` (per source, word_edges' starts and ends), the run begins and ends on word edges.
    With `settle`, the run ends as soon as it stands in one source only: for a caller that needs
    which source, not the words (a sentence quoted whole once chosen).
    The first call sees only the prompt, so its length marks where the output starts; it also
    keeps, per source, the probability mass of the first tokens that can begin it (how much the
    model wanted to answer from that source before any constraint chose for it)."""

    def __init__(self, sources: Sequence[int] | Sequence[Sequence[int]], end: set[int],
                 edges: Sequence[tuple[Sequence[bool], Sequence[bool]]] | None = None, settle: bool = False):
        many = bool(sources) and not isinstance(sources[0], (int, np.integer))
        self.sources = [list(x) for x in sources] if many else [list(sources)]
        self.end = set(end)
        self.settle = settle
        everywhere = [([True] * len(src), [True] * len(src)) for src in self.sources]
        self.starts, self.ends = zip(*(edges or everywhere))
        # Per source, the tokens an answer may begin with.
        self.firsts = [{t for t, ok in zip(src, starts) if ok} for src, starts in zip(self.sources, self.starts)]
        self.n_prompt: int | None = None
        self.start_mass: list[float] | None = None
        self.start_total = 0.0

    @property
    def source(self) -> list[int]:
        return self.sources[0]

    def allowed(self, generated: Sequence[int]) -> set[int]:
        g = len(generated)
        if g == 0:
            return set().union(*self.firsts)
        nxt: set[int] = set()
        can_end = False
        generated = list(generated)
        holders = 0
        for src, starts, ends in zip(self.sources, self.starts, self.ends):
            held = False
            for i in range(len(src) - g + 1):
                if starts[i] and src[i:i + g] == generated:
                    held = True
                    can_end = can_end or ends[i + g - 1]
                    if i + g < len(src):
                        nxt.add(src[i + g])
            holders += held
        if self.settle and holders == 1:
            return set(self.end)
        # Not a run of any source (the constraint never lets one happen): only stopping is left.
        return nxt | self.end if can_end or not nxt else nxt

    def containing(self, generated: Sequence[int]) -> list[int]:
        """Indexes of the sources that hold `generated` as a contiguous run."""
        generated, g = list(generated), len(generated)
        return [k for k, (src, starts) in enumerate(zip(self.sources, self.starts))
                if any(starts[i] and src[i:i + g] == generated for i in range(len(src) - g + 1))]

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self.n_prompt is None:
            self.n_prompt = len(input_ids)
            z = scores.astype(np.float64)
            p = np.exp(z - z.max())
            p /= p.sum()
            self.start_mass = [float(p[np.fromiter(firsts, dtype=np.int64)].sum()) if firsts else 0.0
                               for firsts in self.firsts]
            self.start_total = float(p[np.fromiter(self.allowed([]), dtype=np.int64)].sum())
        allowed = self.allowed([int(t) for t in input_ids[self.n_prompt:]])
        mask = np.full_like(scores, -np.inf)
        idx = np.fromiter(allowed, dtype=np.int64)
        mask[idx] = scores[idx]
        return mask


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
