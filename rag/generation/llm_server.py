"""llama.cpp's own HTTP server, run in-process from the `xllamacpp` wheel (no compiler needed):
the reference engine for `--llm-url`. `rag llm-server` starts it; tests and `rag bench` too.

    pip install xllamacpp && rag llm-server --port 8080 --parallel 4
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError


@dataclass
class Running:
    url: str  # the OpenAI-compatible base, ending in /v1
    server: object  # keeps the xllamacpp.Server (and so the HTTP threads) alive


def start(model: Path | None = None, *, host: str = "127.0.0.1", port: int = 0, parallel: int = 4,
          n_ctx: int = 2048, threads: int | None = None, verbose: bool = False, embedding: bool = False) -> Running:
    """Load the GGUF and listen. `n_ctx` is per slot (llama.cpp splits its context among slots).
    `embedding`: serve `/v1/embeddings` from an embedding model (its own pooling, vectors
    normalised) instead of completions."""
    try:
        import xllamacpp
    except ImportError:
        raise ModelError("llama.cpp's server comes from the xllamacpp wheel: run `pip install xllamacpp`") from None
    params = server_params(xllamacpp.CommonParams(), model, host=host, port=port, parallel=parallel, n_ctx=n_ctx,
                           threads=threads, verbose=verbose, embedding=embedding)
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:
        raise ModelError(f"llama.cpp's server could not start on {host}:{port}: {exc}") from None
    address = server.listening_address.rstrip("/")
    return Running(address + "/v1", server)


def server_params(params, model: Path | None, *, host: str, port: int, parallel: int, n_ctx: int,
                  threads: int | None, verbose: bool, embedding: bool):
    """Fill xllamacpp's CommonParams for start(), with what rag's settings say."""
    from ..settings import Settings
    from . import models
    from .generate import check_gguf

    settings = Settings()
    # No --model: RAG_MODEL, as for `rag ask`, before the default tier
    path = check_gguf(models.resolve(model if model is not None else settings.model_path))
    threads = threads or max(1, os.cpu_count() or 1)
    params.model.path = str(path)
    params.hostnames = [host]
    params.port = port
    params.n_parallel = parallel
    params.n_ctx = n_ctx * parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.endpoint_props = True  # how rag learns the context size and that grammars work
    params.cache_prompt = True
    params.warmup = False
    if embedding:
        params.embedding = True
        # An input is embedded in one pass: a whole slot's context fits in one physical batch.
        params.n_batch = params.n_ubatch = n_ctx
    # As in-process (Settings.repack_weights); models.md has the server's own measurements.
    params.no_extra_bufts = not settings.repack_weights
    if not verbose:
        params.verbosity = -1
    return params


def start_embedder(**options) -> Running:
    """llama.cpp's server embedding with the packaged MiniLM (written as GGUF into the cache once):
    the `--embed-url` a team's indexers share. `options` as for start(); a slot holds one text
    of up to 512 word pieces (rag cuts them at 256)."""
    from ..embedding.embed import embedder_path
    from ..embedding.gguf_export import cached
    from ..settings import cache_dir

    options.setdefault("n_ctx", 512)
    return start(cached(embedder_path(), cache_dir() / "models"), embedding=True, **options)
