"""The `rag` command: parse options, call `rag.Assistant`, print. No logic lives here."""

from __future__ import annotations

import json
import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import RagError
from ..settings import checkout_questions
from . import render
from .cli_progress import progress_printer, stderr_console

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Ask questions about local documents; every answer cites the sentences behind it.")

IndexDir = Annotated[Optional[Path], typer.Option("--index-dir", help="Index directory (default: RAG_INDEX_DIR, else "
                                                  "the user's data directory; `make` targets use ./index).")]
Documents = Annotated[Optional[list[str]], typer.Option("--doc", help="Answer only from this document (repeatable; "
                                                        "`rag docs` lists the names).")]
ModelPath = Annotated[Optional[Path], typer.Option("--model", help="A reader's name (`rag models` lists them) or a GGUF file's path "
                                                          "(default: the tier `rag models` marks default, or RAG_MODEL).")]
LlmUrl = Annotated[Optional[str], typer.Option("--llm-url", envvar="RAG_LLM_URL", show_envvar=True,
                                                help="Generate on this OpenAI-compatible server (e.g. llama.cpp's: "
                                                     "http://127.0.0.1:8080/v1) instead of in-process.")]
LlmKey = Annotated[Optional[str], typer.Option("--llm-api-key", envvar="RAG_LLM_API_KEY", show_envvar=True,
                                                help="Bearer key for --llm-url.")]
LlmModel = Annotated[Optional[str], typer.Option("--llm-model", envvar="RAG_LLM_MODEL", show_envvar=True,
                                                  help="Which model of --llm-url's server (needed when it lists "
                                                       "several, as hosted APIs do).")]
StoreUrl = Annotated[Optional[str], typer.Option("--store", envvar="RAG_STORE", show_envvar=True,
                                                  help="Keep the index in PostgreSQL (pgvector) at this URL "
                                                       "instead of --index-dir: postgresql://USER@HOST:PORT/DB.")]
TopK = Annotated[Optional[int], typer.Option("--k", min=1, max=50, help="Evidence sentences shown to the model.")]
MinConfidence = Annotated[Optional[float], typer.Option("--min-confidence", min=0.0, max=1.0,
                         help="Abstain below this confidence (default: the fitted threshold, see README).")]
AnswerMode = Annotated[Optional[str], typer.Option("--answer-mode", help="span (short verbatim phrase, default), "
                                                   "free (the model's words, verified) or quote (the whole sentence).")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show llama.cpp logs, timings and tracebacks.")]


def _err(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


@contextmanager
def _user_errors(verbose: bool):
    """One-line errors and exit 1; tracebacks only with --verbose."""
    try:
        yield
    except RagError as exc:
        if verbose:
            traceback.print_exc()
        _err(str(exc))
        raise typer.Exit(code=1)
    except KeyboardInterrupt:
        _err("interrupted")
        raise typer.Exit(code=130)
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # unexpected: still one line unless asked for more
        if verbose:
            traceback.print_exc()
        _err(f"{type(exc).__name__}: {exc} (run with --verbose for details)")
        raise typer.Exit(code=1)


def _answer_mode(mode: str | None) -> str | None:
    if mode is not None and mode not in ("span", "free", "quote"):
        raise typer.BadParameter(f"--answer-mode is span, free or quote, not {mode!r}")
    return mode


def make_assistant(index_dir=None, model_path=None, k=None, verbose=False, preload_model=False, **extra):
    from ..settings import Settings

    settings = Settings().with_(index_dir=index_dir, model_path=model_path, k=k, verbose=verbose or None, **extra)
    if preload_model:  # commands that answer: the GGUF loads while the rest is imported
        from ..generation import preload

        preload.start(settings)
    from ..pipeline import Assistant

    return Assistant(settings, progress=progress_printer(), notify=lambda m: typer.echo(m, err=True))


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
    min_confidence: MinConfidence = None,
    answer_mode: AnswerMode = None,
    doc: Documents = None,
    k: TopK = None,
    model: ModelPath = None,
    llm_url: LlmUrl = None,
    llm_api_key: LlmKey = None,
    llm_model: LlmModel = None,
    store: StoreUrl = None,
    index_dir: IndexDir = None,
    verbose: Verbose = False,
):
    """Answer QUESTION from the indexed documents, citing the sentences that support it."""
    global _exit_fast
    _exit_fast = True  # after its answer or its error, nothing is left to write
    with _user_errors(verbose):
        assistant = make_assistant(index_dir, model, k, verbose, preload_model=True, min_confidence=min_confidence,
                                   llm_url=llm_url, llm_api_key=llm_api_key, llm_model=llm_model, store=store,
                                   answer_mode=_answer_mode(answer_mode))
        if _run_by_main:  # freed by the OS at main()'s exit, not when ask returns
            _left_to_exit.append(assistant)
        answer = assistant.ask(question, documents=doc)
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    typer.echo("\n".join(render.lines(answer)))
    if verbose:
        typer.echo("\n" + "\n".join(render.details(answer)), err=True)


@app.command()
def chat(
    plain: Annotated[bool, typer.Option("--plain", help="Plain lines instead of colours and live streaming.")] = False,
    min_confidence: MinConfidence = None,
    answer_mode: AnswerMode = None,
    doc: Documents = None,
    k: TopK = None,
    model: ModelPath = None,
    llm_url: LlmUrl = None,
    llm_api_key: LlmKey = None,
    llm_model: LlmModel = None,
    store: StoreUrl = None,
    index_dir: IndexDir = None,
    verbose: Verbose = False,
):
    """Talk with the documents: streamed answers with citations, follow-up questions, /help for commands.

    Reads one question per line from standard input when it is not a terminal."""
    global _exit_fast
    _exit_fast = False  # parsed: the session ends normally, whatever main() began for it
    from . import chat as chat_mod
    from .chat_view import PlainView, RichView

    interactive = sys.stdin.isatty()
    view = PlainView(echo=not interactive) if plain or not sys.stdout.isatty() else RichView()
    with _user_errors(verbose):
        assistant = make_assistant(index_dir, model, k, verbose, preload_model=True, min_confidence=min_confidence,
                                   llm_url=llm_url, llm_api_key=llm_api_key, llm_model=llm_model, store=store,
                                   answer_mode=_answer_mode(answer_mode))
        chat_mod.run(assistant, view, chat_mod.read_lines(interactive, _history_path()), k=k, verbose=verbose,
                     documents=doc)


def _history_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("rag")) / "chat_history"


@app.command()
def bench(
    as_json: Annotated[bool, typer.Option("--json", help="Print the measurements as one JSON object.")] = False,
    repeat: Annotated[int, typer.Option("--repeat", min=1, max=50, help="Repeats per measurement (medians, min, max).")] = 3,
    sizes: Annotated[str, typer.Option("--sizes", help="Synthetic corpus sizes in sentences, comma-separated ('' skips; 100000 takes minutes).")] = "10000,100000",
    questions: Annotated[Optional[int], typer.Option("--questions", min=2, help="Use only the first N eval questions (default: all).")] = None,
    model: ModelPath = None,
    llm_url: Annotated[Optional[str], typer.Option("--llm-url", help="Also measure answers/s through `rag serve` "
                                                   "with 4 workers generating on this server, against in-process.")] = None,
    store: Annotated[Optional[str], typer.Option("--store", help="Also measure vector search in this PostgreSQL "
                                                 "(pgvector HNSW) against FAISS at --sizes (default 100000).")] = None,
    vector_sizes: Annotated[str, typer.Option("--vector-sizes", help="Also measure vector search alone on made "
                                              "vectors at these sizes: FAISS HNSW per efSearch against IVF-Flat "
                                              "and IVF-PQ (1000000 takes about 20 minutes).")] = "",
    ray_workers: Annotated[str, typer.Option("--ray-workers", help="Instead, measure index builds on Ray: "
                                             "sentences/s at each number of workers (comma-separated) and on a "
                                             "two-node local cluster, against one process, on a made-up corpus "
                                             "of the first --sizes sentences. Needs `pip install 'rag[ray]'`.")] = "",
    embed_url: Annotated[Optional[str], typer.Option("--embed-url", help="Instead (or with --ray-workers), measure an "
                                                     "index build whose documents this embedding server embeds, "
                                                     "against one process.")] = None,
    index_dir: IndexDir = None,
    verbose: Verbose = False,
):
    """Measure cold start, index builds, retrieval, time to first token, decode speed and overhead against raw llama.cpp."""
    from ..settings import Settings
    from ..tools import bench as bench_mod

    with _user_errors(verbose):
        scale, vectors = _sizes("--sizes", sizes), _sizes("--vector-sizes", vector_sizes)
        settings = Settings().with_(index_dir=index_dir, model_path=model, verbose=verbose or None)
        log = lambda m: typer.echo(f"… {m}", err=True)  # stderr: stdout stays one JSON object
        if ray_workers or embed_url:
            result = bench_mod.run_builds(settings, _sizes("--ray-workers", ray_workers), (scale or [10_000])[0],
                                          log=log, progress=progress_printer(), embed_url=embed_url)
        else:
            result = bench_mod.run(settings, repeat=repeat, sizes=scale, log=log, progress=progress_printer(),
                                   limit=questions, llm_url=llm_url, store=store, vector_sizes=vectors)
    if as_json:
        typer.echo(json.dumps(result))
        return
    from rich.console import Console

    Console().print(bench_mod.table(result))


def _sizes(option: str, text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"{option} takes whole numbers separated by commas, not {text!r}") from None


@app.command("eval")
def eval_(
    questions: Annotated[Optional[Path], typer.Option("--questions", help="Question set, one JSON object a line "
                                                      "(default: the checkout's eval/questions.jsonl).")] = None,
    corpus: Annotated[Optional[Path], typer.Option("--corpus", help="Documents the questions are about (file or folder); "
                                                   "indexed once into the user cache. Default: the corpus the question "
                                                   "file names on its first line, else the current index.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write one prediction per line (JSONL) here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as one JSON object.")] = False,
    min_confidence: MinConfidence = None,
    answer_mode: AnswerMode = None,
    k: TopK = None,
    model: ModelPath = None,
    llm_url: LlmUrl = None,
    llm_api_key: LlmKey = None,
    llm_model: LlmModel = None,
    store: StoreUrl = None,
    index_dir: IndexDir = None,
    verbose: Verbose = False,
):
    """Run a question set through the same path as `rag ask` and report quality and latency."""
    from ..settings import Settings
    from ..stores.store import atomic_write
    from ..tools import evaluate

    with _user_errors(verbose):
        questions = questions or checkout_questions()
        if questions is None:
            raise evaluate.QuestionFileError("no question set: pass --questions FILE (the bundled sets live in "
                                             "the source checkout's eval/)")
        qs = evaluate.load_questions(questions)
        # A --store database is used as it is: eval never writes a corpus into a shared index.
        corpus = None if store else corpus or evaluate.corpus_of(questions)
        if corpus is not None:
            index_dir = evaluate.corpus_index_dir(corpus, Settings())
        assistant = make_assistant(index_dir, model, k, verbose, min_confidence=min_confidence, llm_url=llm_url,
                                   llm_api_key=llm_api_key, llm_model=llm_model, store=store,
                                   answer_mode=_answer_mode(answer_mode))
        if corpus is not None and not (index_dir / "manifest.json").exists():
            assistant.index([corpus])
        from rich.progress import Progress

        with Progress(console=stderr_console(), transient=True) as bar:
            task = bar.add_task("loading models", total=len(qs))
            assistant.load()
            bar.update(task, description="answering")
            predictions = evaluate.run(assistant, qs, k, on_result=lambda _: bar.advance(task))
        if out:
            atomic_write(out, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in predictions).encode())
        metrics = evaluate.score(qs, predictions)
    if as_json:
        typer.echo(json.dumps(metrics))
        return
    from rich.console import Console

    Console().print(evaluate.tables(metrics, f"rag eval: {questions}"))


# Registers `index`, `docs`, `models` and the servers on `app` (kept apart so this module stays about asking).
from . import cli_index, cli_models, cli_serve  # noqa: E402,F401

# Set by commands that end holding a loaded model and have nothing left to write; what they
# loaded waits in _left_to_exit (a local would be freed on return, destructors and all: 0.11 s).
# Only under main(): in-process callers (CliRunner) would keep every model to interpreter exit.
_exit_fast = False
_left_to_exit: list = []
_run_by_main = False


def main():
    """The `rag` executable. After `rag ask` the process ends without running destructors: the
    OS frees llama.cpp's model and contexts faster than they free themselves (0.45 s of a cold
    ask here, mostly its 262k-token vocabulary). CliRunner calls `app`, not this."""
    global _run_by_main, _exit_fast
    _run_by_main = True
    from ..generation import preload

    # `rag ask` and `rag chat`: the model loads while Typer parses. A mistyped option then exits
    # at once too, not after the load it began.
    _exit_fast = preload.speculate(sys.argv[1:])
    try:
        app(prog_name="rag")
    except SystemExit as exc:
        if not _exit_fast:
            raise
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:  # a closed pipe (`rag ask ... | head -1`)
                code = code or 1
        os._exit(code)

