"""Follow-up questions: rewrite "When did he ratify it?" into a standalone question.

Retrieval and answering only ever see the standalone question, so the answer still cites
article sentences and nothing from the conversation itself. The rewrite is rule-based on
purpose: the default 270M base model cannot be trusted to rewrite, and rules are
predictable, instant and shown with --verbose. People are found in the documents
themselves (rag/lang/words.py's `titled_people`: a capitalised name after a title such as
"President" or "Foreign Minister"), so "he" resolves to someone the article actually names.
Every English word and pattern comes from the language module (`lang`, rag/lang/en.py).
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Sequence

from ..types import MARKER


def _markers(lang: ModuleType) -> re.Pattern:
    """What an earlier answer holds besides its words: citation markers, the quote's opening, quotes."""
    return re.compile(rf"{MARKER.pattern}|{re.escape(lang.QUOTE_OPENING)}|[“”\"]")


def _first_person(text: str, names: dict[str, str]) -> str | None:
    best: tuple[int, str] | None = None
    for alias in names:
        m = re.search(rf"\b{re.escape(alias)}\b", text)
        if m and (best is None or m.start() < best[0] or (m.start() == best[0] and len(alias) > len(best[1]))):
            best = (m.start(), alias)
    return best[1] if best else None


def _first_phrase(text: str, lang: ModuleType) -> str | None:
    for match in lang.PHRASE.finditer(text):
        words = match.group(0).split()
        kept = [words[0]]
        for word in words[1:]:
            if word.lower().strip("?.,!") in lang.PHRASE_END:
                break
            kept.append(word.strip("?.,!"))
        if len(kept) > 1:
            return " ".join([lang.THE, *kept[1:]])
    return None


def _replace(question: str, pattern: re.Pattern, referent: str, lang: ModuleType) -> str:
    def sub(m: re.Match) -> str:
        possessive = m.group(0).lower() in lang.POSSESSIVE_PRONOUNS
        value = referent + (lang.POSSESSIVE_SUFFIX if possessive else "")
        return value[0].upper() + value[1:] if m.start() == 0 else value

    return pattern.sub(sub, question)


def rewrite(question: str, previous: Sequence[tuple[str, str]], names: dict[str, str], lang: ModuleType) -> str:
    """The standalone form of `question` given the earlier (standalone question, answer) turns."""
    if not previous:
        return question
    markers = _markers(lang)
    last_q, last_a = previous[-1]
    last_a = markers.sub(" ", last_a)
    ellipsis = lang.ELLIPSIS.match(question)
    if ellipsis:
        subject = ellipsis.group(1)
        # Swap like for like: a person for a person, a thing for a thing.
        target = _first_person(last_q, names) if _first_person(subject, names) else _first_phrase(last_q, lang)
        if target:
            return last_q.replace(target, subject, 1)
        return question
    out = question
    if lang.PERSON_PRONOUN.search(out):
        person = _first_person(last_a, names) or _first_person(last_q, names)
        if person is None:  # an earlier turn may still name them
            for q, a in reversed(previous[:-1]):
                person = _first_person(q, names) or _first_person(markers.sub(" ", a), names)
                if person:
                    break
        if person:
            out = _replace(out, lang.PERSON_PRONOUN, person, lang)
    if lang.THING_PRONOUN.search(out):
        thing = _first_phrase(last_q, lang) or _first_phrase(last_a, lang)
        if thing:
            out = _replace(out, lang.THING_PRONOUN, thing, lang)
    return out


def standalone(question: str, history: Sequence[tuple[str, str]], names: dict[str, str], lang: ModuleType) -> str:
    """Rewrite the whole conversation in order, so "it" can refer to what "it" meant before."""
    resolved: list[tuple[str, str]] = []
    for q, a in history:
        resolved.append((rewrite(q, resolved, names, lang), a))
    return rewrite(question, resolved, names, lang)
