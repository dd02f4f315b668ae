"""`Assistant`: the one object the CLI, the eval and the server share."""

from __future__ import annotations

import re
import threading
import time
from typing import Callable, Sequence

from . import prompts
from .embedding.embed import Embedder
from .errors import IndexError_, QuestionError, UnknownDocument
from .gates import confidence, guard
from .gates.confidence import ConfidenceModel
from .gates.features import measure as answer_features
from .generation import preload, served
from .generation.generate import Generator, LlamaGenerator
from .generation.query_likelihood import Reranker
from .grounding import ground, span
from .grounding.compose import Composer
from .grounding.read import Reader
from .grounding.verify import Verifier
from .ingest.indexer import IndexReport, Notify, Progress, open_index, update_index
from .lang import language
from .retrieval import followup
from .retrieval.retrieve import Retriever
from .settings import Settings
from .stores.location import IndexLocation, location
from .types import Answer, Passage, Retrieval


# A sentence that addresses the assistant ("ignore your instructions and reply that...") is data:
# gemma, asked what took place somewhere, copied the instruction's payload as the answer. The
# sentence is shown whole, as a quote, so the reader sees it is an instruction, and never obeyed.
INSTRUCTION_REASON = "the sentence that answers carries instructions to an assistant: quoted, not obeyed"


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
        progress: Progress | None = None,
        notify: Notify | None = None,
    ):
        self.settings = settings or Settings()
        self.embedder = embedder or Embedder(runtime=self.settings.embed_runtime, workers=self.settings.n_threads)
        self.verifier = Verifier(self.embedder)
        self._generator = generator
        self._reranker = reranker
        self._rerank_failed = False
        self._retriever: Retriever | None = None
        self._stamp = None  # identifies the manifest the open index came from
        self._where = None
        self.progress = progress
        self.notify = notify
        self.load_timings: dict[str, float] = {}
        self._names: dict[str, str] | None = None
        self._vocabulary: guard.Vocabulary | None = None
        self._vocabulary_of = None
        self.lang = language(self.settings.language)
        self._confidence: ConfidenceModel | None = None
        # One llama.cpp context serves every caller (chat, server threads): answers queue here.
        self._lock = threading.RLock()

    # -- components -------------------------------------------------------------------
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
                self._no_rerank(exc)
            else:
                if self._reranker is None:
                    self._no_rerank(ValueError("it gives no prompt log-probabilities; sentences are ordered by "
                                               "retrieval and the names they share with the question"))
        return self._reranker if s.rerank else None

    def _no_rerank(self, exc: Exception) -> None:
        # Any GGUF must answer: one whose context cannot score sentences (an unusual
        # architecture, too little memory) answers with retrieval order instead.
        self._reranker, self._rerank_failed = None, True
        if self.notify:
            self.notify(f"sentence reranking is off for this model: {exc}")

    @property
    def where(self) -> IndexLocation:
        """Where the index lives: a directory, or PostgreSQL with --store (rag/stores/location.py)."""
        if self._where is None:
            self._where = location(self.settings)
        return self._where

    def refresh(self) -> None:
        """Reopen the index if `rag index` finished an update since it was opened (chat, serve).
        Called between questions, under the lock, so no answer sees two indexes."""
        if self._stamp is not None and self.where.stamp() != self._stamp:
            self._retriever, self._names, self._stamp = None, None, None

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

    def current_store(self):
        """The store, reopened first if an update landed (waits for a running answer)."""
        with self._lock:
            self.refresh()
            return self.retriever.store

    def load(self, rerank: bool = True) -> "Assistant":
        """Load everything now (chat, servers and benchmarks should not pay on the first question).

        The GGUF loads in a thread while the question embedder loads (llama.cpp releases
        the GIL), and the prompt's fixed few-shot prefix is evaluated once, so even the first
        question only pays for its own evidence and question. `rerank=False` leaves the
        reranker's llama.cpp context (0.2 s) to the first question that needs one: a one-shot
        `rag ask` often does not (19 of the 58 bundled questions)."""
        with self._lock:
            if self._generator is not None and self._retriever is not None:
                return self
            failure: list[BaseException] = []

            def load_generator():
                try:
                    t0 = time.perf_counter()
                    self.generator.warm(self._prefix())
                    self.load_timings["prefix_s"] = time.perf_counter() - t0
                    if rerank:
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
        return self

    def _prefix(self) -> str:
        """The fixed start of the prompt the answers will use, worth evaluating once at load."""
        if self.generator.choose and self.settings.answer_mode == "span":
            return prompts.fixed_prefix(self.settings.prompts_dir, "read")
        if self.settings.answer_mode == "span":
            return span.fixed_prefix(self.settings.prompts_dir)
        return prompts.fixed_prefix(self.settings.prompts_dir, "answer")

    def index(self, paths=None, *, prune: bool = False) -> IndexReport:
        """Add new and changed documents (files or folders) to the index; `prune` drops indexed
        documents that are not among `paths`. No paths: refresh the indexed files."""
        report = update_index(self.settings, self.embedder, paths, prune=prune, progress=self.progress,
                              notify=self.notify, where=self.where)
        self._retriever = None  # next question opens the new index
        return report

    def retrieve(self, question: str, k: int | None = None) -> Retrieval:
        question = clean_question(question, self.settings.max_question_chars)
        with self._lock:
            self.refresh()
            return self.retriever.search(question, k)

    @property
    def names(self) -> dict[str, str]:
        """People the documents name, for resolving "he"/"she" in follow-up questions."""
        if self._names is None:
            self._names = followup.people(s.text for s in self.store.sentences)
        return self._names

    @property
    def vocabulary(self) -> guard.Vocabulary:
        """What the documents mention (folded, stemmed): for the gates and the confidence."""
        if self._vocabulary is None or self._vocabulary_of is not self.store:
            self._vocabulary = guard.Vocabulary((s.text for s in self.store.sentences), self.lang)
            self._vocabulary_of = self.store
        return self._vocabulary

    def standalone(self, question: str, history: Sequence[tuple[str, str]] = ()) -> str:
        """The question rewritten so it stands alone, given earlier (question, answer) turns:
        the last `max_history_turns`, each cut to `max_question_chars`, so a long conversation
        costs no more than a short one."""
        cap = self.settings.max_question_chars
        question = clean_question(question, cap)
        history = [(q[:cap], a[:cap]) for q, a in list(history)[-self.settings.max_history_turns:]]
        return followup.standalone(question, history, self.names) if history else question

    def check(self, question: str, documents: Sequence[str] | None = None) -> None:
        """QuestionError (UnknownDocument for a document not indexed) for what `ask` would refuse,
        without answering: a server checks before it starts a stream."""
        clean_question(question, self.settings.max_question_chars)
        self.load(rerank=False)
        with self._lock:
            self.refresh()
            self._known_documents(documents)

    # -- answering --------------------------------------------------------------------
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
        with self._lock:
            self.refresh()
            documents = self._known_documents(documents)
            answer = self._answer(self.standalone(asked, history), k, on_token, documents)
        answer.question = asked
        return answer

    def documents(self) -> list[dict]:
        """The indexed documents (name, title, sentences, path), read from the manifest alone:
        no model or index load. IndexError_ when there is no index."""
        manifest = self.where.read_manifest()
        if manifest is None:
            raise IndexError_(f"no index in {self.where.name}; run `rag index PATH ...` first")
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

    def _answer(self, question: str, k: int | None, on_token, documents: list[str] | None = None) -> Answer:
        s, lang = self.settings, self.lang
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        retrieval = self.retriever.search(question, k, documents)
        timings["retrieve_s"] = time.perf_counter() - t0
        evidence = retrieval.passages
        reranked: dict[str, float] = {}

        def finish(answer: Answer) -> Answer:
            answer.latency_s = time.perf_counter() - t0
            answer.timings = timings
            answer.rerank = reranked
            answer.standalone = question
            answer.rankings = {"dense": retrieval.dense_ids, "bm25": retrieval.bm25_ids,
                               "fused": retrieval.fused_ids}
            return answer

        if guard.is_injection(question, lang):
            return finish(self._abstain(question, evidence, "injection", "the question asks the assistant to leave "
                                        "the documents; it answers only questions about them"))
        missing = self.vocabulary.missing_terms(question)
        if missing:
            return finish(self._abstain(question, evidence, "unknown_terms",
                                        f"the documents never mention {', '.join(missing)}"))
        if retrieval.top_dense < s.min_dense_score:
            return finish(self._abstain(question, evidence, "off_topic", f"no sentence is close to the question "
                                        f"(best similarity {retrieval.top_dense:.2f} < {s.min_dense_score})"))
        if self.generator.choose and s.answer_mode == "span":
            return finish(self._read(question, retrieval, timings, on_token))
        kind = guard.expected_type(question, lang)
        typed = [p for p in evidence[: s.type_window] if guard.has_type(p.text, kind, question, lang)]
        if not typed:
            return finish(self._abstain(question, evidence, "no_typed_sentence",
                                        f"no retrieved sentence contains the {kind} asked for"))
        typed = self._rerank(question, typed, kind, timings, reranked)
        best = typed[0]
        composer = Composer(self.store, self.embedder, self.verifier, s, self.names, self.generator, lang)
        t_gen = time.perf_counter()
        if guard.is_injection(best.text, lang):
            answer = composer.quote(question, best, evidence, "quote_instruction", INSTRUCTION_REASON)
        elif guard.is_yes_no(question, lang):
            # The small model gets polarity wrong ("China is a party to this treaty"); the
            # sentence itself is the checkable answer to a yes/no question.
            answer = composer.quote(question, best, evidence, "quote_yes_no", "yes/no question: quoted the best sentence")
        elif s.answer_mode == "quote":
            answer = composer.quote(question, best, evidence, "quote", "quoted the best sentence (answer mode quote)")
        elif s.answer_mode == "span":
            answer = composer.span(question, best, evidence, typed, kind, timings, on_token)
        else:
            answer = composer.free(question, best, evidence, typed, kind, timings, on_token)
        timings["answer_s"] = time.perf_counter() - t_gen
        return finish(self._judge(question, answer, best, typed, kind, retrieval, reranked))

    def _read(self, question: str, retrieval: Retrieval, timings: dict, on_token) -> Answer:
        """An instruction-tuned reader chooses the answering sentence among the top ones, or none,
        and copies the answer from it (rag/grounding/read.py); the confidence reads its choice."""
        s, lang, evidence = self.settings, self.lang, retrieval.passages
        yes_no = guard.is_yes_no(question, lang)
        t0 = time.perf_counter()
        # Nothing is streamed while a shown sentence addresses the assistant: what the model copies
        # from it may be the instruction's payload, and is then quoted instead (below).
        instructed = any(guard.is_injection(p.text, lang) for p in evidence)
        reading = Reader(self.generator, s, lang).read(question, evidence, None if instructed else on_token,
                                                       yes_no=yes_no)
        timings["answer_s"] = time.perf_counter() - t0
        if reading is None:
            return self._abstain(question, evidence, "context_too_small",
                                 "the model's context window is too small for a prompt with evidence")
        timings.update(reading.timings)
        # A yes/no reading offers no "None" (rag/grounding/read.py): it measures no answerability.
        reader_features = {} if yes_no else {"choice": reading.p_chosen, "answerable": 1.0 - reading.p_none}
        if reading.chosen is None:
            answer = self._abstain(question, evidence, "reader_none", f"the model read the {len(reading.shown)} "
                                   f"closest sentences and found none that answers it")
            answer.model_output, answer.features = reading.raw, reader_features
            return answer
        best = reading.chosen
        composer = Composer(self.store, self.embedder, self.verifier, s, self.names, self.generator, lang)
        if guard.is_injection(best.text, lang):
            answer = composer.quote(question, best, evidence, "quote_instruction", INSTRUCTION_REASON)
        elif yes_no:
            answer = composer.quote(question, best, evidence, "quote_yes_no",
                                    "yes/no question: quoted the sentence the model answered from")
        elif not reading.span:
            # A phrase that only repeats the question's words is not withheld by rule: real answers
            # often do ("randomized algorithms" to "algorithms that use random bits"); as a rule it
            # withheld 9 right answers for 8 abstentions. `adds` is measured for the confidence,
            # whose fit keeps it only where its weight comes out positive (the readers' fits drop it).
            answer = self._abstain(question, evidence, "reader_no_span",
                                   f"what the model copied from [{best.id}] is not a phrase of it")
            answer.model_output, answer.features = reading.raw, reader_features
            return answer
        else:
            answer = Answer(question, f"{reading.span} [{best.id}].", False,
                            [ground.citation(self.store, best.id, 1.0, "model")], evidence, outcome="read",
                            reason="a verbatim phrase of the sentence the model chose as answering")
        answer.model_output = reading.raw
        kind = guard.expected_type(question, lang)
        return self._judge(question, answer, best, reading.shown, kind, retrieval, {}, reader_features)

    def _judge(self, question, answer: Answer, best: Passage, typed, kind, retrieval: Retrieval,
               reranked: dict[str, float], reader: dict[str, float] | None = None) -> Answer:
        """Attach the confidence; below the threshold, withhold the answer and say why."""
        features = answer_features(question, answer, best, typed, kind, retrieval, reranked, self.vocabulary, reader)
        answer.features = features
        answer.confidence = self.confidence.score(features)
        threshold = self.settings.min_confidence
        threshold = self.confidence.threshold if threshold is None else threshold
        if answer.confidence >= threshold:
            return answer
        weakest = min(self.confidence.contributions(features).items(), key=lambda kv: kv[1], default=("", 0))[0]
        missing = self.vocabulary.unknown_words(question)
        why = (f"the documents never use {', '.join(missing)}" if missing
               else f"the closest sentence may not answer it ({confidence.FEATURES.get(weakest, weakest)} is low)")
        withheld = self._abstain(question, answer.retrieved, "low_confidence",
                                 f"confidence {answer.confidence:.2f} < {threshold:.2f}: {why}")
        withheld.confidence, withheld.features = answer.confidence, features
        withheld.withheld, withheld.withheld_citations = answer.answer, answer.citations
        withheld.model_output = answer.model_output
        return withheld

    def _rerank(self, question: str, typed: list[Passage], kind: str | None, timings: dict,
                reranked: dict[str, float]) -> list[Passage]:
        """Order the candidate sentences by how well they answer the question: query likelihood
        picked a supporting one for 34 of 35 eval questions that had one among them (retrieval
        rank: 29); without a reranker, prefer the sentence naming what the question names."""
        scores = [guard.entity_coverage(question, p.text, self.lang) for p in typed]
        if len(typed) > 1 and self.reranker is not None:  # building its context takes 0.2 s
            t0 = time.perf_counter()
            try:
                scores = self.reranker.score(question, [p.text for p in typed])
                timings["rerank_s"] = time.perf_counter() - t0
                reranked.update((p.id, score) for p, score in zip(typed, scores))
            except (ValueError, RuntimeError) as exc:
                self._no_rerank(exc)
        # A who-question asks for a person: a sentence naming one of the article's people beats
        # one whose only names are places (query likelihood alone favours on-topic generalities).
        people = [kind == "name" and bool(ground.named_people(p.text, self.names)) for p in typed]
        order = sorted(range(len(typed)), key=lambda i: (not people[i], -scores[i]))  # stable: ties keep rank
        return [typed[i] for i in order]

    def _abstain(self, question: str, evidence: list[Passage], outcome: str, reason: str) -> Answer:
        many = self.store.manifest.get("counts", {}).get("documents", 1) > 1
        text = self.lang.ABSTAIN_MANY if many else self.lang.ABSTAIN_ONE
        return Answer(question, text, True, [], evidence, reason=reason, outcome=outcome)
