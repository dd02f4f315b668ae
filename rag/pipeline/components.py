"""What answering needs, loaded lazily once and shared by every caller (chat, server threads):
the generator and its reranker, the embedder, the index and what is derived from it.

One llama.cpp context serves every caller, so answers queue on `lock`; an index update that
lands between two answers is picked up by `refresh`, never half-way through one.
"""

from __future__ import annotations

import threading
import time

from .. import prompts
from ..embedding.embed import Embedder
from ..gates import confidence
from ..gates.confidence import ConfidenceModel
from ..gates.vocabulary import Vocabulary
from ..generation import preload, served
from ..generation.generate import Generator, LlamaGenerator
from ..generation.query_likelihood import Reranker
from ..grounding import span
from ..grounding.compose import Composer
from ..grounding.verify import Verifier
from ..ingest.indexer import Notify, Progress, open_index
from ..lang import language
from ..lang.words import titled_people
from ..retrieval.retrieve import Retriever
from ..settings import Settings
from ..stores.location import IndexLocation, location


class Components:
    def __init__(self, settings: Settings, *, generator: Generator | None = None, embedder: Embedder | None = None,
                 reranker: Reranker | None = None, retriever: Retriever | None = None,
                 progress: Progress | None = None, notify: Notify | None = None):
        self.settings = settings
        self.lang = language(settings.language)
        self.embedder = embedder or Embedder(runtime=settings.embed_runtime, workers=settings.n_threads)
        self.verifier = Verifier(self.embedder)
        self.progress, self.notify = progress, notify
        self.load_timings: dict[str, float] = {}
        self.lock = threading.RLock()
        self._generator = generator
        self._reranker = reranker
        self._rerank_failed = False
        self._confidence: ConfidenceModel | None = None
        self._where: IndexLocation | None = None
        self._retriever = retriever
        self._stamp = None  # identifies the manifest the open index came from
        self._names: dict[str, str] | None = None
        self._vocabulary: Vocabulary | None = None
        self._vocabulary_of = None

    # -- the models -------------------------------------------------------------------
    @property
    def generator(self) -> Generator:
        if self._generator is None:
            t0 = time.perf_counter()
            self._generator = served.make(self.settings,
                                          lambda: preload.take(self.settings) or LlamaGenerator(self.settings))
            self.load_timings["generator_s"] = time.perf_counter() - t0
        return self._generator

    @property
    def confidence(self) -> ConfidenceModel:
        """Fitted for the loaded GGUF when it is a known tier, else for its kind of pipeline."""
        if self._confidence is None:
            g = self.generator
            self._confidence = confidence.for_model(g.model_sha256, g.choose)
        return self._confidence

    @property
    def reranker(self) -> Reranker | None:
        """Query likelihood under the generator's weights, when it is a llama.cpp model."""
        s = self.settings
        if self._reranker is None and s.rerank and not self._rerank_failed:
            template = prompts.load_template(s.prompts_dir, "rerank")
            try:
                self._reranker = self.generator.query_likelihood(
                    template, n_threads=s.n_threads, max_candidates=max(s.type_window, 1),
                    skip_words=self.lang.STOPWORDS if s.rerank_content_only else frozenset())
            except (ValueError, RuntimeError) as exc:
                self.no_rerank(exc)
            else:
                if self._reranker is None:
                    self.no_rerank(ValueError("it gives no prompt log-probabilities; sentences are ordered by "
                                              "retrieval and the names they share with the question"))
        return self._reranker if s.rerank else None

    def no_rerank(self, exc: Exception) -> None:
        # Any GGUF must answer: one whose context cannot score sentences (an unusual
        # architecture, too little memory) answers with retrieval order instead.
        self._reranker, self._rerank_failed = None, True
        if self.notify:
            self.notify(f"sentence reranking is off for this model: {exc}")

    def composer(self) -> Composer:
        return Composer(self.store, self.embedder, self.verifier, self.settings, self.names, self.generator, self.lang)

    # -- the index --------------------------------------------------------------------
    @property
    def where(self) -> IndexLocation:
        """Where the index lives: a directory, or PostgreSQL with --store (rag/stores/location.py)."""
        if self._where is None:
            self._where = location(self.settings)
        return self._where

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            t0 = time.perf_counter()
            self.embedder.load()
            self.load_timings["embedder_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            store = open_index(self.settings, self.embedder, self.progress, self.notify, where=self.where)
            self._retriever = Retriever(store, self.embedder, self.settings)
            self._stamp = self.where.stamp()
            self.load_timings["index_s"] = time.perf_counter() - t0
        return self._retriever

    @property
    def store(self):
        return self.retriever.store

    def refresh(self) -> None:
        """Reopen the index if `rag index` finished an update since it was opened (chat, serve).
        Called between questions, under the lock, so no answer sees two indexes."""
        if self._stamp is not None and self.where.stamp() != self._stamp:
            self._retriever, self._names, self._stamp = None, None, None

    def reopen(self) -> None:
        """The next question opens the index again (after this process updated it)."""
        self._retriever = None

    @property
    def names(self) -> dict[str, str]:
        """People the documents name, for resolving "he"/"she" in follow-up questions."""
        if self._names is None:
            self._names = titled_people((s.text for s in self.store.sentences), self.lang)
        return self._names

    @property
    def vocabulary(self) -> Vocabulary:
        """What the documents mention (folded, stemmed): for the gates and the confidence."""
        if self._vocabulary is None or self._vocabulary_of is not self.store:
            self._vocabulary = Vocabulary((s.text for s in self.store.sentences), self.lang)
            self._vocabulary_of = self.store
        return self._vocabulary

    @property
    def many_documents(self) -> bool:
        return self.store.manifest.get("counts", {}).get("documents", 1) > 1

    # -- loading ----------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._generator is not None and self._retriever is not None

    def load(self, rerank: bool = True) -> None:
        """Load everything now (chat, servers and benchmarks should not pay on the first question).

        The GGUF loads in a thread while the question embedder loads (llama.cpp releases
        the GIL), and the prompt's fixed few-shot prefix is evaluated once, so even the first
        question only pays for its own evidence and question. `rerank=False` leaves the
        reranker's llama.cpp context (0.2 s) to the first question that needs one: a one-shot
        `rag ask` often does not (19 of the 58 bundled questions)."""
        with self.lock:
            if self.loaded:
                return
            failure: list[BaseException] = []

            def load_generator():
                try:
                    t0 = time.perf_counter()
                    self.generator.warm(self._prefix())
                    self.load_timings["prefix_s"] = time.perf_counter() - t0
                    if rerank and not self.reads:
                        self.reranker
                except BaseException as exc:  # re-raised in the caller's thread
                    failure.append(exc)

            thread = threading.Thread(target=load_generator, name="rag-load-model", daemon=True)
            thread.start()
            try:
                self.retriever
                self.vocabulary  # for the gates; built here while the model loads
            finally:
                thread.join()
            if failure:
                raise failure[0]

    @property
    def reads(self) -> bool:
        """Whether answers come from the instruction-tuned reader (rag/grounding/read.py), which
        chooses among the sentences itself: no reranking."""
        return self.generator.choose and self.settings.answer_mode == "span"

    def _prefix(self) -> str:
        """The fixed start of the prompt the answers will use, worth evaluating once at load."""
        if self.reads:
            return prompts.fixed_prefix(self.settings.prompts_dir, "read")
        if self.settings.answer_mode == "span":
            return span.fixed_prefix(self.settings.prompts_dir)
        return prompts.fixed_prefix(self.settings.prompts_dir, "answer")
