"""`rag serve` (the API and web page, one process or --workers N) and `rag llm-server` (llama.cpp's
server for `--llm-url`: teams share one; tests start one)."""

from __future__ import annotations

import os
import signal
import threading
from typing import Annotated, Optional

import typer

from .cli import (
    IndexDir,
    LlmKey,
    LlmUrl,
    MinConfidence,
    ModelPath,
    StoreUrl,
    TopK,
    Verbose,
    _err,
    _user_errors,
    app,
    make_assistant,
)


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind; keep 127.0.0.1 unless others must reach it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free port).")] = 8000,
    api_key: Annotated[Optional[str], typer.Option("--api-key", envvar="RAG_API_KEY", show_envvar=True,
                                                   help="Require 'Authorization: Bearer KEY' on /v1/*.")] = None,
    cors_origin: Annotated[Optional[list[str]], typer.Option("--cors-origin", help="Allow browser calls from this origin (repeatable); CORS is off without it.")] = None,
    max_body: Annotated[Optional[int], typer.Option("--max-body-bytes", min=1024, help="Larger request bodies get 413 (default: 1,000,000).")] = None,
    min_confidence: MinConfidence = None,
    k: TopK = None,
    model: ModelPath = None,
    llm_url: LlmUrl = None,
    llm_api_key: LlmKey = None,
    store: StoreUrl = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes, each answering one "
                                         "question at a time; with --llm-url they share one inference server.")] = 1,
    index_dir: IndexDir = None,
    verbose: Verbose = False,
):
    """Serve an OpenAI-compatible chat API with citations, /v1/ask, and a web chat page at /."""
    import uvicorn

    from .server import create_app

    options = dict(index_dir=index_dir, model_path=model, k=k, verbose=verbose or None, api_key=api_key,
                   cors_origins=tuple(cors_origin) if cors_origin else None, max_body_bytes=max_body,
                   min_confidence=min_confidence, llm_url=llm_url, llm_api_key=llm_api_key, store=store)
    log_level = "info" if verbose else "warning"
    if workers > 1:
        from .server import SETTINGS_ENV, encode_settings

        # Each worker process builds its own Assistant from these settings (rag/apps/server.py).
        os.environ[SETTINGS_ENV] = encode_settings(options)
        typer.echo(f"rag serve: http://{host}:{port}/ ({workers} workers, loading; /healthz says when ready)", err=True)
        uvicorn.run("rag.apps.server:app_from_environment", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, timeout_graceful_shutdown=5)
        return
    with _user_errors(verbose):
        assistant = make_assistant(**options)
    failed: list[str] = []

    def load_failed(message: str) -> None:
        failed.append(message)
        server.should_exit = True

    config = uvicorn.Config(create_app(assistant, on_load_error=load_failed), host=host, port=port,
                            log_level=log_level, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    typer.echo(f"rag serve: http://{host}:{port}/ (loading models; /healthz says when ready)", err=True)
    server.run()
    if failed:
        _err(failed[0])
        raise typer.Exit(code=1)


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
    from ..generation import llm_server as server_mod

    with _user_errors(verbose):
        running = server_mod.start(model, host=host, port=port, parallel=parallel, n_ctx=ctx, verbose=verbose)
    typer.echo(f"llama.cpp server: {running.url} ({parallel} slots)", err=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
