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
          n_ctx: int = 2048, threads: int | None = None, verbose: bool = False) -> Running:
    """Load the GGUF and listen. `n_ctx` is per slot (llama.cpp splits its context among slots)."""
    from . import models
    from .generate import check_gguf

    try:
        import xllamacpp
    except ImportError:
        raise ModelError("llama.cpp's server comes from the xllamacpp wheel: run `pip install xllamacpp`") from None
    path = check_gguf(models.resolve(model))
    threads = threads or max(1, os.cpu_count() or 1)
    params = xllamacpp.CommonParams()
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
    if not verbose:
        params.verbosity = -1
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:
        raise ModelError(f"llama.cpp's server could not start on {host}:{port}: {exc}") from None
    address = server.listening_address.rstrip("/")
    return Running(address + "/v1", server)
