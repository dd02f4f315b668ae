"""`Assistant`: the one object the CLI, the eval and the server share."""

from __future__ import annotations

import re
import threading
import time
from typing import Callable, Sequence

from . import cite, followup, guard, prompts
from .answer import Answer, Citation
from .embed import Embedder
from .errors import QuestionError
from .generate import Generator, LlamaGenerator
from .indexer import Notify, Progress, build_index, open_index
from .retrieve import Passage, Retrieval, Retriever
from .settings import Settings
from .verify import Verifier, focus_date, names_date

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
        progress: Progress | None = None,
        notify: Notify | None = None,
    ):
        self.settings = settings or Settings()
        self.embedder = embedder or Embedder()
        self.verifier = Verifier(self.embedder)
        self._generator = generator
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

        def finish(answer: Answer) -> Answer:
            answer.latency_s = time.perf_counter() - t0
            answer.timings = timings
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
        if unknown:
            return finish(self._abstain(question, evidence, f"the documents never mention {', '.join(unknown)}"))
        if retrieval.top_dense < s.min_dense_score:
            return finish(self._abstain(question, evidence, f"no sentence is close to the question "
                                        f"(best similarity {retrieval.top_dense:.2f} < {s.min_dense_score})"))
        kind = guard.expected_type(question)
        typed = [p for p in evidence[: s.type_window] if guard.has_type(p.text, kind, question)]
        if not typed:
            return finish(self._abstain(question, evidence, f"no retrieved sentence contains the {kind} asked for"))
        # Among the top sentences, prefer one that names what the question names (stable by rank).
        typed.sort(key=lambda p: -guard.entity_coverage(question, p.text))
        best = typed[0]
        if guard.is_yes_no(question):
            # The small model gets polarity wrong ("China is a party to this treaty"); the
            # sentence itself is the checkable answer to a yes/no question.
            return finish(self._quote(question, best, evidence, "yes/no question: quoted the best sentence"))

        chat = getattr(self.generator, "chat", False)
        # Base model: retrieval picks the sentence (the model's own choice was mostly wrong in
        # eval) and the model phrases the answer from it; it may cite more ids, constrained.
        prefix = "" if chat else f"{best.id}]"
        fitted = self._fit(question, evidence, best, chat, prefix)
        if fitted is None:
            return finish(self._quote(question, best, evidence, "quoted the best sentence: the model's context "
                                      "window is too small for a prompt with evidence"))
        prompt, shown = fitted
        timings["prompt_s"] = time.perf_counter() - t0 - timings["retrieve_s"]
        if on_token and prefix:
            on_token(f"[{prefix}")
        gen = self.generator.generate(prompt + prefix, allowed_ids=[p.id for p in shown],
                                      max_tokens=s.max_tokens, stop=STOP, on_token=on_token)
        timings.update(ttft_s=gen.ttft_s, generate_s=gen.seconds, prompt_tokens=gen.prompt_tokens,
                       completion_tokens=gen.completion_tokens)
        raw = gen.text if chat else f"[{prefix}{gen.text}"
        t_verify = time.perf_counter()
        answer = self._grounded(question, raw, shown, [p for p in typed if p in shown], kind) or self._quote(
            question, best, evidence, "quoted the best sentence: the model's answer did not verify")
        timings["verify_s"] = time.perf_counter() - t_verify
        answer.model_output = raw
        return finish(answer)

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

    def _citation(self, sid: str, score: float, source: str) -> Citation:
        sent = self.store.by_id[sid]
        return Citation(sent.id, sent.text, sent.doc, sent.start, sent.end, score, source)

    def _quote(self, question: str, passage: Passage, evidence: list[Passage], reason: str) -> Answer:
        quote = f"The article says: “{passage.text.rstrip('.')}” [{passage.id}]."
        citation = self._citation(passage.id, max(0.0, passage.dense), "attached")
        return Answer(question, quote, False, [citation], evidence, reason=reason)

    def _names_the_person(self, claim: str, sentence: str, kind: str | None) -> bool:
        """A who-question's answer must name a person when its sentence names one
        ("North Korea" is not who affirmed it when the sentence says Choe Son-hui did)."""
        if kind != "name":
            return True
        people = [n for n in self.names if re.search(rf"\b{re.escape(n)}\b", sentence)]
        return not people or any(re.search(rf"\b{re.escape(n)}\b", claim) for n in people)

    @staticmethod
    def _names_the_date(claim: str, sentence: str, kind: str | None, question: str) -> bool:
        """A when-question's answer must give the date its sentence ties to the question."""
        if kind not in ("date", "day"):
            return True
        date = focus_date(sentence, question)
        return date is None or names_date(claim, date)

    def _grounded(self, question, raw, evidence, typed, kind) -> Answer | None:
        """Keep the claims that their cited sentences support; None when none survives."""
        s = self.settings
        by_id = {p.id: p for p in evidence}
        index = self.store.sentence_index
        vec = {p.id: index.reconstruct(self.store.position[p.id]) for p in evidence}
        kept: list[tuple[str, list[str]]] = []
        citations: dict[str, Citation] = {}
        for claim in cite.split_claims(raw, by_id):
            if guard.says_unanswerable(claim.text):
                continue
            cvec = self.embedder.encode_one(claim.text)
            good = []
            for sid in claim.ids:
                sup = self.verifier.support(claim.text, by_id[sid].text, question, cvec, vec[sid])
                if (sup.score >= s.min_support and guard.has_type(claim.text, kind, question)
                        and self._names_the_person(claim.text, by_id[sid].text, kind)
                        and self._names_the_date(claim.text, by_id[sid].text, kind, question)):
                    good.append((sid, sup.score, "model"))
            if not good and not claim.ids:  # uncited claim: attach the best sentence if it passes
                found = self.verifier.best(claim.text, [(p.id, p.text, vec[p.id]) for p in typed], question)
                if found and found[1].score >= s.min_support:
                    good.append((found[0], found[1].score, "attached"))
            if good:
                kept.append((claim.text, [sid for sid, _, _ in good]))
                for sid, score, source in good:
                    if sid not in citations or citations[sid].score < score:
                        citations[sid] = self._citation(sid, score, source)
        if not kept:
            return None
        return Answer(question, cite.render(kept), False, list(citations.values()), evidence,
                      reason="model answer, verified against its cited sentences")
