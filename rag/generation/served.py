"""Generation on an OpenAI-compatible inference server (`--llm-url`), with the project's own
prompts, streamed at temperature 0.

What the server can do is asked once, when the generator is made. llama.cpp's server answers
`/props` (its context size and model) and then gets its native `/completion` with a GBNF
`grammar` (gbnf.py: answers copy a span of the chosen sentence; citation markers name only shown
ids), `/tokenize` (token counts that fit the prompt to its context, word edges) and
query-likelihood reranking (served_rerank.py). A model with a chat template of its own is read
as an instruction-tuned reader (rag/grounding/read.py), as in-process: the prompt in the
server's rendering of that template, the copy grammar over every shown sentence and "None",
and the first step's probabilities (`n_probs`) for the reader's judgement of answerability.
Any other server (vLLM, SGLang, a hosted API) gets the plain OpenAI API (served_openai.py): a
model it takes a chat turn for reads as the reader, unconstrained; a base model gets completions,
and the pipeline phrases answers itself, verified claim by claim. Neither is reranked.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable, Iterator

from ..errors import BackendUnavailable, ModelError
from ..http_json import json_reply
from ..urls import safe_url
from . import models, served_openai
from .constraints import SpanConstraint, word_edges
from .gbnf import citation_grammar, copy_grammar
from .generate import BaseGenerator, Generation, chat_opening
from .stream import Stream

# The reader's first step: how many of the likeliest tokens the server reports. Its judgement
# (how much it wanted each sentence, or "None") is summed over them; the tail past 64 is
# what the in-process reader counts and this one misses.
FIRST_STEP_PROBS = 64


class ServedGenerator(BaseGenerator):
    """The `Generator` interface over HTTP. Raises BackendUnavailable when the server does not
    answer (the CLI prints it on one line; `rag serve` answers 503 and retries next time)."""

    def __init__(self, url: str, *, api_key: str | None = None, model: str | None = None, timeout: float = 120.0,
                 connect_timeout: float = 5.0, transport=None):
        import httpx

        self.url = url.rstrip("/")
        if not self.url.endswith("/v1"):
            self.url += "/v1"
        self.root = self.url[: -len("/v1")]
        self.shown_url = safe_url(self.url)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=connect_timeout),
                                 transport=transport)
        self.grammar = False
        self.n_ctx = None
        self.name = "served"
        self.model_id = model  # which of a plain OpenAI server's models (its requests name it)
        self.first_step_probs = False  # a plain server reports each step's likeliest tokens
        self._counted: tuple[str | None, int | None] = (None, None)
        self._templated: tuple[str | None, str] = (None, "")
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
            self.chat = self.choose = self._own_chat_template()
            # A tier rag installed, served from its cache: its fitted confidence applies.
            known = models.tier_of(Path(data["model_path"])) if data.get("model_path") else None
            self.model_sha256 = (known.sha256 or None) if known else None
            return
        listing = self.http.get(self.url + "/models")
        if listing.status_code == 200:
            self.model_id = served_openai.choose_model(self, listing.json().get("data") or [])
            self.name = _stem(self.model_id or "served")
        else:
            self._json(listing)  # an auth failure or a dead server says so now
        self.chat, self.first_step_probs = served_openai.probe_chat(self)
        # The reader's judgement is its first step's probabilities: without them, no reader.
        self.choose = self.chat and self.first_step_probs

    def _own_chat_template(self) -> bool:
        """Whether the model has a chat template of its own (an instruction-tuned reader).
        llama.cpp's server falls back to ChatML for a GGUF without one (gemma-3-270m base), so
        /props always shows a template; a template the model was trained with writes its turns
        in special tokens of the model's vocabulary, which the fallback's markers are not in
        gemma's: they tokenize shorter with special tokens parsed than spelled out."""
        try:
            text = self._post("/apply-template", {"messages": [{"role": "user", "content": "x"}]},
                              root=True).get("prompt")
            if not isinstance(text, str) or not text:
                return False
            parsed, spelled = (self._post("/tokenize", {"content": text, "parse_special": special}, root=True)
                               .get("tokens") for special in (True, False))
        except ModelError:  # an older server without /apply-template
            return False
        return isinstance(parsed, list) and isinstance(spelled, list) and len(parsed) < len(spelled)

    def _chat_text(self, prompt: str) -> str:
        """The prompt as one user turn in the model's chat template, the reply begun (the
        server's own rendering, so any template works)."""
        if self._templated[0] != prompt:
            text = self._post("/apply-template", {"messages": [{"role": "user", "content": prompt}]},
                              root=True).get("prompt")
            if not isinstance(text, str):
                raise ModelError(f"the LLM server at {self.shown_url} returned no chat prompt")
            self._templated = (prompt, text)
        return self._templated[1]

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
        if self.chat:  # the template's opening (a system turn) and the user turn's fixed start
            prefix = chat_opening(self._chat_text, prefix)
            if not prefix:
                return 0.0
        self._post("/completion", {"prompt": prefix, "n_predict": 0, "cache_prompt": True}, root=True)
        return time.perf_counter() - t0

    def query_likelihood(self, template: str, **options):
        if not self.grammar:
            return None
        from .served_rerank import ServedQueryLikelihood

        return ServedQueryLikelihood(self, template, **options)

    def generate(self, prompt, *, allowed_ids=(), copy_from=None, max_tokens=48, stop=(), on_token=None,
                 reply_prefix="", settle=False) -> Generation:
        # `settle` is not passed on: a grammar cannot see which sources still hold the words, so
        # the copy runs to its end (the same source, later).
        if self.chat and not self.grammar:
            return served_openai.chat(self, prompt, copy_from=copy_from, max_tokens=max_tokens, stop=stop,
                                      on_token=on_token, reply_prefix=reply_prefix)
        if not self.grammar:
            return served_openai.complete(self, prompt + reply_prefix, max_tokens, stop, on_token)
        payload: dict = {"n_predict": max_tokens, "temperature": 0.0, "top_k": 1, "stop": list(stop),
                         "stream": True, "cache_prompt": True}
        reading = None  # the reader (several sources): which tokens begin a phrase of each
        if copy_from is not None:
            texts = [copy_from] if isinstance(copy_from, str) else list(copy_from)
            # The span follows "Answer:", so its first word carries the space.
            words = [self.word_tokens(" " + t) for t in texts]
            payload["grammar"] = copy_grammar(words)
            if not isinstance(copy_from, str):
                edges = None if any(e is None for _, e in words) else [e for _, e in words]
                reading = SpanConstraint([ids for ids, _ in words], set(), edges)
                payload["n_probs"] = FIRST_STEP_PROBS
        elif allowed_ids:
            payload["grammar"] = citation_grammar(list(allowed_ids))
        payload["prompt"] = (self._chat_text(prompt) if self.chat else prompt) + reply_prefix
        text, written, first, prompt_tokens, ttft, seconds = self._native(payload, on_token)
        generation = Generation(text, prompt_tokens, len(written), ttft, seconds)
        if reading is not None:
            # The raw model's probabilities (before the grammar) of its likeliest first tokens:
            # the in-process reader's start mass, less the tail beyond them.
            p = {int(e["id"]): math.exp(float(e["logprob"])) for e in first if "id" in e and "logprob" in e}
            generation.start_mass = [sum(p.get(t, 0.0) for t in firsts) for firsts in reading.firsts]
            generation.start_total = sum(p.get(t, 0.0) for t in set().union(*reading.firsts))
            while written and not reading.containing(written):  # the turn's end token, a stop newline
                written.pop()
            generation.sources = reading.containing(written) if written else []
        return generation

    def _events(self, url: str, payload: dict) -> Iterator[dict]:
        """The server-sent events of a streamed request, parsed; a refused request, a dead server
        or an error mid-stream raises rag's one-line errors."""
        import httpx

        try:
            with self.http.stream("POST", url, json=payload) as response:
                if response.status_code != 200:
                    response.read()
                    self._json(response)
                for line in response.iter_lines():
                    body = line[5:].strip() if line.startswith("data:") else ""
                    if body == "[DONE]":
                        return
                    if not body:
                        continue
                    chunk = json.loads(body)
                    if "error" in chunk:
                        raise ModelError(f"the LLM server at {self.shown_url} failed mid-answer")
                    yield chunk
                    if chunk.get("stop"):
                        # llama.cpp's last event. Leaving now closes the response unread, as the
                        # loop always did; reading on to the end instead made the next request on
                        # the pooled connection fail once in CI (RemoteProtocolError).
                        return
        except httpx.HTTPError as exc:
            raise self._fail(exc) from None

    def _native(self, payload: dict, on_token) -> tuple[str, list[int], list[dict], int, float, float]:
        """llama.cpp's own /completion, streamed: the text, the token ids written, the first
        step's top probabilities, the prompt's token count, time to first token and in all."""
        streamed = Stream(on_token)
        written: list[int] = []
        first: list[dict] = []
        prompt_tokens = 0
        for chunk in self._events(self.root + "/completion", payload):
            prompt_tokens = int(chunk.get("tokens_evaluated") or prompt_tokens)
            probs = chunk.get("completion_probabilities") or []
            if probs and not written and not first:
                first = probs[0].get("top_logprobs") or []
            written += [int(t) for t in chunk.get("tokens") or []]
            streamed.add(chunk.get("content") or "")
        return streamed.text, written, first, prompt_tokens, *streamed.times()

    def close(self) -> None:
        self.http.close()


def _stem(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base[:-5] if base.endswith(".gguf") else base


def make(settings, factory: Callable[[], BaseGenerator]) -> BaseGenerator:
    """The served generator when settings name a server, else the in-process one."""
    if settings.llm_url:
        return ServedGenerator(settings.llm_url, api_key=settings.llm_api_key, model=settings.llm_model)
    return factory()
