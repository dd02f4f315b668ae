"""`rag serve` (the API and web page, one process or --workers N) and `rag llm-server` (llama.cpp's
server for `--llm-url`: teams share one; tests start one)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Annotated, Optional
from urllib.parse import urlsplit

import typer

from ..errors import RagError
from .cli import (
    IndexDir,
    LlmKey,
    LlmModel,
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
                                                   help="Require 'Authorization: Bearer KEY' on /v1/*. A key given "
                                                   "as a flag is visible to every user in `ps`: prefer RAG_API_KEY "
                                                   "or --api-key-file.")] = None,
    api_key_file: Annotated[Optional[Path], typer.Option("--api-key-file", dir_okay=False,
                                                         help="Read the API key from this file (first line).")] = None,
    public_url: Annotated[Optional[str], typer.Option("--public-url", help="The URL clients reach the server by "
                                                      "(e.g. https://rag.example.org/): its host is accepted in Host "
                                                      "headers and citation links point to it.")] = None,
    allow_host: Annotated[Optional[list[str]], typer.Option("--allow-host", help="Another Host name to answer for "
                                                            "(repeatable); loopback names always are.")] = None,
    cors_origin: Annotated[Optional[list[str]], typer.Option("--cors-origin", help="Allow browser calls from this origin (repeatable); CORS is off without it.")] = None,
    max_body: Annotated[Optional[int], typer.Option("--max-body-bytes", min=1024, help="Larger request bodies get 413 (default: 1,000,000).")] = None,
    min_confidence: MinConfidence = None,
    k: TopK = None,
    model: ModelPath = None,
    llm_url: LlmUrl = None,
    llm_api_key: LlmKey = None,
    llm_model: LlmModel = None,
    store: StoreUrl = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes, each answering one "
                                         "question at a time; with --llm-url they share one inference server.")] = 1,
    index_dir: IndexDir = None,
    verbose: Verbose = False,
):
    """Serve an OpenAI-compatible chat API with citations, /v1/ask, and a web chat page at /."""
    import uvicorn

    from .http_guard import WILDCARDS

    from .server import create_app

    with _user_errors(verbose):
        api_key = _read_key(api_key_file) if api_key_file else api_key
        public_url = _check_url(public_url) if public_url else None
    hosts = (host, *(allow_host or ()))
    if host in WILDCARDS and not public_url and not allow_host:
        typer.echo(f"rag serve: listening on every address, answering only requests whose Host is a loopback name; "
                   "add --public-url or --allow-host for the names others use", err=True)
    options = dict(index_dir=index_dir, model_path=model, k=k, verbose=verbose or None, api_key=api_key,
                   allowed_hosts=hosts, public_url=public_url,
                   cors_origins=tuple(cors_origin) if cors_origin else None, max_body_bytes=max_body,
                   min_confidence=min_confidence, llm_url=llm_url, llm_api_key=llm_api_key, llm_model=llm_model,
                   store=store)
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


def _read_key(path: Path) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RagError(f"cannot read the API key file {path}: {exc}") from None
    if not key or not key[0].strip():
        raise RagError(f"the API key file {path} is empty")
    return key[0].strip()


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RagError(f"--public-url must be an http(s) URL with a host, like https://rag.example.org/ (got {url!r})")
    return url


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
    _until_stopped()


@app.command("embed-server")
def embed_server(
    host: Annotated[str, typer.Option("--host", help="Address to bind; keep 127.0.0.1 unless others must reach it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free port).")] = 8081,
    parallel: Annotated[int, typer.Option("--parallel", min=1, max=64, help="Texts embedded together (slots).")] = 4,
    verbose: Verbose = False,
):
    """Serve the embedder (all-MiniLM-L6-v2, written as GGUF once) with llama.cpp's HTTP server
    (needs `pip install 'rag[served]'`); point `rag index --embed-url` at the URL it prints.
    Stops on Ctrl-C or SIGTERM."""
    from ..generation import llm_server as server_mod

    with _user_errors(verbose):
        running = server_mod.start_embedder(host=host, port=port, parallel=parallel, verbose=verbose)
    typer.echo(f"llama.cpp embedding server: {running.url} ({parallel} slots)", err=True)
    _until_stopped()


def _until_stopped() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
