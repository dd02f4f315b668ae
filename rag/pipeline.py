"""`Assistant`: the one object the CLI, the eval and the server share."""

from __future__ import annotations

import re
import threading
import time
from typing import Callable, Sequence

from . import followup, ground, guard, prompts
from .answer import Answer
from .embed import Embedder
from .errors import QuestionError
from .generate import Generator, LlamaGenerator
from .ground import Grounder
from .indexer import Notify, Progress, build_index, open_index
from .rerank import QueryLikelihood, Reranker
from .retrieve import Passage, Retrieval, Retriever
from .settings import Settings
from .verify import Verifier

STOP = ["\n", "Question:", "Sentences:"]


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
        self.embedder = embedder or Embedder()
        self.verifier = Verifier(self.embedder)
        self._generator = generator
        self._reranker = reranker
        self._rerank_failed = False
        self._retriever: Retriever | None = None
        self.progress = progress
        self.notify = notify
        self.load_timings: dict[str, float] = {}
        self._names: dict[str, str] | None = None
        # One llama.cpp context serves every caller (chat, server threads): answers queue here.
        self._lock = threading.RLock()

    # -- components -------------------------------------------------------------------
    @property
    def generator(self) -> Generator:
        if self._generator is None:
            t0 = time.perf_counter()
            self._generator = LlamaGenerator(self.settings)
            self.load_timings["generator_s"] = time.perf_counter() - t0
        return self._generator

    @property
    def reranker(self) -> Reranker | None:
        """Query likelihood under the generator's weights, when it is a llama.cpp model."""
        s = self.settings
        if self._reranker is None and s.rerank and not self._rerank_failed and hasattr(self.generator, "llm"):
            template = prompts.load_template(s.prompts_dir, "rerank")
            try:
                self._reranker = QueryLikelihood(self.generator.llm, template, n_threads=s.n_threads,
                                                 max_candidates=max(s.type_window, 1))
            except (ValueError, RuntimeError) as exc:
                self._no_rerank(exc)
        return self._reranker if s.rerank else None

    def _no_rerank(self, exc: Exception) -> None:
        # Any GGUF must answer: one whose context cannot score sentences (an unusual
        # architecture, too little memory) answers with retrieval order instead.
        self._reranker, self._rerank_failed = None, True
        if self.notify:
            self.notify(f"sentence reranking is off for this model: {exc}")

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            t0 = time.perf_counter()
            self.embedder.load()
            self.load_timings["embedder_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            store = open_index(self.settings, self.embedder, self.progress, self.notify)
            self._retriever = Retriever(store, self.embedder, self.settings)
            self.load_timings["index_s"] = time.perf_counter() - t0
        return self._retriever

    @property
    def store(self):
        return self.retriever.store

    def load(self) -> "Assistant":
        """Load everything now (chat, servers and benchmarks should not pay on the first question).

        The GGUF loads in a thread while torch imports for the embedder (llama.cpp releases
        the GIL), and the prompt's fixed few-shot prefix is evaluated once, so even the first
        question only pays for its own evidence and question."""
        with self._lock:
            if self._generator is not None and self._retriever is not None:
                return self
            failure: list[BaseException] = []

            def load_generator():
                try:
                    gen = self.generator
                    if hasattr(gen, "warm"):
                        t0 = time.perf_counter()
                        gen.warm(prompts.fixed_prefix(self.settings.prompts_dir, "answer"))
                        self.load_timings["prefix_s"] = time.perf_counter() - t0
                    self.reranker
                except BaseException as exc:  # re-raised in the caller's thread
                    failure.append(exc)

            thread = threading.Thread(target=load_generator, name="rag-load-model", daemon=True)
            thread.start()
            try:
                self.retriever
            finally:
                thread.join()
            if failure:
                raise failure[0]
        return self

    def index(self, paths=None) -> dict:
        manifest = build_index(self.settings, self.embedder, paths, self.progress, self.notify)
        self._retriever = None  # next question opens the new index
        return manifest

    def retrieve(self, question: str, k: int | None = None) -> Retrieval:
        question = clean_question(question, self.settings.max_question_chars)
        return self.retriever.search(question, k)

    @property
    def names(self) -> dict[str, str]:
        """People the documents name, for resolving "he"/"she" in follow-up questions."""
        if self._names is None:
            self._names = followup.people(s.text for s in self.store.sentences)
        return self._names

    def standalone(self, question: str, history: Sequence[tuple[str, str]] = ()) -> str:
        """The question rewritten so it stands alone, given earlier (question, answer) turns."""
        question = clean_question(question, self.settings.max_question_chars)
        return followup.standalone(question, history, self.names) if history else question

    # -- answering --------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        history: Sequence[tuple[str, str]] = (),
        k: int | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        """Answer `question` from the documents. `history` holds earlier (question, answer) turns
        of a conversation; they only resolve follow-ups, never supply facts. `on_token` receives
        the generated text as it streams and may raise to stop generation."""
        asked = clean_question(question, self.settings.max_question_chars)
        self.load()  # loading is not answering: keep it out of the latency
        with self._lock:
            answer = self._answer(self.standalone(asked, history), k, on_token)
        answer.question = asked
        return answer

    def _answer(self, question: str, k: int | None, on_token) -> Answer:
        s = self.settings
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        retrieval = self.retriever.search(question, k)
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

        if guard.is_injection(question):
            return finish(self._abstain(question, evidence, "the question asks the assistant to leave the article; "
                                        "it answers only questions about the article"))
        unknown = guard.unknown_entities(question, self.store.vocabulary)
        attribute = guard.unknown_attribute(question, self.store.vocabulary)
        if attribute:
            unknown.append(f"any {attribute}")
        office = guard.unknown_office(question, self.store.mentions)
        if office:
            unknown.append(f"a {office}")
        if unknown:
            return finish(self._abstain(question, evidence, f"the documents never mention {', '.join(unknown)}"))
        if retrieval.top_dense < s.min_dense_score:
            return finish(self._abstain(question, evidence, f"no sentence is close to the question "
                                        f"(best similarity {retrieval.top_dense:.2f} < {s.min_dense_score})"))
        kind = guard.expected_type(question)
        typed = [p for p in evidence[: s.type_window] if guard.has_type(p.text, kind, question)]
        if not typed:
            return finish(self._abstain(question, evidence, f"no retrieved sentence contains the {kind} asked for"))
        typed = self._rerank(question, typed, kind, timings, reranked)
        best = typed[0]
        if guard.is_yes_no(question):
            # The small model gets polarity wrong ("China is a party to this treaty"); the
            # sentence itself is the checkable answer to a yes/no question.
            return finish(self._quote(question, best, evidence, "yes/no question: quoted the best sentence"))

        chat = getattr(self.generator, "chat", False)
        # Base model: retrieval and the reranker pick the sentence (the model's own choice was
        # mostly wrong in eval) and the model phrases the answer from it; it may cite more ids,
        # constrained to the ones shown.
        prefix = "" if chat else f"{best.id}]"
        fitted = self._fit(question, evidence, best, chat, prefix)
        if fitted is None:
            return finish(self._quote(question, best, evidence, "quoted the best sentence: the model's context "
                                      "window is too small for a prompt with evidence"))
        prompt, shown = fitted
        timings["prompt_s"] = time.perf_counter() - t0 - timings["retrieve_s"] - timings.get("rerank_s", 0.0)
        if on_token and prefix:
            on_token(f"[{prefix}")
        gen = self.generator.generate(prompt + prefix, allowed_ids=[p.id for p in shown],
                                      max_tokens=s.max_tokens, stop=STOP, on_token=on_token)
        timings.update(ttft_s=gen.ttft_s, generate_s=gen.seconds, prompt_tokens=gen.prompt_tokens,
                       completion_tokens=gen.completion_tokens)
        raw = gen.text if chat else f"[{prefix}{gen.text}"
        t_verify = time.perf_counter()
        grounder = Grounder(self.store, self.embedder, self.verifier, s, self.names)
        answer = grounder.ground(question, raw, shown, [p for p in typed if p in shown], kind) or self._quote(
            question, best, evidence, "quoted the best sentence: the model's answer did not verify")
        timings["verify_s"] = time.perf_counter() - t_verify
        answer.model_output = raw
        return finish(answer)

    def _rerank(self, question: str, typed: list[Passage], kind: str | None, timings: dict,
                reranked: dict[str, float]) -> list[Passage]:
        """Order the candidate sentences by how well they answer the question: query likelihood
        picked a supporting one for 34 of 35 eval questions that had one among them (retrieval
        rank: 29); without a reranker, prefer the sentence naming what the question names."""
        scores = [guard.entity_coverage(question, p.text) for p in typed]
        if self.reranker is not None and len(typed) > 1:
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

    def _fit(self, question, evidence, best, chat, prefix) -> tuple[str, list[Passage]] | None:
        """The prompt with as much evidence as the model's context holds (answer room kept):
        the lowest-ranked sentences go first, the chosen one never. None if even it won't fit."""
        s = self.settings
        name = "chat" if chat else "answer"
        shown = list(evidence)
        n_ctx = getattr(self.generator, "n_ctx", None)
        count = getattr(self.generator, "count_tokens", None)
        while True:
            prompt = prompts.render(s.prompts_dir, name, question, [(p.id, p.text) for p in shown])
            # A chat template wraps the prompt in a few tokens of its own: leave room for them.
            if n_ctx is None or count is None or count(prompt + prefix) + s.max_tokens + (32 if chat else 0) <= n_ctx:
                return prompt, shown
            drop = next((p for p in reversed(shown) if p is not best), None)
            if drop is None:
                return None
            shown.remove(drop)

    def _abstain(self, question: str, evidence: list[Passage], reason: str) -> Answer:
        return Answer(question, "The article does not say.", True, [], evidence, reason=reason)

    def _quote(self, question: str, passage: Passage, evidence: list[Passage], reason: str) -> Answer:
        quote = f"The article says: “{passage.text.rstrip('.')}” [{passage.id}]."
        citation = ground.citation(self.store, passage.id, max(0.0, passage.dense), "attached")
        return Answer(question, quote, False, [citation], evidence, reason=reason)
