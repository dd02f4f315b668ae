"""Short, verbatim answers: the model copies one contiguous span of the chosen sentence.

A logits processor (rag/generation/constraints.py) lets the model write only tokens that
continue a span of the sentence's own tokens, so the answer is faithful by construction: it
cannot add a word, a digit or a name the sentence lacks. The model only chooses where the span
starts and where it ends. This module prompts for, locates and tidies the span.
"""

from __future__ import annotations

import re

from .. import prompts
from ..lang.question import Question
from ..lang.words import name_runs, plain
from ..text import fold, words


def render(prompts_dir, question: str, sentence: str) -> str:
    template = prompts.load_template(prompts_dir, "span").rstrip("\n")
    return template.replace("{sentence}", prompts.as_data(sentence)).replace("{question}", prompts.as_data(question))


def fixed_prefix(prompts_dir) -> str:
    template = prompts.load_template(prompts_dir, "span")
    return template[: template.index("Sentence: {sentence}")]


def locate(span: str, sentence: str, written: bool = False) -> tuple[int, int] | None:
    """Where `span` lies in `sentence`, ignoring runs of whitespace and the bracket flattening
    of `prompts.as_data`; None when it is not a contiguous part of it. `written`: a phrase a model
    wrote unconstrained, found in any case but only at word edges ("No" is not in "North")."""
    words = span.replace("(", "[").replace(")", "]").split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w).replace(r"\[", r"[\[(]").replace(r"\]", r"[\])]") for w in words)
    if written:
        pattern = rf"(?<!\w){pattern}(?!\w)"
    match = re.search(pattern, sentence, re.IGNORECASE if written else 0)
    return (match.start(), match.end()) if match else None


def tidy(span: str, trim: re.Pattern) -> str:
    """Drop edge punctuation and a bracket or quote left unbalanced by where the span was cut."""
    previous = None
    span = span.strip()
    while span != previous:
        previous, span = span, trim.sub("", span).strip()
        for left, right in ("()", "[]", "“”", '""'):
            unbalanced = span.count(left) % 2 if left == right else span.count(left) != span.count(right)
            if unbalanced:
                span = span.strip(left + right).strip()
    return span


def typed_spans(sentence: str, kind: str | None, lang) -> list[tuple[int, int]]:
    """Phrases of the sentence that have the shape the question asks for; two joined by "and"
    or "or" count as one ("late October and early November", "Hartmanis and Stearns")."""
    if kind in ("date", "day"):
        spans = [m.span() for m in (lang.DAY_DATE if kind == "day" else lang.DATE_SPAN).finditer(sentence)]
    elif kind == "duration":
        spans = [m.span() for m in lang.DURATION.finditer(sentence)]
    elif kind == "number":
        spans = [m.span() for m in lang.NUMBER_SPAN.finditer(sentence)]
    elif kind == "name":
        spans = name_runs(sentence, lang)
    elif kind == "place":
        spans = [(a, b) for a, b in name_runs(sentence, lang)
                 if (before := words(sentence[:a])) and fold(before[-1].group()) in lang.PLACE_BEFORE]
    else:
        return []
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined:
            gap = sentence[joined[-1][1]:start].strip(" ,")
            if fold(gap) in lang.COORDINATORS:
                joined[-1] = (joined[-1][0], end)
                continue
        joined.append((start, end))
    return joined


def _same_word(a: str, b: str) -> bool:
    """One word, or the same root ("Korea"/"Korean", "approve"/"approval") by a shared start."""
    return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))


CLAUSE_MARK = re.compile(r"[,;:()\[\]—–]")


def pick_typed(sentence: str, question: Question) -> str | None:
    """The typed phrase the question asks about, among the sentence's phrases of the right shape.

    Each question word found in the sentence lends weight 1/distance to the candidate phrase it
    pulls most (within `lang.CONTEXT` words; a quarter across clause punctuation), and two question
    words that stand side by side in both count double ("final approval"). The
    question's own words and titles are trimmed from the phrase's start ("Foreign Minister Choe
    Son-hui" -> "Choe Son-hui"). None when no phrase is left."""
    lang, kind = question.lang, question.kind
    # The words that say what kind of answer is wanted ("how long") are not its topic.
    keys = question.keys
    key_pairs = set(zip(keys, keys[1:]))
    tokens = words(sentence)
    folded = [plain(m.group(), lang) for m in tokens]
    match = [next((k for k in keys if _same_word(w, k)), None) for w in folded]
    candidates = []
    for start, end in typed_spans(sentence, kind, lang):
        inside = [i for i, m in enumerate(tokens) if start <= m.start() < end]
        # Everything up to the question's last word in the phrase is what the question is about,
        # not its answer ("Norwegian Foreign Minister | Åsa Lind", "the Comprehensive Partnership
        # Agreement |" to "Who signed the agreement?"); then leading titles go.
        last_asked = max((k for k, i in enumerate(inside) if match[i]), default=-1)
        trimmed = inside[last_asked + 1:]
        while kind in ("name", "place") and trimmed and (
                folded[trimmed[0]] in lang.TITLES or folded[trimmed[0]] in lang.STOPWORDS):
            trimmed.pop(0)
        if trimmed:
            candidates.append((inside, trimmed, end))
    if not candidates:
        return None
    # Clause punctuation between a word and a phrase weakens their tie: in "approved it in late
    # October, before Putin gave final approval on November 9" Putin belongs to November 9.
    clause = [len(CLAUSE_MARK.findall(sentence, 0, m.start())) for m in tokens]
    score = [0.0] * len(candidates)
    for i, key in enumerate(match):
        if key is None:
            continue
        pair = (i > 0 and (match[i - 1], key) in key_pairs) or (i + 1 < len(match) and (key, match[i + 1]) in key_pairs)
        pulls = []
        for inside, trimmed, _ in candidates:
            if i in inside:  # the question's words at the head of the phrase: "Foreign Minister | Lind"
                pulls.append(2.0 if i not in trimmed else 0.0)
                continue
            d = min(abs(i - inside[0]), abs(i - inside[-1]))
            if d > lang.CONTEXT:
                pulls.append(0.0)
                continue
            edge = inside[0] if i < inside[0] else inside[-1]
            same = clause[i] == clause[edge]
            pulls.append((2.0 if pair else 1.0) / d * (1.0 if same else 0.25))
        nearest = max(range(len(candidates)), key=lambda j: pulls[j])
        score[nearest] += pulls[nearest]
    best = max(range(len(candidates)), key=lambda j: score[j])
    _, trimmed, end = candidates[best]
    return sentence[tokens[trimmed[0]].start():end]
