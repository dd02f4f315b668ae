"""`rag llm-server`: run llama.cpp's server for `--llm-url` (teams share one; tests start one)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from .cli import ModelPath, Verbose, _user_errors, app


@app.command("llm-server")
def llm_server(
    host: Annotated[str, typer.Option("--host", help="Address to bind; keep 127.0.0.1 unless others must reach it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free port).")] = 8080,
    parallel: Annotated[int, typer.Option("--parallel", min=1, max=64, help="Requests decoded together (slots).")] = 4,
    ctx: Annotated[int, typer.Option("--ctx", min=512, help="Context tokens per slot.")] = 2048,
    model: ModelPath = None,
    verbose: Verbose = False,
):
    """Serve a GGUF with llama.cpp's own HTTP server (needs `pip install xllamacpp`); point
    `rag ask/chat/serve --llm-url` at the URL it prints. Stops on Ctrl-C or SIGTERM."""
    from . import llm_server as server_mod

    with _user_errors(verbose):
        running = server_mod.start(model, host=host, port=port, parallel=parallel, n_ctx=ctx, verbose=verbose)
    typer.echo(f"llama.cpp server: {running.url} ({parallel} slots)", err=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
