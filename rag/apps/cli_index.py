"""`rag index` and `rag docs`: the commands that manage what is indexed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli import IndexDir, StoreUrl, Verbose, _user_errors, app, make_assistant


@app.command()
def index(
    paths: Annotated[Optional[list[Path]], typer.Argument(
        help=".txt, .md, .html, .pdf, .docx files or folders (recursive). Default: the indexed files again "
             "(the bundled article when there is no index).")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Drop indexed documents that are not among PATHS.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print what changed as one JSON object.")] = False,
    ray: Annotated[Optional[str], typer.Option(
        "--ray", envvar="RAG_RAY_ADDRESS", show_envvar=True,
        help="Read and embed on a Ray cluster: its address (ray://HOST:10001 or HOST:6379), or `auto` (a cluster "
             "running here, else a local one for this run). Needs `pip install 'rag[ray]'`.")] = None,
    ray_workers: Annotated[Optional[int], typer.Option(
        "--ray-workers", min=1, help="Embedder actors on the cluster (default: as many as its CPUs allow).")] = None,
    ray_cpus: Annotated[Optional[float], typer.Option(
        "--ray-cpus", min=0.1, help="CPUs each embedder actor takes (default 1).")] = None,
    ray_runtime_env: Annotated[Optional[str], typer.Option(
        "--ray-runtime-env", envvar="RAG_RAY_RUNTIME_ENV", show_envvar=True,
        help='Ray runtime environment for the workers, as JSON: {"pip": ["rag[ray]", ...]} (README).')] = None,
    embed_url: Annotated[Optional[str], typer.Option(
        "--embed-url", envvar="RAG_EMBED_URL", show_envvar=True,
        help="Embed the documents on an OpenAI-compatible /v1/embeddings server serving all-MiniLM-L6-v2 "
             "(`rag embed-server`); checked against the local model first.")] = None,
    embed_api_key: Annotated[Optional[str], typer.Option(
        "--embed-api-key", envvar="RAG_EMBED_API_KEY", show_envvar=True,
        help="Bearer key for the embedding server.")] = None,
    embed_model: Annotated[Optional[str], typer.Option(
        "--embed-model", envvar="RAG_EMBED_MODEL", show_envvar=True,
        help="The model name the embedding server is asked for (default all-MiniLM-L6-v2).")] = None,
    store: StoreUrl = None,
    index_dir: IndexDir = None,
    verbose: Verbose = False,
):
    """Add new and changed documents to the index: unchanged files are not embedded again."""
    with _user_errors(verbose):
        assistant = make_assistant(index_dir=index_dir, verbose=verbose, store=store, ray_address=ray,
                                   ray_workers=ray_workers, ray_cpus=ray_cpus, ray_runtime_env=ray_runtime_env,
                                   embed_url=embed_url, embed_api_key=embed_api_key, embed_model=embed_model)
        report = assistant.index(paths or None, prune=prune)
    typer.echo(json.dumps(report.to_dict(), ensure_ascii=False) if as_json else report.summary())


@app.command()
def docs(
    as_json: Annotated[bool, typer.Option("--json", help="Print the documents as one JSON list.")] = False,
    store: StoreUrl = None,
    index_dir: IndexDir = None,
    verbose: Verbose = False,
):
    """List the indexed documents with their sentence counts."""
    with _user_errors(verbose):
        rows = make_assistant(index_dir=index_dir, verbose=verbose, store=store).documents()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        title = f"  {row['title']}" if row.get("title") else ""
        typer.echo(f"{row['name']}  {row.get('sentences') or 0} sentences{title}")
