"""Start loading the GGUF before the rest of rag is imported.

A cold `rag ask` spends ~0.6 s inside llama.cpp building gemma's 262k-token vocabulary (1.3 s
before patches/llama.cpp), in C with the GIL released. Begun in a thread as soon as the
command's settings are known, it overlaps importing the pipeline and loading the embedder and
index, which would otherwise come first; the assistant then takes the loaded generator instead
of loading its own.
"""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # imported when a load starts: concurrent.futures brings logging (11 ms of every command)
    from concurrent.futures import Future

_pending: dict[tuple, Future] = {}
_lock = threading.Lock()


@atexit.register
def _drop_untaken() -> None:
    """A model loaded for a command that then failed must be freed before interpreter teardown
    takes llama_cpp's module apart under its destructor ("Exception ignored in Llama.__del__")."""
    with _lock:
        futures = list(_pending.values())
        _pending.clear()
    if futures:
        from concurrent.futures import wait

        wait(futures, timeout=30)
        futures.clear()


def _key(settings) -> tuple:
    return (settings.model_path, settings.n_ctx, settings.n_threads, settings.n_batch, settings.seed,
            settings.verbose)


def start(settings) -> None:
    """Begin loading the in-process generator `settings` describe (nothing for --llm-url)."""
    if settings.llm_url:
        return
    from concurrent.futures import Future

    future: Future = Future()
    with _lock:
        if _key(settings) in _pending:
            return
        _pending[_key(settings)] = future

    imported = threading.Event()

    def load():
        try:
            try:
                import llama_cpp  # noqa: F401  (missing: LlamaGenerator says how to install it)

                from .generate import LlamaGenerator
            except ImportError:
                pass
            finally:
                imported.set()
            future.set_result(LlamaGenerator(settings))
        except BaseException as exc:  # handed to whoever takes it
            future.set_exception(exc)

    threading.Thread(target=load, name="rag-preload-model", daemon=True).start()
    # Imports hold the GIL: had the caller gone on importing the pipeline meanwhile, the two
    # would share it and llama.cpp's load would begin ~0.3 s later. The caller's own loading
    # finishes well before the model's, so it is the one that waits.
    imported.wait(timeout=5)


# Options that choose the model, or whether one loads in process: given any of them, only the
# parsed command line can say which model the command wants.
_MODEL_OPTIONS = ("--model", "--llm-url", "--verbose", "-v", "--help")


def speculate(argv: Sequence[str]) -> bool:
    """For `rag ask QUESTION` or `rag chat` without an option that picks the model, begin
    loading the model the environment names before Typer parses the command line (0.3 s: it
    builds a pydantic adapter per option). The parsed command's settings then find it under the
    same key; were they to differ, the command loads its own and this one is dropped unused.
    True when the command line was one to load for (start() itself skips an --llm-url setting)."""
    if not argv or argv[0] not in ("ask", "chat") or any(a.split("=", 1)[0] in _MODEL_OPTIONS for a in argv[1:]):
        return False
    from ..settings import Settings

    start(Settings())
    return True


def take(settings):
    """The generator start() began for these settings, once loaded; None if none was started."""
    with _lock:
        future = _pending.pop(_key(settings), None)
    return future.result() if future else None
