"""`Assistant`: the one object the CLI, the eval and the server share."""

from __future__ import annotations

import re
import time
from typing import Callable

from . import cite, guard, prompts
from .answer import Answer, Citation
from .embed import Embedder
from .errors import QuestionError
from .generate import Generator, LlamaGenerator
from .indexer import Notify, Progress, build_index, open_index
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
        """Load everything now (for servers and benchmarks that should not pay on the first question)."""
        self.retriever, self.generator
        return self

    def index(self, paths=None) -> dict:
        manifest = build_index(self.settings, self.embedder, paths, self.progress, self.notify)
        self._retriever = None  # next question opens the new index
        return manifest

    def retrieve(self, question: str, k: int | None = None) -> Retrieval:
        question = clean_question(question, self.settings.max_question_chars)
        return self.retriever.search(question, k)

    # -- answering --------------------------------------------------------------------
    def ask(self, question: str, *, k: int | None = None, on_token: Callable[[str], None] | None = None) -> Answer:
        s = self.settings
        question = clean_question(question, s.max_question_chars)
        self.retriever, self.generator  # loading is not answering: keep it out of the latency
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        retrieval = self.retriever.search(question, k)
        timings["retrieve_s"] = time.perf_counter() - t0
        evidence = retrieval.passages

        def finish(answer: Answer) -> Answer:
            answer.latency_s = time.perf_counter() - t0
            answer.timings = timings
            answer.rankings = {"dense": retrieval.dense_ids, "bm25": retrieval.bm25_ids,
                               "fused": retrieval.fused_ids}
            return answer

        if guard.is_injection(question):
            return finish(self._abstain(question, evidence, "the question asks the assistant to leave the article; "
                                        "it answers only questions about the article"))
        if retrieval.top_dense < s.min_dense_score:
            return finish(self._abstain(question, evidence, f"no sentence is close to the question "
                                        f"(best similarity {retrieval.top_dense:.2f} < {s.min_dense_score})"))
        kind = guard.expected_type(question)
        typed = [p for p in evidence if guard.has_type(p.text, kind, question)]
        if not typed:
            return finish(self._abstain(question, evidence, f"no retrieved sentence contains a {kind}"))

        template = "chat" if getattr(self.generator, "chat", False) else "answer"
        prompt = prompts.render(s.prompts_dir, template, question, [(p.id, p.text) for p in evidence])
        timings["prompt_s"] = time.perf_counter() - t0 - timings["retrieve_s"]
        allowed = [p.id for p in evidence]
        gen = self.generator.generate(prompt, allowed_ids=allowed, max_tokens=s.max_tokens, stop=STOP,
                                      on_token=on_token)
        timings.update(ttft_s=gen.ttft_s, generate_s=gen.seconds, prompt_tokens=gen.prompt_tokens,
                       completion_tokens=gen.completion_tokens)
        raw = gen.text if template == "chat" else "[" + gen.text
        t_verify = time.perf_counter()
        answer = self._grounded(question, raw, evidence, typed, kind, retrieval)
        timings["verify_s"] = time.perf_counter() - t_verify
        answer.model_output = raw
        return finish(answer)

    def _abstain(self, question: str, evidence: list[Passage], reason: str) -> Answer:
        return Answer(question, "The article does not say.", True, [], evidence, reason=reason)

    def _citation(self, sid: str, score: float, source: str) -> Citation:
        sent = self.store.by_id[sid]
        return Citation(sent.id, sent.text, sent.doc, sent.start, sent.end, score, source)

    def _grounded(self, question, raw, evidence, typed, kind, retrieval: Retrieval) -> Answer:
        """Keep the claims their cited sentences support; otherwise quote the best evidence."""
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
                if sup.score >= s.min_support and guard.has_type(by_id[sid].text, kind, question):
                    good.append((sid, sup.score, "model"))
            if not good:  # uncited or unsupported as cited: attach the best sentence if it passes
                best = self.verifier.best(claim.text, [(p.id, p.text, vec[p.id]) for p in typed], question)
                if best and best[1].score >= s.min_support:
                    good.append((best[0], best[1].score, "attached"))
            if good:
                kept.append((claim.text, [sid for sid, _, _ in good]))
                for sid, score, source in good:
                    if sid not in citations or citations[sid].score < score:
                        citations[sid] = self._citation(sid, score, source)
        if kept:
            return Answer(question, cite.render(kept), False, list(citations.values()), evidence,
                          reason="model answer, verified against its cited sentences")
        # No verified claim: quote the best sentence of the expected answer type, so the user
        # still gets a checkable answer rather than unverified text.
        first_cited = next((i for c in cite.split_claims(raw, by_id) for i in c.ids), None)
        pick = by_id[first_cited] if first_cited and by_id[first_cited] in typed else typed[0]
        if guard.says_unanswerable(raw) and pick.dense < s.min_dense_score + 0.15:
            return self._abstain(question, evidence, "the model found no answer and the evidence is weak")
        quote = f"The article says: “{pick.text.rstrip('.')}” [{pick.id}]."
        return Answer(question, quote, False, [self._citation(pick.id, pick.dense, "attached")], evidence,
                      reason="quoted the best supporting sentence (the model's answer did not verify)")
