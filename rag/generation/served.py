"""Generation on an OpenAI-compatible inference server (`--llm-url`), with the project's own
prompts sent to `/v1/completions` (streamed, temperature 0, stop strings).

What the server can do is asked once, when the generator is made: llama.cpp's server answers
`/props` (its context size) and then also gets a GBNF `grammar` (answers copy a span of the
chosen sentence; citation markers name only shown ids), `/tokenize` (token counts that fit the
prompt to its context) and query-likelihood reranking. Its `/v1/completions` gives no prompt
log-probabilities, so the question is *generated* under a grammar that allows only the
question's own text, and the raw (pre-grammar) log-probability of each forced token is read
back: the same mean log P(question | sentence) as the in-process reranker (rag/generation/query_likelihood.py).
Any other server (vLLM, SGLang, a hosted API) gets plain completions; the pipeline then
phrases answers itself, verified claim by claim, and orders sentences without reranking.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Sequence

from ..errors import BackendUnavailable, ModelError
from ..http_json import json_reply
from ..prompts import as_data
from ..urls import safe_url
from .constraints import word_edges
from .generate import BaseGenerator, Generation
from .query_likelihood import MAX_QUESTION_TOKENS, split_template

# A run-on sentence must not blow a rerank request; its first words carry the signal.
MAX_SENTENCE_CHARS = 1500


def gbnf_literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


def span_grammar(token_ids: Sequence[int], edges: tuple[Sequence[bool], Sequence[bool]] | None = None) -> str:
    """A contiguous run of these tokens, then optionally a newline (which stops generation):
    rag/generation/constraints.py's SpanConstraint as a grammar, token for token, so both backends
    copy alike; with `edges` (word_edges' starts and ends) it begins and ends on word edges."""
    if not token_ids:
        raise ValueError("nothing to copy from")
    n = len(token_ids)
    starts, ends = edges or ([True] * n, [True] * n)
    rules = ["root ::= " + " | ".join(f"p{i}" for i in range(n) if starts[i])]
    for i, token in enumerate(token_ids):
        if i + 1 < n and not ends[i]:
            rules.append(f"p{i} ::= <[{int(token)}]> p{i + 1}")
            continue
        nxt = f"p{i + 1} | " if i + 1 < n else ""
        rules.append(f'p{i} ::= <[{int(token)}]> ({nxt}"\\n")?')
    return "\n".join(rules)


def citation_grammar(allowed_ids: Iterable[str]) -> str:
    """Free text in which every "[" opens a marker naming one of the allowed ids."""
    ids = " | ".join(gbnf_literal(i) for i in allowed_ids)
    return f'root ::= ([^\\[] | "[" id "]")*\nid ::= {ids}'


def forced_grammar(token_ids: Sequence[int]) -> str:
    """Exactly these tokens (llama.cpp's `<[id]>` syntax): a character grammar would let greedy
    decoding spell the question with other tokens (" " then "Who") and score that instead."""
    return "root ::= " + " ".join(f"<[{int(t)}]>" for t in token_ids)


class ServedGenerator(BaseGenerator):
    """The `Generator` interface over HTTP. Raises BackendUnavailable when the server does not
    answer (the CLI prints it on one line; `rag serve` answers 503 and retries next time)."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 120.0, connect_timeout: float = 5.0):
        import httpx

        self.url = url.rstrip("/")
        if not self.url.endswith("/v1"):
            self.url += "/v1"
        self.root = self.url[: -len("/v1")]
        self.shown_url = safe_url(self.url)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=connect_timeout))
        self.grammar = False
        self.n_ctx = None
        self.name = "served"
        self._counted: tuple[str | None, int | None] = (None, None)
        self._probe()
        self.copy_spans = self.grammar

    # -- HTTP -------------------------------------------------------------------------
    def _fail(self, exc: Exception) -> BackendUnavailable:
        reason = type(exc).__name__
        return BackendUnavailable(f"the LLM server at {self.shown_url} is not answering ({reason}); "
                                  "start it or check --llm-url")

    def _post(self, path: str, payload: dict, root: bool = False) -> dict:
        import httpx

        try:
            response = self.http.post((self.root if root else self.url) + path, json=payload)
        except httpx.HTTPError as exc:
            raise self._fail(exc) from None
        return self._json(response)

    def _json(self, response) -> dict:
        return json_reply(response, f"the LLM server at {self.shown_url}", "--llm-api-key / RAG_LLM_API_KEY")

    def _probe(self) -> None:
        """What this server is: llama.cpp's answers /props; anything else gets plain completions."""
        import httpx

        try:
            props = self.http.get(self.root + "/props")
        except httpx.HTTPError as exc:
            raise self._fail(exc) from None
        if props.status_code == 200:
            data = props.json()
            settings = data.get("default_generation_settings") or {}
            self.n_ctx = settings.get("n_ctx") or None
            self.grammar = True
            self.name = _stem(data.get("model_alias") or data.get("model_path") or "llama.cpp")
            return
        models = self.http.get(self.url + "/models")
        if models.status_code == 200:
            listed = models.json().get("data") or []
            if listed:
                self.name = _stem(str(listed[0].get("id", "served")))
        else:
            self._json(models)  # an auth failure or a dead server says so now

    # -- the Generator interface --------------------------------------------------------
    def count_tokens(self, text: str) -> int | None:
        if not self.grammar:
            return None
        counted = self._counted  # one read: another thread may replace it meanwhile
        if counted[0] != text:
            tokens = self._post("/tokenize", {"content": text, "add_special": True}, root=True).get("tokens")
            counted = (text, len(tokens) if isinstance(tokens, list) else None)
            self._counted = counted
        return counted[1]

    def tokenize(self, text: str) -> list[int]:
        tokens = self._post("/tokenize", {"content": text, "add_special": False}, root=True).get("tokens")
        return [int(t) for t in tokens] if isinstance(tokens, list) else []

    def word_tokens(self, text: str) -> tuple[list[int], tuple[list[bool], list[bool]] | None]:
        """`text`'s tokens and their word edges, from the pieces llama.cpp's /tokenize returns
        (None when the server gives none: spans may then begin at any token)."""
        tokens = self._post("/tokenize", {"content": text, "add_special": False, "with_pieces": True},
                            root=True).get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, dict) for t in tokens):
            return [int(t) for t in tokens or []], None
        # A piece that is not whole UTF-8 characters comes back as a list of bytes.
        pieces = [t.get("piece") if isinstance(t.get("piece"), str) else "" for t in tokens]
        return [int(t["id"]) for t in tokens], word_edges(pieces)

    def warm(self, prefix: str) -> float:
        """Have the server evaluate the fixed prompt prefix now (it keeps it in a slot's cache)."""
        if not prefix or not self.grammar:
            return 0.0
        t0 = time.perf_counter()
        self._post("/completion", {"prompt": prefix, "n_predict": 0, "cache_prompt": True}, root=True)
        return time.perf_counter() - t0

    def query_likelihood(self, template: str, **options):
        if not self.grammar:
            return None
        return ServedQueryLikelihood(self, template, **options)

    def generate(self, prompt, *, allowed_ids=(), copy_from=None, max_tokens=48, stop=(), on_token=None) -> Generation:
        import httpx

        payload: dict = {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0.0, "stop": list(stop),
                         "stream": True}
        if self.grammar:
            payload.update(top_k=1, cache_prompt=True)
            allowed_ids = list(allowed_ids)
            if copy_from is not None:
                # The span follows "Answer:", so its first word carries the space.
                payload["grammar"] = span_grammar(*self.word_tokens(" " + copy_from))
            elif allowed_ids:
                payload["grammar"] = citation_grammar(allowed_ids)
        prompt_tokens = self.count_tokens(prompt) or 0
        t0 = time.perf_counter()
        ttft = None
        pieces: list[str] = []
        completion_tokens = 0
        try:
            with self.http.stream("POST", self.url + "/completions", json=payload) as response:
                if response.status_code != 200:
                    response.read()
                    self._json(response)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    body = line[5:].strip()
                    if body == "[DONE]":
                        break
                    chunk = json.loads(body)
                    if "error" in chunk:
                        raise ModelError(f"the LLM server at {self.shown_url} failed mid-answer")
                    for choice in chunk.get("choices") or []:
                        piece = choice.get("text") or ""
                        if ttft is None:
                            ttft = time.perf_counter() - t0
                        if piece:
                            completion_tokens += 1
                            pieces.append(piece)
                            if on_token:
                                on_token(piece)
        except httpx.HTTPError as exc:
            raise self._fail(exc) from None
        seconds = time.perf_counter() - t0
        return Generation("".join(pieces), prompt_tokens, completion_tokens,
                          ttft if ttft is not None else seconds, seconds)

    def close(self) -> None:
        self.http.close()


def _stem(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base[:-5] if base.endswith(".gguf") else base


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


def make(settings, factory: Callable[[], BaseGenerator]) -> BaseGenerator:
    """The served generator when settings name a server, else the in-process one."""
    if settings.llm_url:
        return ServedGenerator(settings.llm_url, api_key=settings.llm_api_key)
    return factory()
