"""`Assistant`: the one object the CLI, the eval and the server share. It cleans the question,
takes the lock, and hands the standalone question to the answer's steps (answer.py)."""

from __future__ import annotations

import contextlib
import re
from typing import Callable, Sequence

from ..embedding.embed import Embedder
from ..errors import IndexError_, QuestionError, UnknownDocument
from ..generation.generate import Generator
from ..generation.query_likelihood import Reranker
from ..ingest.indexer import IndexReport, Notify, Progress, update_index
from ..lang.question import parse
from ..retrieval import followup
from ..retrieval.retrieve import Retriever
from ..settings import Settings
from ..types import Answer, Retrieval
from . import answer as steps
from .components import Components


def clean_question(question: str, max_chars: int) -> str:
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    question = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", question)
    question = question.encode("utf-8", errors="replace").decode("utf-8")
    question = re.sub(r"\s+", " ", question).strip()
    if not question:
        raise QuestionError("the question is empty")
    if len(question) > max_chars:
        raise QuestionError(f"the question is {len(question)} characters long; the limit is {max_chars}")
    return question


class Assistant:
    """Answers questions from the indexed documents, citing the sentences that support them.

    Models and the index load lazily, once per Assistant, so `--help` and index-only use stay fast.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        generator: Generator | None = None,
        embedder: Embedder | None = None,
        reranker: Reranker | None = None,
        retriever: Retriever | None = None,
        progress: Progress | None = None,
        notify: Notify | None = None,
    ):
        """Each backend given here is used instead of the one the settings would load; `retriever`
        shares an index another Assistant has open."""
        self.settings = settings or Settings()
        self.components = Components(self.settings, generator=generator, embedder=embedder, reranker=reranker,
                                     retriever=retriever, progress=progress, notify=notify)

    # What callers (benchmarks, tests, the eval) reach through the assistant.
    @property
    def generator(self) -> Generator:
        return self.components.generator

    @property
    def embedder(self) -> Embedder:
        return self.components.embedder

    @property
    def reranker(self) -> Reranker | None:
        return self.components.reranker

    @property
    def retriever(self) -> Retriever:
        return self.components.retriever

    @property
    def store(self):
        return self.components.store

    @property
    def confidence(self):
        return self.components.confidence

    @property
    def load_timings(self) -> dict[str, float]:
        return self.components.load_timings

    def current_store(self):
        """The store, reopened first if an update landed (waits for a running answer)."""
        c = self.components
        with c.lock:
            c.refresh()
            return c.store

    def load(self, rerank: bool = True) -> "Assistant":
        """Load the models and the index now (see Components.load)."""
        self.components.load(rerank)
        return self

    def index(self, paths=None, *, prune: bool = False) -> IndexReport:
        """Add new and changed documents (files or folders) to the index; `prune` drops indexed
        documents that are not among `paths`. No paths: refresh the indexed files. With
        `Settings.ray_address`, files are read and embedded on a Ray cluster; with
        `Settings.embed_url`, embedded by that server: the same index either way."""
        c, s = self.components, self.settings
        if s.ray_address and s.embed_url:
            raise IndexError_("--ray and --embed-url both say who embeds the documents: give one")
        if not s.ray_address:
            with self._document_embedder() as embedder:
                report = update_index(s, embedder, paths, prune=prune, progress=c.progress, notify=c.notify,
                                      where=c.where)
        else:
            from ..ingest.on_ray import RayIngest

            cluster = RayIngest(s.ray_address, s.ray_workers, s.ray_cpus, s.embed_runtime, s.ray_runtime_env)
            try:
                report = update_index(s, cluster.embedder(c.embedder), paths, prune=prune, progress=c.progress,
                                      notify=c.notify, where=c.where, mapper=cluster.map)
                report.workers = cluster.workers
            finally:
                cluster.close()
        c.reopen()
        return report

    def _document_embedder(self):
        """Who embeds the documents, as a context manager (a served embedder closes its connections)."""
        s, local = self.settings, self.components.embedder
        if not s.embed_url:
            return contextlib.nullcontext(local)
        from ..embedding.served import ServedEmbedder

        return ServedEmbedder(s.embed_url, local, api_key=s.embed_api_key, model=s.embed_model)

    def retrieve(self, question: str, k: int | None = None) -> Retrieval:
        question = clean_question(question, self.settings.max_question_chars)
        c = self.components
        with c.lock:
            c.refresh()
            return c.retriever.search(question, k)

    def standalone(self, question: str, history: Sequence[tuple[str, str]] = ()) -> str:
        """The question rewritten so it stands alone, given earlier (question, answer) turns:
        the last `max_history_turns`, each cut to `max_question_chars`, so a long conversation
        costs no more than a short one."""
        cap = self.settings.max_question_chars
        question = clean_question(question, cap)
        history = [(q[:cap], a[:cap]) for q, a in list(history)[-self.settings.max_history_turns:]]
        c = self.components
        return followup.standalone(question, history, c.names, c.lang) if history else question

    def check(self, question: str, documents: Sequence[str] | None = None) -> None:
        """QuestionError (UnknownDocument for a document not indexed) for what `ask` would refuse,
        without answering: a server checks before it starts a stream."""
        clean_question(question, self.settings.max_question_chars)
        self.load(rerank=False)
        c = self.components
        with c.lock:
            c.refresh()
            self._known_documents(documents)

    def ask(
        self,
        question: str,
        *,
        history: Sequence[tuple[str, str]] = (),
        k: int | None = None,
        on_token: Callable[[str], None] | None = None,
        documents: Sequence[str] | None = None,
    ) -> Answer:
        """Answer `question` from the documents. `history` holds earlier (question, answer) turns
        of a conversation; they only resolve follow-ups, never supply facts. `on_token` receives
        the generated text as it streams and may raise to stop generation. `documents` (names,
        as `rag docs` lists them) restricts the answer to those documents."""
        asked = clean_question(question, self.settings.max_question_chars)
        self.load(rerank=False)  # loading is not answering: keep it out of the latency
        c = self.components
        with c.lock:
            c.refresh()
            documents = self._known_documents(documents)
            standalone = parse(self.standalone(asked, history), c.lang)
            answer = steps.answer(c, standalone, k, on_token, documents)
        answer.question = asked
        return answer

    def documents(self) -> list[dict]:
        """The indexed documents (name, title, sentences, path), read from the manifest alone:
        no model or index load. IndexError_ when there is no index."""
        where = self.components.where
        manifest = where.read_manifest()
        if manifest is None:
            raise IndexError_(f"no index in {where.name}; run `rag index PATH ...` first")
        return [{k: d.get(k) for k in ("name", "title", "sentences", "path")} for d in manifest["documents"]]

    def _known_documents(self, documents: Sequence[str] | None) -> list[str] | None:
        if not documents:
            return None
        if isinstance(documents, str) or not all(isinstance(d, str) for d in documents):
            raise QuestionError("documents must be a list of document names")
        known = {d["name"] for d in self.store.manifest.get("documents", [])}
        unknown = [d for d in documents if d not in known]
        if unknown:
            raise UnknownDocument(f"no indexed document is named {unknown[0]!r}; `rag docs` lists them")
        return list(documents)
