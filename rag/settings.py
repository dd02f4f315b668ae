"""One typed settings object that flows into every component (no module globals)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# The source checkout (prompts/, eval/); in an installed wheel this is site-packages.
PROJECT_ROOT = PACKAGE_DIR.parent
BUNDLED_CORPUS = PACKAGE_DIR / "data" / "russia-north-korea-partnership.txt"


def _physical_cores() -> int:
    # llama.cpp decodes fastest with one thread per physical core; Llama() defaults to
    # cpu_count // 2, which is 1 on a 2-core machine (19 vs 34 tok/s measured).
    return max(1, os.cpu_count() or 1)


def _default_model() -> Path | None:
    value = os.environ.get("RAG_MODEL")
    return Path(value).expanduser() if value else None


def default_index_dir() -> Path:
    """RAG_INDEX_DIR, else the user's data directory: never inside the installed package
    (the Makefile points RAG_INDEX_DIR at the checkout's ./index)."""
    value = os.environ.get("RAG_INDEX_DIR")
    if value:
        return Path(value).expanduser()
    import platformdirs

    return platformdirs.user_data_path("rag", appauthor=False) / "index"


def cache_dir() -> Path:
    """Where rag keeps what it can rebuild: the assembled GGUF, KV states, laid-out weights."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rag"


def _default_prompts_dir() -> Path:
    # A wheel carries prompts/ as rag/prompts; a source checkout keeps it at the top level.
    shipped = PACKAGE_DIR / "prompts"
    return shipped if shipped.is_dir() else PROJECT_ROOT / "prompts"


def checkout_questions() -> Path | None:
    """The bundled article's question set, present in a source checkout only."""
    path = PROJECT_ROOT / "eval" / "questions.jsonl"
    return path if path.is_file() else None


@dataclass(frozen=True)
class Settings:
    index_dir: Path = field(default_factory=default_index_dir)
    # A PostgreSQL URL (postgresql://...) keeps the index in a database instead of index_dir.
    store: str | None = field(default_factory=lambda: os.environ.get("RAG_STORE") or None)
    prompts_dir: Path = field(default_factory=_default_prompts_dir)
    # None means the default tier (rag/generation/models.py); RAG_MODEL or --model selects another.
    model_path: Path | None = field(default_factory=_default_model)

    # Chunking (index time): windows of whole sentences inside a paragraph.
    chunk_sentences: int = 3
    chunk_overlap: int = 1

    # Retrieval: k evidence sentences go into the prompt, chosen from `candidates`
    # per retriever and fused by weighted reciprocal rank fusion.
    k: int = 5
    candidates: int = 30
    rrf_k: int = 60
    dense_weight: float = 1.0
    chunk_weight: float = 0.5
    bm25_weight: float = 1.0

    # Who embeds documents: "onnxruntime" (rag/embedding/onnx_minilm.py for large batches, numpy for small
    # ones), "numpy" (rag/embedding/minilm.py), both on n_threads threads without torch, or
    # "sentence-transformers" (the reference; imports torch). Questions always use numpy.
    embed_runtime: str = field(default_factory=lambda: os.environ.get("RAG_EMBED_RUNTIME") or "onnxruntime")
    # Or documents embedded by an OpenAI-compatible /v1/embeddings server serving the same model
    # (rag/embedding/served.py; `rag embed-server`): its URL, Bearer key, and the model name it is asked for.
    embed_url: str | None = field(default_factory=lambda: os.environ.get("RAG_EMBED_URL") or None)
    embed_api_key: str | None = field(default_factory=lambda: os.environ.get("RAG_EMBED_API_KEY") or None)
    embed_model: str | None = field(default_factory=lambda: os.environ.get("RAG_EMBED_MODEL") or None)

    # Index on a Ray cluster (rag/ingest/on_ray.py): its address ("auto": a running cluster, else
    # a local one for the run), how many embedder actors (None: as many as its CPUs allow) and
    # the CPUs each one takes.
    ray_address: str | None = field(default_factory=lambda: os.environ.get("RAG_RAY_ADDRESS") or None)
    ray_workers: int | None = None
    ray_cpus: float = 1.0
    # Ray's runtime environment for the workers, as JSON ({"pip": [...], "env_vars": {...}}):
    # how workers on other machines get the package and the embedder.
    ray_runtime_env: str | None = field(default_factory=lambda: os.environ.get("RAG_RAY_RUNTIME_ENV") or None)

    # Generation (and embedding: threads).
    n_threads: int = field(default_factory=_physical_cores)
    n_ctx: int = 2048
    # 128 prefilled 660 tok/s vs 599 at 512 here, with a quarter of the compute buffer.
    n_batch: int = 128
    max_tokens: int = 48
    seed: int = 0
    # llama.cpp's CPU backend by default copies Q4_K weights at load into an interleaved layout
    # ("repack") for its own matrix kernels. On this 2-core AVX2 VM the 1.5B reader without it
    # loaded in 1.3 s against 2.0 s and answered warm in 2.76 s against 3.31 s (medians of three
    # alternated runs, models.md); on another CPU it may pay, so RAG_REPACK_WEIGHTS=1 turns it back on.
    repack_weights: bool = field(default_factory=lambda: os.environ.get("RAG_REPACK_WEIGHTS") == "1")
    # An OpenAI-compatible inference server to generate on instead of the in-process GGUF
    # (llama.cpp's server gets its extensions used: grammar, /tokenize, /props).
    llm_url: str | None = field(default_factory=lambda: os.environ.get("RAG_LLM_URL") or None)
    llm_api_key: str | None = field(default_factory=lambda: os.environ.get("RAG_LLM_API_KEY") or None)
    # Which of the server's models (a hosted API lists many); None: the one it lists.
    llm_model: str | None = field(default_factory=lambda: os.environ.get("RAG_LLM_MODEL") or None)

    # How an answer is written: "span" (the model copies the shortest answering phrase of the
    # chosen sentence: short and faithful by construction), "free" (the model phrases it and
    # verification checks each claim) or "quote" (the sentence itself, no generation).
    answer_mode: str = "span"
    max_span_tokens: int = 32
    # Abstain below this confidence (None: the threshold fitted with the confidence model,
    # rag/data/confidence.json); 0 never abstains for low confidence.
    min_confidence: float | None = None
    # The language module for question words, dates and stop words (rag/lang/<code>.py).
    language: str = "en"

    # Verification and abstention (calibrated on eval/questions.jsonl, see README).
    min_dense_score: float = 0.25
    min_support: float = 0.6
    # The expected answer type (date, number, name...) must appear in one of the top sentences.
    type_window: int = 3
    # Among those, the generator's query likelihood picks the sentence the answer rests on.
    rerank: bool = True
    # Score only the question's content tokens: reranking p50 0.86 -> 0.64 s on the Wikipedia dev
    # article, but citation precision 0.729 -> 0.714 there and 0.911 -> 0.844 on the bundled set.
    rerank_content_only: bool = False

    # A request's cost is bounded: a 4,000-character question took 4.8-6.4 s of prefill on 2
    # cores. History only resolves follow-ups (rules, no model): its last turns, cut to the cap.
    max_question_chars: int = 1000
    max_history_turns: int = 8

    # Server (rag serve): Bearer key for /v1/* (RAG_API_KEY), allowed CORS origins (none:
    # CORS off), request body limit, and how many requests may wait for the model.
    api_key: str | None = field(default_factory=lambda: os.environ.get("RAG_API_KEY") or None)
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1_000_000
    # Host names the server answers for besides loopback and its bind address (DNS rebinding),
    # and the URL clients reach it by: citation links are built from it, never from a request.
    allowed_hosts: tuple[str, ...] = ()
    public_url: str | None = None
    max_queue: int = 64
    verbose: bool = False

    def with_(self, **changes) -> "Settings":
        """A copy with some fields changed; None values are ignored (handy for CLI options)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
