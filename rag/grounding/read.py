"""An instruction-tuned reader: the model reads the retrieved sentences and copies the shortest
phrase that answers the question from one of them, or says that none does.

One constrained generation: after "Answer:", the model may write only a contiguous run of one
shown sentence's tokens, or "None" (rag/generation/constraints.py's SpanConstraint over several
sources). So the answer is verbatim by construction, and the sentence it cites is the one the
phrase was copied from, found by code: measured on the bundled set, Qwen2.5-1.5B copied the
right phrase ("November 9") while numbering the wrong sentence, so the model never writes an id.
Where the phrase stands in several sentences, the best-retrieved of them is cited.

The first step's probabilities are the reader's own judgement of whether any sentence answers
(the mass on "None" against every token that could begin a phrase): a signal that holds on any
document, and that a stronger model sharpens without a code change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import ModuleType

from .. import prompts
from ..generation.generate import Generator
from ..lang.question import Question
from ..settings import Settings
from ..types import Passage
from . import span


@dataclass
class Reading:
    shown: list[Passage]
    chosen: Passage | None  # None: the reader said no sentence answers
    span: str = ""  # the copied phrase (tidied); empty when it said none or nothing came back
    p_none: float = 0.0  # the first step's share of probability on "None"
    p_chosen: float = 0.0  # the first step's share on tokens that could begin a phrase of `chosen`
    raw: str = ""  # what the model wrote, for --verbose
    timings: dict[str, float] = field(default_factory=dict)
    unquoted: bool = False  # it wrote a phrase that no shown sentence holds word for word


class _HoldDecline:
    """Streams the reply, except a leading "None": it is not an answer, and may be taken back."""

    def __init__(self, on_token, none: str):
        self.on_token, self.none, self.started = on_token, none, False

    def __call__(self, piece: str) -> None:
        if not self.started and piece.strip() == self.none:
            return
        self.started = True
        self.on_token(piece)


class Reader:
    def __init__(self, generator: Generator, settings: Settings, lang: ModuleType):
        self.generator, self.settings, self.lang = generator, settings, lang

    def prompt(self, question: str, shown: list[Passage], template: str = "read") -> str:
        return prompts.render(self.settings.prompts_dir, template, question,
                              [(str(i), p.text) for i, p in enumerate(shown, start=1)])

    def fit(self, question: str, evidence: list[Passage], template: str = "read") -> tuple[str, list[Passage]] | None:
        """The prompt with as many of the top sentences as the context holds (the lowest ranked
        go first); None when not even one fits."""
        shown = list(evidence)
        n_ctx = self.generator.n_ctx
        while shown:
            prompt = self.prompt(question, shown, template)
            count = None if n_ctx is None else self.generator.count_tokens(prompt)
            # The chat template adds a few dozen tokens of its own (a system turn, role markers).
            if count is None or count + 64 + self.settings.max_span_tokens <= n_ctx:
                return prompt, shown
            shown.pop()
        return None

    def _copy(self, prompt: str, sources: list[str], reply: str, on_token, settle: bool = False):
        return self.generator.generate(prompt, copy_from=sources, reply_prefix=reply, settle=settle,
                                       max_tokens=self.settings.max_span_tokens, stop=["\n"], on_token=on_token)

    def read(self, question: Question, evidence: list[Passage], on_token=None) -> Reading | None:
        """A yes/no question asks for yes or no, which no phrase of a sentence says; the model
        is asked for the sentence that tells instead (prompts/read_yes_no.txt), with no "None" to
        offer: Qwen 1.5B read it as "no" (P ≈ 1 on five bundled yes/no questions, all answerable).
        Its reply begins "The sentence that tells is:": with "Answer:" alone the model, wanting to
        write "Yes" or "No", copied whichever sentence began with the likeliest allowed token
        (1 of 6 bundled yes/no questions right; 5 of 6 with it)."""
        yes_no = question.yes_no
        fitted = self.fit(question.text, evidence, "read_yes_no" if yes_no else "read")
        if fitted is None:
            return None
        prompt, shown = fitted
        sentences = [prompts.as_data(p.text) for p in shown]
        t0 = time.perf_counter()
        reply = self.lang.READER_REPLY_YES_NO if yes_no else self.lang.READER_REPLY
        none = self.lang.READER_NONE
        hold = on_token and _HoldDecline(on_token, none)
        # A yes/no answer quotes the chosen sentence whole: once the copied words stand in one
        # sentence only, the rest of the copy (a second or more of decoding) would change nothing.
        gen = self._copy(prompt, sentences + ([] if yes_no else [none]), reply, hold, settle=yes_no)
        total = gen.start_total or 1.0
        mass = gen.start_mass or [0.0] * (len(shown) + 1)
        p_none = 0.0 if yes_no else mass[-1] / total
        if gen.text.strip() == none and p_none < 0.5 and self.generator.copy_spans:
            # Greedy decoding compares "None", one token, with each phrase's first token alone: the
            # mass for answering, spread over many phrases, lost to it (0.72 against 0.28 on a
            # bundled question). The reader declines only when it finds that more likely than not.
            gen = self._copy(prompt, sentences, reply, on_token)
        timings = {"generate_s": time.perf_counter() - t0, "ttft_s": gen.ttft_s,
                   "prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens}
        text = span.tidy(gen.text, self.lang.SPAN_TRIM)
        holders = [k for k in (gen.sources or []) if k < len(shown)]
        if text == none:
            return Reading(shown, None, p_none=p_none, raw=gen.text, timings=timings)
        if not holders and text:  # a backend that copies by no constraint: find the phrase by text
            holders = [k for k, p in enumerate(shown) if span.locate(text, p.text, written=True) is not None]
            if not holders:  # not word for word in any sentence: said, never shown as an answer
                return Reading(shown, None, p_none=p_none, raw=gen.text, timings=timings, unquoted=True)
        if not holders:
            return Reading(shown, None, p_none=p_none, raw=gen.text, timings=timings)
        chosen = shown[holders[0]]
        if span.locate(text, chosen.text) is None:
            # Unconstrained, a model may change a letter's case ("the theory" for "The theory"):
            # the sentence's own words are shown. Nothing else it wrote ever is.
            where = span.locate(text, chosen.text, written=True)
            text = prompts.as_data(chosen.text[where[0]:where[1]]) if where else ""
        return Reading(shown, chosen, text, p_none, mass[holders[0]] / total, raw=gen.text, timings=timings)
