"""`rag bench`: where the time goes, measured in one process and one run.

Every figure is a median with min and max over repeats. Speed is never asserted by a test;
this command is how it is measured (README "Performance" quotes its output).
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from ..errors import RagError
from ..generation.generate import LlamaGenerator, rerank_states_dir
from ..generation.query_likelihood import QueryLikelihood
from ..grounding.compose import STOP
from ..lang import language
from ..pipeline import Assistant
from ..settings import Settings, checkout_questions

Log = Callable[[str], None]
COLD_QUESTION = "When did Putin give final approval to the treaty?"  # a date copied: no reranking
COLD_RERANKED = "Which bodies of the Russian parliament approved the treaty?"  # reranks 3, then generates
COLD = """
import json, sys, time
t0 = time.perf_counter()
from rag.pipeline import Assistant
from pathlib import Path
from rag.settings import Settings
t1 = time.perf_counter()
a = Assistant(Settings().with_(index_dir=Path(sys.argv[1]), model_path=Path(sys.argv[2]) if sys.argv[2] else None)).load()
t2 = time.perf_counter()
a.ask(sys.argv[3])
print(json.dumps({"import_s": t1 - t0, **a.load_timings, "load_s": t2 - t1, "first_answer_s": time.perf_counter() - t2}))
"""


def stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _wall(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        lines = done.stderr.strip().splitlines() or ["no output"]
        raise RuntimeError(f"cold-start process failed: {lines[-1]}")
    return time.perf_counter() - t0, done.stdout


def cold_start(settings: Settings, repeat: int) -> dict:
    """Fresh processes: `rag --help`; `rag ask` from process start to exit after its answer, for
    a question answered without the model and for one that reranks and generates (its sentences
    new to this machine, then scored by an earlier process); and where the time goes (the same
    loading in a script that reports its parts)."""
    help_s = [_wall([sys.executable, "-m", "rag", "--help"])[0] for _ in range(repeat)]

    def ask(question: str) -> list[str]:
        return [sys.executable, "-m", "rag", "ask", "--index-dir", str(settings.index_dir),
                *(["--model", str(settings.model_path)] if settings.model_path else []), question]

    totals = [_wall(ask(COLD_QUESTION))[0] for _ in range(repeat)]
    first, seen = [], []
    for _ in range(repeat):
        shutil.rmtree(rerank_states_dir(), ignore_errors=True)  # a cache: it refills itself
        first.append(_wall(ask(COLD_RERANKED))[0])
        seen.append(_wall(ask(COLD_RERANKED))[0])
    parts = []
    for _ in range(repeat):
        parts.append(json.loads(_wall([sys.executable, "-c", COLD, str(settings.index_dir),
                                       str(settings.model_path or ""), COLD_QUESTION])[1].strip().splitlines()[-1]))
    result = {"help_s": stats(help_s), "process_to_first_answer_s": stats(totals),
              "reranked_first_time_s": stats(first), "reranked_sentences_seen_s": stats(seen)}
    for key in parts[0]:
        result[key] = stats([p[key] for p in parts])
    return result


def article_index(settings: Settings, assistant: Assistant, repeat: int) -> dict:
    from ..ingest.indexer import build_index

    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            build_index(settings.with_(index_dir=Path(tmp)), assistant.embedder)
            times.append(time.perf_counter() - t0)
    return {"build_s": stats(times)}


UPDATE_DOCUMENTS = 200  # the folder update's size; tests make these smaller
EMBED_TEXTS = 1000


def folder_update(assistant: Assistant, documents: int | None = None, progress=None) -> dict:
    """A folder of `documents` text files: the first build, a re-run on the unchanged folder
    (nothing to embed: only hashing), and a re-run after one file changed."""
    from ..ingest.indexer import update_index

    documents = documents or UPDATE_DOCUMENTS
    article = [x.text for x in assistant.store.sentences]
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        for i in range(documents):  # each file a different mix of sentences, numbered apart
            picks = rng.sample(article, min(12, len(article)))
            (folder / f"doc{i:03d}.txt").write_text(f"Report {i}.\n\n" + "\n\n".join(picks) + "\n", encoding="utf-8")
        settings = assistant.settings.with_(index_dir=Path(tmp) / "index")
        first = update_index(settings, assistant.embedder, [folder], progress=progress)
        again = update_index(settings, assistant.embedder, [folder])
        changed = folder / "doc000.txt"
        changed.write_text(changed.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
        one = update_index(settings, assistant.embedder, [folder])
    return {"documents": documents, "sentences": first.sentences, "first_build_s": first.seconds,
            "unchanged_rerun_s": again.seconds, "unchanged_embedded": again.embedded,
            "unchanged_ratio": again.seconds / first.seconds, "one_changed_s": one.seconds,
            "one_changed_embedded": one.embedded}


def warm_questions(assistant: Assistant, questions: list[str], repeat: int) -> dict:
    """Warm process: retrieval parts over all questions × repeat; full answers once each."""
    parts: dict[str, list[float]] = {}
    for _ in range(repeat):
        for q in questions:
            t0 = time.perf_counter()
            r = assistant.retrieve(q)
            parts.setdefault("retrieval_s", []).append(time.perf_counter() - t0)
            for key, value in r.timings.items():
                parts.setdefault(key, []).append(value)
    answers = [assistant.ask(q) for q in questions]
    generated = [a for a in answers if "ttft_s" in a.timings]
    out = {key: stats(v) for key, v in parts.items()}
    reranked = [a.timings["rerank_s"] for a in answers if "rerank_s" in a.timings]
    if reranked:  # only questions with two or more candidate sentences rerank
        out["rerank_s"] = stats(reranked)
    # Typed questions are answered without generation (a date, number or name copied from the
    # sentence): time to first token and decode speed are over the questions that generated.
    if generated:
        out["ttft_s"] = stats([a.timings["ttft_s"] for a in generated])
    decode = [(a.timings["completion_tokens"] - 1) / (a.timings["generate_s"] - a.timings["ttft_s"])
              for a in generated if a.timings["completion_tokens"] > 1 and a.timings["generate_s"] > a.timings["ttft_s"]]
    if decode:
        out["decode_tok_per_s"] = stats(decode)
    out["answer_s"] = stats([a.latency_s for a in answers])
    out["answers_generated"] = len(generated)
    return out


def prefix_reuse(assistant: Assistant, questions: list[str]) -> dict:
    """TTFT with an empty KV cache (every token prefilled) against the warm shared prefix."""
    gen = assistant.generator
    if not isinstance(gen, LlamaGenerator):  # the KV cache being reset is llama-cpp-python's
        return {}
    cold, warm = [], []
    for first, second in zip(questions[::2], questions[1::2]):
        gen.llm.reset()  # forget every cached token: this question pays for its whole prompt
        a = assistant.ask(first)
        b = assistant.ask(second)  # shares only the fixed few-shot prefix with the first
        if "ttft_s" in a.timings and "ttft_s" in b.timings:
            cold.append(a.timings["ttft_s"])
            warm.append(b.timings["ttft_s"])
    if not cold:  # every pair had a question answered without generation
        return {}
    return {"ttft_cold_cache_s": stats(cold), "ttft_warm_prefix_s": stats(warm),
            "speedup": statistics.median(cold) / statistics.median(warm)}


def rerank_cache(assistant: Assistant, questions: list[str]) -> dict:
    """Query-likelihood scoring of each question's top sentences: every sentence prefilled
    (cache emptied first) against the same call with the sentences' KV states kept."""
    reranker = assistant.reranker
    if not isinstance(reranker, QueryLikelihood):  # the KV cache being measured is QueryLikelihood's
        return {}
    window = max(2, assistant.settings.type_window)
    fresh, cached = [], []
    for question in questions:
        sentences = [p.text for p in assistant.retrieve(question).passages[:window]]
        reranker.clear()
        t0 = time.perf_counter()
        reranker.score(question, sentences)
        t1 = time.perf_counter()
        reranker.score(question, sentences)
        fresh.append(t1 - t0)
        cached.append(time.perf_counter() - t1)
    return {"fresh_s": stats(fresh), "cached_s": stats(cached),
            "speedup": statistics.median(fresh) / statistics.median(cached)}


def overhead(assistant: Assistant, questions: list[str], repeat: int) -> dict:
    """Our generate() against raw llama_cpp.Llama on the same prompt, settings and process.

    Both produce the same tokens, so the ratio is of wall times (raw / ours): token counts
    differ only in bookkeeping (llama-cpp-python counts the stop token, we count the text)."""
    from .. import prompts

    gen, s = assistant.generator, assistant.settings
    if not isinstance(gen, LlamaGenerator):  # the baseline is raw llama-cpp-python in this process
        return {}
    ratios, constraint, ours_s, raw_s, raw_tps = [], [], [], [], []
    for q in questions:
        evidence = assistant.retrieve(q).passages
        prompt = prompts.render(s.prompts_dir, "answer", q, [(p.id, p.text) for p in evidence]) + f"{evidence[0].id}]"
        ids = [p.id for p in evidence]
        gen.generate(prompt, allowed_ids=ids, max_tokens=s.max_tokens, stop=STOP)  # warm this prompt
        for _ in range(repeat):
            t0 = time.perf_counter()
            gen.generate(prompt, allowed_ids=ids, max_tokens=s.max_tokens, stop=STOP)
            ours = time.perf_counter() - t0
            t0 = time.perf_counter()
            gen.generate(prompt, max_tokens=s.max_tokens, stop=STOP)
            free = time.perf_counter() - t0
            t0 = time.perf_counter()
            r = gen.llm.create_completion(prompt, max_tokens=s.max_tokens, temperature=0.0, top_k=1,
                                          repeat_penalty=1.0, stop=STOP)
            raw = time.perf_counter() - t0
            ratios.append(raw / ours)
            constraint.append(free / ours)
            ours_s.append(ours)
            raw_s.append(raw)
            raw_tps.append(r["usage"]["completion_tokens"] / raw)
    return {"ours_generate_s": stats(ours_s), "raw_generate_s": stats(raw_s), "raw_tok_per_s": stats(raw_tps),
            "ratio_vs_raw": statistics.median(ratios), "constraint_speed_ratio": statistics.median(constraint)}


def embedding(settings: Settings, assistant: Assistant, questions_path: Path, log: Log, n: int | None = None) -> dict:
    """Both embedding runtimes on n real sentences: the Wikipedia dev article's where the
    checkout has it (encyclopedia-length sentences), else the indexed ones."""
    from ..ingest import read
    from ..ingest.corpus import split_sentences
    from . import bench_embed

    wiki = questions_path.parent / "squad2-computational-complexity" / "article.txt"
    texts = ([s.text for s in split_sentences([read(wiki)], language(settings.language))] if wiki.exists()
             else [s.text for s in assistant.store.sentences])
    n = n or EMBED_TEXTS
    return bench_embed.run((texts * (n // len(texts) + 1))[:n], settings.n_threads, log)


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(settings: Settings, *, repeat: int = 3, sizes: list[int] = (), log: Log = print, progress=None,
        limit: int | None = None, llm_url: str | None = None, store: str | None = None,
        vector_sizes: list[int] = ()) -> dict:
    from .evaluate import load_questions

    path = checkout_questions()
    if path is None:
        raise RagError("rag bench asks the checkout's eval/questions.jsonl; run it from a source checkout")
    questions = [q["question"] for q in load_questions(path)][:limit]
    assistant = Assistant(settings, progress=progress)
    result: dict = {"settings": {"n_threads": settings.n_threads, "n_batch": settings.n_batch,
                                "n_ctx": settings.n_ctx, "k": settings.k, "max_tokens": settings.max_tokens}}
    log("cold start (fresh processes)")
    assistant.retriever  # builds the index first if there is none, outside the timings
    result["cold"] = cold_start(settings, repeat)
    log("loading models in this process")
    t0 = time.perf_counter()
    assistant.load()
    result["warm_load_s"] = time.perf_counter() - t0
    log("article index build")
    result["index_article"] = article_index(settings, assistant, repeat)
    log("incremental index update (200 documents)")
    result["index_update"] = folder_update(assistant, progress=progress)
    log(f"warm questions ({len(questions)})")
    if isinstance(assistant.reranker, QueryLikelihood):
        # Warm figures are this process's own: no sentence states an earlier process saved.
        assistant.reranker.saved_states = None
    result["warm"] = warm_questions(assistant, questions, repeat)
    log("prefix reuse")
    result["prefix"] = prefix_reuse(assistant, questions[:20])
    log("sentence reranking, fresh vs cached")
    result["rerank"] = rerank_cache(assistant, questions[:20])
    log("overhead against raw llama.cpp")
    result["overhead"] = overhead(assistant, questions[:10], repeat)
    log("embedding throughput against the CPU's bound")
    result["embedding"] = embedding(settings, assistant, path, log)
    if sizes:
        from .bench_scale import scale

        result["scale"] = scale(assistant, list(sizes), questions[:50], log, progress)
    if store or vector_sizes:
        from . import bench_vectors

        seeds = [x.text for x in assistant.store.sentences] + questions
        result["vector_stores"] = bench_vectors.run(assistant.embedder, seeds, list(vector_sizes or sizes or [100_000]),
                                                    store, log=log, compare=bool(vector_sizes))
    if llm_url:
        from . import bench_serve

        result["serving"] = bench_serve.run(settings.index_dir, questions, llm_url, store=store, log=log)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def run_builds(settings: Settings, workers: list[int], sentences: int, log: Log = print, progress=None,
               embed_url: str | None = None) -> dict:
    """Index builds on Ray and on an embedding server against one process (rag/tools/bench_ray.py)."""
    from . import bench_ray
    from .evaluate import load_questions

    path = checkout_questions()
    if path is None:
        raise RagError("rag bench asks the checkout's eval/questions.jsonl; run it from a source checkout")
    assistant = Assistant(settings, progress=progress)
    assistant.retriever  # the article's sentences seed the made-up corpus
    questions = [q["question"] for q in load_questions(path) if q.get("answerable", True)][:5]
    return {"builds": bench_ray.run(assistant, sentences, workers, questions, log, progress, embed_url=embed_url)}


def table(result: dict):
    """The measurements as one rich table: median (min–max) per row."""
    from rich.table import Table

    t = Table(title="rag bench (seconds unless marked; median, min–max)")
    t.add_column("measurement")
    t.add_column("median", justify="right")
    t.add_column("min–max", justify="right")

    def rows(prefix: str, data: dict):
        for key, value in data.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and "median" in value:
                t.add_row(name, f"{value['median']:.4g}", f"{value['min']:.4g}–{value['max']:.4g}")
            elif isinstance(value, dict):
                rows(f"{name}.", value)
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                for i, v in enumerate(value):
                    rows(f"{name}[{i}].", v)
            elif isinstance(value, (int, float)):
                t.add_row(name, f"{value:.4g}", "")
            else:
                t.add_row(name, str(value), "")

    rows("", result)
    return t
