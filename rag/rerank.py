"""Reranking candidate sentences by query likelihood: how probable the generator finds the
question after reading the sentence (mean log P(question | sentence), the UPR idea).

A base model cannot say which sentence answers a question, but it predicts a question's words
better after the sentence that answers it. One llama.cpp decode scores every candidate: each
sentence is its own sequence in one batch, and logits are computed only at the question's
positions (not over all 262k vocabulary rows for every token, as `logits_all` would).
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np


class Reranker(Protocol):
    def score(self, question: str, sentences: Sequence[str]) -> list[float]:
        """One score per sentence, higher = more likely to answer the question."""
        ...


class QueryLikelihood:
    """Scores sentences with the generator's own weights in a context of its own, so the
    generator's warm KV cache (the few-shot prefix) is never disturbed."""

    def __init__(self, llm, template: str, *, n_threads: int, max_candidates: int = 8, n_ctx: int = 2048):
        import llama_cpp
        from llama_cpp import _internals

        if "{sentence}" not in template or "{question}" not in template:
            raise ValueError("the rerank template needs {sentence} and {question}")
        head, tail = template.rstrip("\n").split("{question}", 1)
        if tail.strip():
            raise ValueError("the rerank template must end with {question}")
        self.llm = llm
        # Sentencepiece vocabularies fold the space into the next word (" Question"): a
        # space before {question} belongs to the question's first token, not to the head.
        self.head = head.rstrip(" ")
        self.space = " " if head.endswith(" ") else ""
        self.max_candidates = max_candidates
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_ctx  # one decode for all candidates
        params.n_ubatch = min(512, n_ctx)
        params.n_seq_max = max_candidates
        params.n_threads = params.n_threads_batch = n_threads
        self.ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        self.batch = _internals.LlamaBatch(n_tokens=n_ctx, embd=0, n_seq_max=max_candidates, verbose=False)
        self.n_ctx = n_ctx
        self.n_vocab = llm.n_vocab()

    def _tokens(self, text: str, bos: bool) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=bos, special=False)

    def score(self, question: str, sentences: Sequence[str]) -> list[float]:
        from .prompts import as_data

        sentences = list(sentences)
        if len(sentences) > self.max_candidates:
            raise ValueError(f"at most {self.max_candidates} sentences per call")
        asked = self._tokens(self.space + as_data(question), bos=False)
        if not sentences or not asked:
            return [0.0] * len(sentences)
        rows: list[tuple[int, int, int]] = []  # (sequence, batch row, token it should predict)
        b = self.batch.batch
        n = 0
        for seq, sentence in enumerate(sentences):
            given = self._tokens(self.head.replace("{sentence}", as_data(sentence)), bos=True)
            tokens = given + asked
            if n + len(tokens) > self.n_ctx:
                raise ValueError("the candidates are too long to score together")
            for pos, token in enumerate(tokens):
                b.token[n] = token
                b.pos[n] = pos
                b.seq_id[n][0] = seq
                b.n_seq_id[n] = 1
                # The logits at position p predict token p + 1: keep only the question's.
                want = len(given) - 1 <= pos < len(tokens) - 1
                b.logits[n] = want
                if want:
                    rows.append((seq, n, tokens[pos + 1]))
                n += 1
        b.n_tokens = n
        self.ctx.kv_cache_clear()
        self.ctx.decode(self.batch)
        total = np.zeros(len(sentences))
        for seq, row, token in rows:
            logits = np.ctypeslib.as_array(self.ctx.get_logits_ith(row), shape=(self.n_vocab,))
            top = float(logits.max())
            log_z = top + float(np.log(np.exp(logits - top, dtype=np.float64).sum()))
            total[seq] += float(logits[token]) - log_z
        return [float(t / len(asked)) for t in total]
