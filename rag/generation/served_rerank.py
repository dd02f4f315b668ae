"""Query-likelihood reranking (rag/generation/query_likelihood.py) through llama.cpp's server.
Its `/v1/completions` gives no prompt log-probabilities, so the question is *generated* under a
grammar that allows only the question's own text, and the raw (pre-grammar) log-probability of
each forced token is read back: the same mean log P(question | sentence) as in-process."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Sequence

from ..prompts import as_data
from .gbnf import forced_grammar
from .query_likelihood import MAX_QUESTION_TOKENS, split_template

if TYPE_CHECKING:
    from .served import ServedGenerator

# A run-on sentence must not blow a rerank request; its first words carry the signal.
MAX_SENTENCE_CHARS = 1500


class ServedQueryLikelihood:
    """rag/generation/query_likelihood.py's QueryLikelihood through llama.cpp's server: one request per candidate
    sentence, sent together so the server decodes them in parallel slots."""

    def __init__(self, generator: ServedGenerator, template: str, *, max_candidates: int = 8,
                 skip_words: frozenset[str] = frozenset(), **_ignored):
        self.generator = generator
        self.head, self.space = split_template(template)
        self.max_candidates = max_candidates
        self.skip_words = skip_words
        self.pool = ThreadPoolExecutor(max_workers=max_candidates, thread_name_prefix="rag-rerank")

    def _token_logprobs(self, sentence: str, asked: list[int]) -> list[tuple[str, float]]:
        prompt = self.head.replace("{sentence}", as_data(sentence)[:MAX_SENTENCE_CHARS])
        data = self.generator._post("/completion", {
            "prompt": prompt, "grammar": forced_grammar(asked), "n_predict": len(asked),
            "temperature": 0.0, "top_k": 1, "n_probs": 1, "post_sampling_probs": False, "cache_prompt": True,
            # Greedy sampling then mostly proposes the forced token, so the grammar rarely has to
            # filter the whole vocabulary (~15 % faster); the log-probabilities read back are
            # the raw model's, before any sampler.
            "logit_bias": [[t, 30.0] for t in set(asked)],
        }, root=True)
        entries = (data.get("completion_probabilities") or [])[: len(asked)]
        return [(e.get("token", ""), float(e.get("logprob", 0.0))) for e in entries]

    def _score(self, tokens: list[tuple[str, float]]) -> float:
        kept = [lp for piece, lp in tokens if not self.skip_words
                or (any(c.isalnum() for c in piece) and piece.strip().lower() not in self.skip_words)]
        kept = kept or [lp for _, lp in tokens]
        return sum(kept) / len(kept) if kept else 0.0

    def score(self, question: str, sentences: Sequence[str]) -> list[float]:
        unique = list(dict.fromkeys(sentences))
        if len(unique) > self.max_candidates:
            raise ValueError(f"at most {self.max_candidates} sentences per call")
        asked = self.generator.tokenize(self.space + as_data(question))[:MAX_QUESTION_TOKENS]
        if not unique or not asked:
            return [0.0] * len(sentences)
        scores = dict(zip(unique, self.pool.map(lambda s: self._score(self._token_logprobs(s, asked)), unique)))
        return [scores[s] for s in sentences]
