"""Reranking candidate sentences by query likelihood: how probable the generator finds the
question after reading the sentence (mean log P(question | sentence), the UPR idea).

A base model cannot say which sentence answers a question, but it predicts a question's words
better after the sentence that answers it. Each sentence is its own sequence: new ones are
prefilled one per decode, then one decode runs the question after every candidate, with logits
only at the question's positions (not over all 262k vocabulary rows for every token, as
`logits_all` would).

Sentences recur from question to question, so each one's KV state stays in the context
(least recently used evicted first): a sentence seen before costs only the question's tokens.
Given a folder, the states also outlive the process (rag/generation/prefix_cache.py): a cold `rag ask`
reads a sentence an earlier process scored (~1 MB, milliseconds) instead of prefilling it.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from . import prefix_cache
from ..prompts import as_data

# Bounds per candidate: a run-on "sentence" or a 4000-character question must not blow the
# batch; the first tokens of either carry the signal.
MAX_SENTENCE_TOKENS = 256
MAX_QUESTION_TOKENS = 64
# Saved sentence states are ~18 KB per token (~1 MB a sentence): keep the newest 256 MB.
SAVED_STATES_BYTES = 256 << 20


def split_template(template: str) -> tuple[str, str]:
    """The rerank template's head (with {sentence}) and the space that starts the question.
    Sentencepiece vocabularies fold the space into the next word (" Question"): a space before
    {question} belongs to the question's first token, not to the head."""
    if "{sentence}" not in template or "{question}" not in template:
        raise ValueError("the rerank template needs {sentence} and {question}")
    head, tail = template.rstrip("\n").split("{question}", 1)
    if tail.strip():
        raise ValueError("the rerank template must end with {question}")
    return head.rstrip(" "), " " if head.endswith(" ") else ""


def log_probs(logits: np.ndarray, tokens: Sequence[int]) -> np.ndarray:
    """log softmax(row)[token] for each row: float32 in one reused buffer, 4x faster than a
    float64 copy per row (each row is 262k wide for gemma; 40 rows per question here)."""
    out = np.empty(len(tokens))
    buf = np.empty(logits.shape[1], dtype=np.float32)
    for i, (row, token) in enumerate(zip(logits, tokens)):
        top = row.max()
        np.subtract(row, top, out=buf)
        np.exp(buf, out=buf)
        out[i] = float(row[token] - top) - float(np.log(buf.sum(dtype=np.float64)))
    return out


class Reranker(Protocol):
    def score(self, question: str, sentences: Sequence[str]) -> list[float]:
        """One score per sentence, higher = more likely to answer the question."""
        ...


class QueryLikelihood:
    """Scores sentences with the generator's own weights in a context of its own, so the
    generator's warm KV cache (the few-shot prefix) is never disturbed."""

    def __init__(self, llm, template: str, *, n_threads: int, max_candidates: int = 8,
                 cache_sequences: int = 64, n_ctx: int = 4096, skip_words: frozenset[str] = frozenset(),
                 saved_states: Path | None = None):
        import llama_cpp
        from llama_cpp import _internals

        self.llm = llm
        self.head, self.space = split_template(template)
        self.max_candidates = max_candidates
        # Function words are predicted by grammar, not by the passage: scoring only the
        # question's other tokens is as informative and skips their 262k-wide logits rows.
        self.skip_words = skip_words
        per_call = max_candidates * (MAX_SENTENCE_TOKENS + 32 + MAX_QUESTION_TOKENS)
        self.n_ctx = max(n_ctx, per_call)
        sequences = max(cache_sequences, max_candidates)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = self.n_ctx
        params.n_batch = per_call  # one decode for all candidates
        # The compute buffer scales with ubatch x vocabulary (514 MiB at 512): 128 is as fast here.
        params.n_ubatch = min(128, per_call)
        params.n_seq_max = sequences
        # Cached sentences share one pool of cells, and every layer keeps them whole (the
        # sliding-window layers' default cache holds only ~window + batch cells in all).
        params.kv_unified = True
        params.swa_full = True
        params.n_threads = params.n_threads_batch = n_threads
        self.ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        self.batch = _internals.LlamaBatch(n_tokens=per_call, embd=0, n_seq_max=sequences, verbose=False)
        self.n_vocab = llm.n_vocab()
        self._cached: OrderedDict[str, tuple[int, int]] = OrderedDict()  # text -> (sequence, tokens kept)
        self._free = list(range(sequences))
        self._used = 0
        self.saved_states = saved_states
        self._pruned = False

    def _tokens(self, text: str, bos: bool) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=bos, special=False)

    def _given(self, sentence: str) -> list[int]:
        tokens = self._tokens(self.head.replace("{sentence}", as_data(sentence)), bos=True)
        if len(tokens) > MAX_SENTENCE_TOKENS + 32:
            words = as_data(sentence).split()
            while len(tokens) > MAX_SENTENCE_TOKENS + 32 and len(words) > 1:
                words = words[: len(words) * 3 // 4]
                tokens = self._tokens(self.head.replace("{sentence}", " ".join(words)), bos=True)
        return tokens

    def _evict(self, needed: int, sequences: int, keep: set[str]) -> None:
        """Drop least recently used sentences until `sequences` are free and `needed` cells fit."""
        for text in [t for t in self._cached if t not in keep]:
            if len(self._free) >= sequences and self._used + needed <= self.n_ctx:
                return
            seq, kept = self._cached.pop(text)
            self.ctx.kv_cache_seq_rm(seq, 0, -1)
            self._free.append(seq)
            self._used -= kept

    def _saved_path(self, tokens: list[int]) -> Path:
        return prefix_cache.state_path(self.saved_states, self.llm, "rerank", tokens)

    def _read_saved(self, seq: int, tokens: list[int]) -> bool:
        if self.saved_states is None:
            return False
        return prefix_cache.read(self.ctx.ctx, self._saved_path(tokens), seq, tokens)

    def _write_saved(self, seq: int, tokens: list[int]) -> None:
        if self.saved_states is None:
            return
        prefix_cache.write(self.ctx.ctx, self._saved_path(tokens), seq, tokens)
        if not self._pruned:  # once a process: a listing of the folder is not free
            self._pruned = True
            prefix_cache.prune(self.saved_states, SAVED_STATES_BYTES)

    def clear(self) -> None:
        self.ctx.kv_cache_clear()
        self._free = sorted(self._free + [seq for seq, _ in self._cached.values()])
        self._cached.clear()
        self._used = 0

    def score(self, question: str, sentences: Sequence[str]) -> list[float]:
        unique = list(dict.fromkeys(sentences))  # a repeated sentence scores the same
        if len(unique) > self.max_candidates:
            raise ValueError(f"at most {self.max_candidates} sentences per call")
        asked = self._tokens(self.space + as_data(question), bos=False)[:MAX_QUESTION_TOKENS]
        if not unique or not asked:
            return [0.0] * len(sentences)
        scored = self._content(asked)
        try:
            scores = self._score(asked, unique, scored)
        except RuntimeError:  # a failed decode leaves the cache in doubt: start again from empty
            self.clear()
            scores = self._score(asked, unique, scored)
        return [scores[s] for s in sentences]

    def _content(self, asked: list[int]) -> set[int]:
        """Positions of the question's tokens worth scoring (all when none would be left)."""
        if not self.skip_words:
            return set(range(len(asked)))
        keep = set()
        for j, token in enumerate(asked):
            piece = self.llm.detokenize([token]).decode("utf-8", errors="ignore").strip().lower()
            if any(c.isalnum() for c in piece) and piece not in self.skip_words:
                keep.add(j)
        return keep or set(range(len(asked)))

    def _score(self, asked: list[int], sentences: list[str], scored: set[int]) -> dict[str, float]:
        given = {s: self._given(s) for s in sentences}
        fresh = [s for s in sentences if s not in self._cached]
        needed = sum(len(given[s]) for s in fresh) + len(sentences) * (len(asked) + 1)
        self._evict(needed, len(fresh), keep=set(sentences))
        for s in fresh:
            # The head's last token is decoded with the question each time: its logits
            # predict the question's first token, and logits are not kept between calls.
            self._cached[s] = (self._free.pop(), len(given[s]) - 1)
            self._used += len(given[s]) - 1
        fresh = [s for s in fresh if not self._read_saved(self._cached[s][0], given[s][:-1])]
        if fresh:
            # Each sentence alone, and the question after in a decode of its own: a score is
            # then the same whether its sentences were just prefilled, kept from an earlier
            # question or read from disk. In shared batches scores moved with the batch's
            # make-up (up to 0.13 nats), so they depended on history.
            for s in fresh:
                self._decode([(self._cached[s][0], 0, given[s][:-1])])
            for s in fresh:
                self._write_saved(self._cached[s][0], given[s][:-1])
        parts, rows = [], []  # rows: (candidate, token it should predict), in batch order
        for k, s in enumerate(sentences):
            seq, kept = self._cached[s]
            self._cached.move_to_end(s)
            tokens = given[s][kept:] + asked  # the head's last token, then the question
            parts.append((seq, kept, tokens))
            rows += [(k, tokens[i + 1]) for i in range(len(tokens) - 1) if i in scored]
        logits = self._decode(parts, lambda i, tokens: i < len(tokens) - 1 and i in scored)
        picked = log_probs(logits, [token for _, token in rows])
        total = np.zeros(len(sentences))
        for (k, _), logp in zip(rows, picked):
            total[k] += logp
        for s in sentences:  # drop the question, keep the sentence for next time
            seq, kept = self._cached[s]
            self.ctx.kv_cache_seq_rm(seq, kept, -1)
        return {s: float(t / len(scored)) for s, t in zip(sentences, total)}

    def _decode(self, parts: list[tuple[int, int, list[int]]], wanted=None) -> np.ndarray:
        """One llama.cpp decode of (sequence, first position, tokens) parts; logits only where
        wanted(i, tokens) says, returned as rows in batch order (llama.cpp keeps them so)."""
        b = self.batch.batch
        n = rows = 0
        for seq, start, tokens in parts:
            for i, token in enumerate(tokens):
                b.token[n], b.pos[n], b.seq_id[n][0], b.n_seq_id[n] = token, start + i, seq, 1
                b.logits[n] = bool(wanted and wanted(i, tokens))
                rows += b.logits[n]
                n += 1
        b.n_tokens = n
        self.ctx.decode(self.batch)
        if not rows:
            return np.empty((0, self.n_vocab), dtype=np.float32)
        return np.ctypeslib.as_array(self.ctx.get_logits(), shape=(rows, self.n_vocab))
