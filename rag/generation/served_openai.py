"""Generation on a plain OpenAI-compatible server (vLLM, SGLang, a hosted API), which offers none of
llama.cpp's extensions: no grammar, no token ids, no chat template to render.

A base model gets `/v1/completions`. A model the server takes a chat turn for is read as an
instruction-tuned reader (rag/grounding/read.py) through `/v1/chat/completions`: nothing
constrains what it writes, so its phrase is found in the shown sentences by text, and only the
sentence's own words are ever shown; the first step's `top_logprobs` (20 at most, OpenAI's cap and
vLLM's default) give the reader's judgement of answerability, read from token texts. A chat model
that gives no `logprobs` has no such judgement: it writes answers, verified claim by claim. Which
of the server's models is asked: `--llm-model`, or the only one it lists.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..errors import ModelError
from .generate import Generation
from .stream import Stream

if TYPE_CHECKING:
    from .served import ServedGenerator

TOP_LOGPROBS = 20
# The reply's label ("Answer:") is written by the model here, not given to it: room for it.
LABEL_TOKENS = 8


def probe_chat(gen: ServedGenerator) -> tuple[bool, bool]:
    """Whether the server takes a chat turn for its model, and whether it reports the likeliest
    tokens of each step. vLLM refuses a chat turn (HTTP 400) for a model without a chat template,
    a base model; a server that applies a stand-in template to any model makes it a reader here."""
    import httpx

    asked = {"logprobs": True, "top_logprobs": TOP_LOGPROBS}
    for extra in (asked, {}):  # some models refuse logprobs (HTTP 400) but take chat turns
        payload = _payload(gen, 1, messages=[{"role": "user", "content": "Reply with one word."}], **extra)
        try:
            response = gen.http.post(gen.url + "/chat/completions", json=payload)
        except httpx.HTTPError as exc:
            raise gen._fail(exc) from None
        if not (400 <= response.status_code < 500 and response.status_code not in (401, 403, 429)):
            choice = (gen._json(response).get("choices") or [{}])[0]
            steps = (choice.get("logprobs") or {}).get("content") or []
            return True, bool(extra and steps and steps[0].get("top_logprobs"))
    return False, False


def choose_model(gen: ServedGenerator, listed: list) -> str | None:
    """The model the requests name: the one asked for (`--llm-model`), which the server must list,
    or the only one it lists. Of several, rag does not guess: a hosted API lists dozens."""
    ids = [str(m.get("id")) for m in listed if isinstance(m, dict) and m.get("id")]
    shown = ", ".join(ids[:6]) + (", …" if len(ids) > 6 else "")
    if gen.model_id:
        if ids and gen.model_id not in ids:
            raise ModelError(f"the LLM server at {gen.shown_url} does not serve {gen.model_id!r}; it lists: {shown}")
        return gen.model_id
    if len(ids) > 1:
        raise ModelError(f"the LLM server at {gen.shown_url} serves {len(ids)} models ({shown}): "
                         "choose one with --llm-model / RAG_LLM_MODEL")
    return ids[0] if ids else None


def _payload(gen: ServedGenerator, max_tokens: int, **body) -> dict:
    """A request at temperature 0, naming the model the server listed (a hosted API requires it)."""
    payload = {"max_tokens": max_tokens, "temperature": 0.0, **body}
    if gen.model_id:
        payload["model"] = gen.model_id
    return payload


def complete(gen: ServedGenerator, prompt: str, max_tokens: int, stop, on_token) -> Generation:
    """/v1/completions, streamed, nothing constrained."""
    payload = _payload(gen, max_tokens, prompt=prompt, stop=list(stop), stream=True)
    streamed = Stream(on_token)
    for chunk in gen._events(gen.url + "/completions", payload):
        for choice in chunk.get("choices") or []:
            streamed.add(choice.get("text") or "")
    return Generation(streamed.text, 0, len(streamed.pieces), *streamed.times())


def chat(gen: ServedGenerator, prompt: str, *, copy_from=None, max_tokens: int, stop, on_token,
         reply_prefix: str = "") -> Generation:
    """The prompt as one user turn, streamed. The model writes the reply's label itself (a chat
    API cannot be handed a begun reply); it is taken off, and not streamed. With several copy
    sources (the reader), the first step after the label reports each one's probability mass."""
    texts = None if copy_from is None else [copy_from] if isinstance(copy_from, str) else list(copy_from)
    payload = _payload(gen, max_tokens + LABEL_TOKENS, messages=[{"role": "user", "content": prompt}],
                       stop=list(stop), stream=True)
    reading = texts is not None and len(texts) > 1 and gen.first_step_probs
    if reading:
        payload.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
    label = Label(reply_prefix, on_token)
    streamed = Stream(label.feed)
    steps: list[dict] = []
    for chunk in gen._events(gen.url + "/chat/completions", payload):
        for choice in chunk.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content") or ""
            steps += (choice.get("logprobs") or {}).get("content") or []
            if piece:  # the opening chunk names the role only: the first token is the first text
                streamed.add(piece)
    label.close()
    generation = Generation(label.answer, 0, len(steps), *streamed.times())
    if reading:
        top = first_step(steps, label.end)
        generation.start_mass, generation.start_total = start_mass(top, texts)
    return generation


class Label:
    """Takes the reply's label off a streamed reply: the longest of the reply prefix's parts that
    end in a colon ("Answer:", "Answer: The sentence that tells is:") that the reply begins with.
    Text is held back only while it could still be the label."""

    def __init__(self, prefix: str, on_token=None):
        self.labels = sorted({prefix[: i + 1] for i, c in enumerate(prefix) if c == ":"}, key=len, reverse=True)
        self.on_token = on_token
        self.text = ""
        self.end: int | None = None  # where the answer begins in the reply, once known
        self.streamed = False

    def feed(self, piece: str) -> None:
        self.text += piece
        if self.end is None:
            head = self.text.lstrip()
            if any(label.startswith(head) and label != head for label in self.labels):
                return  # still possibly the label
            self._decide()
            piece = self.text[self.end:]
        if not self.streamed:  # the answer starts at its first visible character
            piece = piece.lstrip()
        if piece and self.on_token:
            self.streamed = True
            self.on_token(piece)

    def _decide(self) -> None:
        lead = len(self.text) - len(self.text.lstrip())
        head = self.text[lead:]
        label = next((label for label in self.labels if head.startswith(label)), "")
        self.end = lead + len(label)

    def close(self) -> None:
        if self.end is None:
            self._decide()
            if self.on_token and self.answer:
                self.on_token(self.answer)

    @property
    def answer(self) -> str:
        return self.text[self.end or 0:].lstrip()


def first_step(steps: list[dict], answer_start: int | None) -> list[tuple[str, float]]:
    """The likeliest tokens (text, probability) of the answer's first step: the first token that
    writes a visible character past the label."""
    offset = 0
    for step in steps:
        token = str(step.get("token", ""))
        end = offset + len(token)
        if end > (answer_start or 0) and token[max(0, (answer_start or 0) - offset):].strip():
            return [(str(t.get("token", "")), math.exp(float(t["logprob"])))
                    for t in step.get("top_logprobs") or [] if "logprob" in t]
        offset = end
    return []


def start_mass(top: list[tuple[str, float]], texts: list[str]) -> tuple[list[float], float]:
    """Per text, the probability of the tokens that could begin a phrase of it at a word's start,
    and of those that could begin any: the in-process reader's start mass, judged from token
    texts over the likeliest tokens only."""
    starts = [_word_starts(t) for t in texts]
    mass = [0.0] * len(texts)
    total = 0.0
    for token, p in top:
        piece = token.strip()
        if not piece:
            continue
        hits = [k for k, (text, at) in enumerate(zip(texts, starts)) if any(text.startswith(piece, i) for i in at)]
        for k in hits:
            mass[k] += p
        total += p if hits else 0.0
    return mass, total


def _word_starts(text: str) -> list[int]:
    """Where a word begins: a visible character not joined to a letter or digit before it."""
    return [i for i, c in enumerate(text)
            if not c.isspace() and not (i and c.isalnum() and text[i - 1].isalnum())]
