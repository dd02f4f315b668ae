"""Text generation behind one method, `generate`; llama.cpp is the real backend.

The reader is one of the tiers rag knows by name (rag/generation/models.py: the default, or
--model / RAG_MODEL NAME); any other GGUF works by path.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol, Sequence

from ..errors import ModelError
from .constraints import CitationConstraint, SpanConstraint, TokenTable, word_edges
from .stream import Stream
from ..settings import Settings, cache_dir



@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float  # time to first token
    seconds: float
    # With several copy sources: per source, the probability mass of the tokens that could begin
    # a span of it at the first step, and which sources hold the text that was written.
    start_mass: list[float] | None = None
    start_total: float = 0.0  # the mass of every token that could begin a span of any source
    sources: list[int] | None = None


class Generator(Protocol):
    """Anything that turns a prompt into text. What it can do, it declares; the pipeline asks
    these instead of probing the object:
    `chat`: it wants the chat prompt template (an instruction-tuned model);
    `copy_spans`: `generate(copy_from=TEXT)` writes only a contiguous span of TEXT;
    `n_ctx` / `count_tokens`: its context size and token counts (None: unknown, nothing is fitted);
    `warm`: evaluate a fixed prompt prefix ahead of time (0.0 when it cannot);
    `query_likelihood`: a reranker from its prompt log-probabilities (None when it has none);
    `choose`: it reads as an instruction-tuned reader (rag/grounding/read.py): `generate(copy_from=
    [TEXT, ...], reply_prefix=...)` copies from any of several texts after a reply already begun
    (with `copy_spans`; without, it is only asked to, and the reader checks what it wrote) and
    reports each one's first-step probability mass;
    `model_sha256`: the GGUF's pinned hash when it is a known tier (its fitted confidence is looked
    up by it), else None."""

    name: str
    chat: bool
    copy_spans: bool
    choose: bool
    n_ctx: int | None
    model_sha256: str | None

    def generate(
        self,
        prompt: str,
        *,
        allowed_ids: Iterable[str] = (),
        copy_from: str | None = None,
        max_tokens: int = 48,
        stop: Iterable[str] = (),
        on_token: Callable[[str], None] | None = None,
        reply_prefix: str = "",
        settle: bool = False,  # copying several sources: stop once the words stand in one (a backend may copy on)
    ) -> Generation: ...

    def count_tokens(self, text: str) -> int | None: ...

    def warm(self, prefix: str) -> float: ...

    def query_likelihood(self, template: str, **options): ...


class BaseGenerator:
    """Defaults for a generator that declares no optional capability (fakes, simple backends)."""

    name = "generator"
    chat = False
    copy_spans = False
    choose = False
    n_ctx: int | None = None
    model_sha256: str | None = None

    def count_tokens(self, text: str) -> int | None:
        return None

    def warm(self, prefix: str) -> float:
        return 0.0

    def query_likelihood(self, template: str, **options):
        return None


def chat_opening(render: Callable[[str], str], prefix: str) -> str:
    """The chat prompt that `render` makes of any user turn starting with `prefix`, up to where
    the prefix ends (the template's opening, a system turn, and the turn's fixed start): what can
    be evaluated once for every question."""
    mark = "\x00rest"
    text = render(prefix + mark)
    return text[: text.index(mark)] if mark in text else ""


def rerank_states_dir() -> Path:
    """Where reranked sentences' KV states are kept between processes (rag/generation/query_likelihood.py)."""
    return cache_dir() / "rerank"


def check_gguf(path: Path) -> Path:
    path = path.expanduser()
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelError(f"model path is not a file: {path}")
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ModelError(f"{path} is not a GGUF model file")
    return path


_QUIET_LOG = None


class _KeepStreams:
    """llama-cpp-python's suppress_stdout_stderr, doing nothing (see _silence_llama_logs)."""

    def __init__(self, disable: bool = True):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False


def _drop_log_lines(callback_type):
    """A log callback that drops every line, in C where it can be.

    A model load logs ~1,400 lines. A Python callback takes the GIL for each, and while
    another thread runs Python (`rag ask` opens the index as the model loads) every one of
    them waits out the interpreter's 5 ms switch interval: the load measured 5.0 s instead of
    1.3 s. libc's getpid takes no arguments and touches no memory, so called with the
    callback's three (passed in registers, left unread) it is a no-op that never needs Python."""
    try:
        return ctypes.cast(ctypes.CDLL(None).getpid, callback_type)
    except (OSError, AttributeError, TypeError):  # no C library to open by name (Windows)
        return callback_type(lambda level, text, user_data: None)


def _silence_llama_logs() -> None:
    """Route llama.cpp's C-level log lines to nowhere (they bypass Python's stderr)."""
    global _QUIET_LOG
    import llama_cpp

    if _QUIET_LOG is None:
        _QUIET_LOG = _drop_log_lines(llama_cpp.llama_log_callback)
        llama_cpp.llama_log_set(_QUIET_LOG, ctypes.c_void_p(0))
        # Quiet, llama-cpp-python also points file descriptors 1 and 2 at /dev/null while a
        # model or context loads: process-wide, so whatever another thread printed meanwhile
        # (an error, the index's progress while the model loads in the background) was lost.
        # With the callback above nothing is left for it to hide.
        from llama_cpp import _internals, llama

        llama.suppress_stdout_stderr = _internals.suppress_stdout_stderr = _KeepStreams


_PARAMS_LOCK = threading.Lock()


@contextlib.contextmanager
def _model_params(**fields):
    """Llama() builds its llama_model_params from llama.cpp's defaults and passes on only some
    fields: the others are set by swapping the defaults while it loads (under a lock, as the
    model may load in a background thread)."""
    from llama_cpp import llama

    bindings = llama.llama_cpp
    original = bindings.llama_model_default_params

    def params():
        p = original()
        for name, value in fields.items():
            setattr(p, name, value)
        return p

    with _PARAMS_LOCK:
        bindings.llama_model_default_params = params
        try:
            yield
        finally:
            bindings.llama_model_default_params = original


class LlamaGenerator(BaseGenerator):
    def __init__(self, settings: Settings):
        self.settings = settings
        from . import models

        path = check_gguf(models.resolve(settings.model_path))
        self.path = path
        self.name = path.stem
        try:
            import llama_cpp
        except ImportError:
            raise ModelError("llama-cpp-python is not installed: run `make install`") from None
        if not settings.verbose:
            _silence_llama_logs()
        t0 = time.perf_counter()
        try:
            with _model_params(use_extra_bufts=settings.repack_weights):
                self.llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=settings.n_ctx,
                    n_threads=settings.n_threads,
                    n_threads_batch=settings.n_threads,
                    n_batch=settings.n_batch,
                    seed=settings.seed,
                    verbose=settings.verbose,
                )
        except Exception as exc:  # llama_cpp raises ValueError for unreadable/truncated files
            raise ModelError(f"could not load model {path}: {exc}; is the file complete?") from None
        self.load_s = time.perf_counter() - t0
        self.chat = bool(self.llm.metadata.get("tokenizer.chat_template"))
        self.copy_spans = True
        self.choose = self.chat
        known = models.tier_of(path)
        self.model_sha256 = (known.sha256 or None) if known else None
        self._chat_format = None
        self._table: TokenTable | None = None
        self._warm: list[int] = []  # the prefix warm() evaluated (tokens)
        self._counted: tuple[str | None, int] = (None, 0)

    @property
    def n_ctx(self) -> int:
        return self.llm.n_ctx()

    def warm(self, prefix: str) -> float:
        """Evaluate a prompt prefix now, so the next prompt that starts with it only pays for
        the rest (llama-cpp-python reuses the longest matching token prefix), or read its state
        back from an earlier process (rag/generation/prefix_cache.py). Returns seconds."""
        if not prefix:
            return 0.0
        t0 = time.perf_counter()
        if self.chat:  # the template's opening (a system turn) and the user turn's fixed start
            tokens = self._tokenize_chat(chat_opening(self._chat_text, prefix))
        else:
            tokens = self.llm.tokenize(prefix.encode("utf-8"), add_bos=True, special=False)
        # A tiny context, or a template that does not keep the turn's text as written: nothing to keep warm.
        if not tokens or len(tokens) >= self.n_ctx:
            return 0.0
        self._warm = tokens
        self._load_prefix(tokens)
        return time.perf_counter() - t0

    def _load_prefix(self, tokens: list[int]) -> None:
        from . import prefix_cache

        saved = prefix_cache.state_path(cache_dir() / "prefix", self.llm, self.n_ctx, tokens)
        if not prefix_cache.restore(self.llm, saved, tokens):
            self.llm.reset()
            self.llm.eval(tokens)
            prefix_cache.save(self.llm, saved, tokens)

    def _rewarm(self, tokens: list[int]) -> None:
        """Put the warm prefix back when `tokens` start with it but another prompt has taken its
        place in the KV cache: llama-cpp-python keeps one sequence, so a yes/no question (its
        own instructions) left the next question to prefill the reader's ~350 tokens of
        instructions again (5-7 s here, against ~20 ms to read its saved state)."""
        warm = self._warm
        if not warm or tokens[: len(warm)] != warm:
            return
        if self.llm.n_tokens >= len(warm) and (self.llm.input_ids[: len(warm)] == warm).all():
            return
        self._load_prefix(warm)

    def query_likelihood(self, template: str, **options):
        """Reranking by how probable the model finds the question after each sentence, in a
        llama.cpp context of its own (rag/generation/query_likelihood.py)."""
        from .query_likelihood import QueryLikelihood

        return QueryLikelihood(self.llm, template, saved_states=rerank_states_dir(), **options)

    def count_tokens(self, text: str) -> int:
        # The pipeline counts the final prompt to fit it; generate() asks again: remember one.
        if self._counted[0] != text:
            self._counted = (text, len(self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)))
        return self._counted[1]

    def token_table(self) -> TokenTable:
        if self._table is None:
            pieces = []
            for i in range(self.llm.n_vocab()):
                try:
                    pieces.append(self.llm.detokenize([i]).decode("utf-8"))
                except UnicodeDecodeError:
                    pieces.append("")
            self._table = TokenTable(pieces)
        return self._table

    def _detok(self, ids: list[int]) -> str:
        return self.llm.detokenize(ids).decode("utf-8", errors="ignore")

    def _span_constraint(self, texts: str | Sequence[str], settle: bool = False) -> SpanConstraint:
        # The span follows "Answer:", so its first word carries the space: tokenise it that way.
        many = not isinstance(texts, str)
        source = [self.llm.tokenize((" " + t).encode("utf-8"), add_bos=False, special=False)
                  for t in (texts if many else [texts])]
        edges = [word_edges([self._detok([t]) for t in tokens]) for tokens in source]
        source = source if many else source[0]
        end = {self.llm.token_eos()} | set(self.llm.tokenize(b"\n", add_bos=False, special=False)[-1:])
        if self.chat:  # a chat turn ends with its own token (Qwen's <|im_end|>), not always the EOS
            import llama_cpp

            end.add(llama_cpp.llama_vocab_eot(self.llm._model.vocab))
            end.discard(-1)
        return SpanConstraint(source, end, edges, settle)

    def _chat_tokens(self, prompt: str, reply_prefix: str = "") -> list[int]:
        """The prompt as one user turn in the GGUF's own chat template, the reply begun with
        `reply_prefix`, as tokens (so a later call that extends the reply reuses the KV cache)."""
        return self._tokenize_chat(self._chat_text(prompt) + reply_prefix)

    def _tokenize_chat(self, text: str) -> list[int]:
        bos = self._chat_format.bos_token
        # Templates that write the BOS themselves (gemma) would get a second one from the tokenizer.
        return self.llm.tokenize(text.encode("utf-8"), add_bos=not (bos and text.startswith(bos)), special=True)

    def _chat_text(self, prompt: str) -> str:
        if self._chat_format is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            def special(key: str) -> str:
                tid = self.llm.metadata.get(key)
                return "" if tid is None else self.llm.detokenize([int(tid)], special=True).decode("utf-8", "ignore")

            self._chat_format = Jinja2ChatFormatter(self.llm.metadata["tokenizer.chat_template"],
                                                    eos_token=special("tokenizer.ggml.eos_token_id"),
                                                    bos_token=special("tokenizer.ggml.bos_token_id"))
        return self._chat_format(messages=[{"role": "user", "content": prompt}]).prompt

    def generate(self, prompt, *, allowed_ids=(), copy_from=None, max_tokens=48, stop=(), on_token=None,
                 reply_prefix="", settle=False) -> Generation:
        import llama_cpp

        allowed_ids = list(allowed_ids)
        processors = copying = None
        if copy_from is not None:
            copying = self._span_constraint(copy_from, settle)
            processors = llama_cpp.LogitsProcessorList([copying])
        elif allowed_ids:
            tail = "" if self.chat else prompt[-16:]
            constraint = CitationConstraint(self.token_table(), allowed_ids, self._detok, tail)
            processors = llama_cpp.LogitsProcessorList([constraint])
        streamed = Stream(on_token)
        prompt_tokens = self.count_tokens(prompt)
        budget = max(1, min(max_tokens, self.n_ctx - prompt_tokens - 1))
        options = dict(max_tokens=budget, temperature=0.0, top_k=1, repeat_penalty=1.0,
                       stop=list(stop), logits_processor=processors, stream=True)
        if self.chat:  # instruction-tuned GGUFs: the prompt is one user turn in their template
            tokens = self._chat_tokens(prompt, reply_prefix)
            prompt_tokens = len(tokens)
            options["max_tokens"] = max(1, min(max_tokens, self.n_ctx - prompt_tokens - 1))
            self._rewarm(tokens)
            stream = self.llm.create_completion(tokens, **options)
        else:
            stream = self.llm.create_completion(prompt + reply_prefix, **options)
        for chunk in stream:
            streamed.add(chunk["choices"][0]["text"])
        text = streamed.text
        written = self.llm.tokenize(text.encode(), add_bos=False, special=False) if text else []
        generation = Generation(text, prompt_tokens, len(written), *streamed.times())
        if copying is not None and not isinstance(copy_from, str):
            generation.start_mass, generation.start_total = copying.start_mass, copying.start_total
            generation.sources = copying.containing(written)
        return generation
