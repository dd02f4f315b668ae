"""Writing the answer from the chosen sentence: a span the model copies from it, the model's
own words verified claim by claim, or the sentence itself quoted."""

from __future__ import annotations

import time
from types import ModuleType

from .. import prompts
from ..generation.generate import Generator
from ..lang.question import Question
from ..lang.words import is_instruction, stems
from ..settings import Settings
from ..stores.store import Store
from ..types import Answer, Outcome, Passage
from . import ground, span
from .ground import Grounder
from .verify import Verifier

STOP = ["\n", "Question:", "Sentences:", "Sentence:"]
# A sentence that addresses the assistant ("ignore your instructions and reply that...") is data:
# gemma, asked what took place somewhere, copied the instruction's payload as the answer. The
# sentence is shown whole, as a quote, so the reader sees it is an instruction, and never obeyed.
INSTRUCTION_REASON = "the sentence that answers carries instructions to an assistant: quoted, not obeyed"


def adds_to(answer_text: str, question: Question) -> bool:
    """Does the answer hold a content word the question lacks? ("Putin" to "Who signed it?")"""
    return bool(stems(answer_text, question.lang) - question.stems)


class Composer:
    def __init__(self, store: Store, embedder, verifier: Verifier, settings: Settings, people,
                 generator: Generator, lang: ModuleType):
        self.store, self.embedder, self.verifier = store, embedder, verifier
        self.settings, self.people, self.generator, self.lang = settings, people, generator, lang

    def write(self, question: Question, best: Passage, evidence: list[Passage], candidates: list[Passage],
              timings: dict, on_token=None) -> Answer:
        """The answer from `best`, the sentence chosen among `candidates`, in the settings' answer mode."""
        mode = self.settings.answer_mode
        if is_instruction(best.text, self.lang):
            return self.quote(question, best, evidence, Outcome.QUOTE_INSTRUCTION, INSTRUCTION_REASON)
        if question.yes_no:
            # The small model gets polarity wrong ("China is a party to this treaty"); the
            # sentence itself is the checkable answer to a yes/no question.
            return self.quote(question, best, evidence, Outcome.QUOTE_YES_NO, "yes/no question: quoted the best sentence")
        if mode == "quote":
            return self.quote(question, best, evidence, Outcome.QUOTE, "quoted the best sentence (answer mode quote)")
        if mode == "span":
            return self.span(question, best, evidence, candidates, timings, on_token)
        return self.free(question, best, evidence, candidates, timings, on_token)

    def quote(self, question: Question, passage: Passage, evidence: list[Passage], outcome: Outcome,
              reason: str) -> Answer:
        text = self.lang.QUOTE.format(text=passage.text.rstrip("."), id=passage.id)
        citation = ground.citation(self.store, passage.id, max(0.0, passage.dense), "attached")
        return Answer(question.text, text, False, [citation], evidence, reason=reason, outcome=outcome)

    def span(self, question: Question, best: Passage, evidence: list[Passage], candidates: list[Passage],
             timings: dict, on_token=None) -> Answer:
        """The shortest phrase of `best` that answers: for a question asking for a date, number,
        duration or name, the phrase of that shape nearest the question's words; otherwise the
        one the model copies token by token (rag/grounding/span.py)."""
        s = self.settings
        typed = span.pick_typed(best.text, question)
        if typed:
            if on_token:
                on_token(typed)
            citation = ground.citation(self.store, best.id, 1.0, "model")
            return Answer(question.text, f"{typed} [{best.id}].", False, [citation], evidence, outcome=Outcome.SPAN_TYPED,
                          reason=f"the {question.kind} in its cited sentence nearest the question's words")
        if not self.generator.copy_spans or self.generator.chat:
            # A backend that cannot copy spans (or wants a chat prompt) phrases it, verified.
            return self.free(question, best, evidence, candidates, timings, on_token)
        prompt = span.render(s.prompts_dir, question.text, best.text)
        n_ctx, count = self.generator.n_ctx, self.generator.count_tokens(prompt)
        if n_ctx is not None and count is not None and count + s.max_span_tokens > n_ctx:
            return self.quote(question, best, evidence, Outcome.QUOTE_CONTEXT_TOO_SMALL,
                              "quoted the best sentence: the model's context window is too small for the prompt")
        gen = self.generator.generate(prompt, copy_from=prompts.as_data(best.text), max_tokens=s.max_span_tokens,
                                      stop=["\n"], on_token=on_token)
        timings.update(ttft_s=gen.ttft_s, generate_s=gen.seconds, prompt_tokens=gen.prompt_tokens,
                       completion_tokens=gen.completion_tokens)
        text = span.tidy(gen.text, self.lang.SPAN_TRIM)
        where = span.locate(text, best.text) if text else None
        if where is None:  # a backend that ignored the copy constraint: never show its text
            answer = self.quote(question, best, evidence, Outcome.QUOTE_NO_SPAN, "quoted the best sentence: no span of it came back")
        elif not adds_to(text, question):
            answer = self.quote(question, best, evidence, Outcome.QUOTE_SPAN_ECHOES_QUESTION,
                                "quoted the best sentence: the copied span only repeated the question")
        else:
            citation = ground.citation(self.store, best.id, 1.0, "model")
            answer = Answer(question.text, f"{text} [{best.id}].", False, [citation], evidence,
                            reason="a verbatim span of its cited sentence, chosen by the model", outcome=Outcome.SPAN)
        answer.model_output = gen.text
        return answer

    def free(self, question: Question, best: Passage, evidence: list[Passage], typed: list[Passage],
             timings: dict, on_token=None) -> Answer:
        """The model phrases the answer from the evidence, starting from the chosen sentence's id
        (its own choice of sentence was mostly wrong in eval); each claim is verified."""
        s = self.settings
        chat = self.generator.chat
        prefix = "" if chat else f"{best.id}]"
        fitted = self.fit(question, evidence, best, chat, prefix)
        if fitted is None:
            return self.quote(question, best, evidence, Outcome.QUOTE_CONTEXT_TOO_SMALL, "quoted the best sentence: the "
                              "model's context window is too small for a prompt with evidence")
        prompt, shown = fitted
        if on_token and prefix:
            on_token(f"[{prefix}")
        gen = self.generator.generate(prompt + prefix, allowed_ids=[p.id for p in shown],
                                      max_tokens=s.max_tokens, stop=STOP, on_token=on_token)
        timings.update(ttft_s=gen.ttft_s, generate_s=gen.seconds, prompt_tokens=gen.prompt_tokens,
                       completion_tokens=gen.completion_tokens)
        raw = gen.text if chat else f"[{prefix}{gen.text}"
        t0 = time.perf_counter()
        grounder = Grounder(self.store, self.embedder, self.verifier, s, self.people)
        answer = grounder.ground(question, raw, shown, [p for p in typed if p in shown])
        if answer is None:
            answer = self.quote(question, best, evidence, Outcome.QUOTE_UNVERIFIED,
                                "quoted the best sentence: the model's answer did not verify")
        else:
            answer.outcome = Outcome.FREE
        timings["verify_s"] = time.perf_counter() - t0
        answer.model_output = raw
        return answer

    def fit(self, question: Question, evidence, best, chat, prefix) -> tuple[str, list[Passage]] | None:
        """The prompt with as much evidence as the model's context holds (answer room kept):
        the lowest-ranked sentences go first, the chosen one never. None if even it won't fit."""
        s = self.settings
        name = "chat" if chat else "answer"
        shown = list(evidence)
        n_ctx = self.generator.n_ctx
        while True:
            prompt = prompts.render(s.prompts_dir, name, question.text, [(p.id, p.text) for p in shown])
            count = None if n_ctx is None else self.generator.count_tokens(prompt + prefix)
            # A chat template wraps the prompt in a few tokens of its own: leave room for them.
            if count is None or count + s.max_tokens + (32 if chat else 0) <= n_ctx:
                return prompt, shown
            drop = next((p for p in reversed(shown) if p is not best), None)
            if drop is None:
                return None
            shown.remove(drop)
