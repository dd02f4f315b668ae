"""Follow-up questions: rewrite "When did he ratify it?" into a standalone question.

Retrieval and answering only ever see the standalone question, so the answer still cites
article sentences and nothing from the conversation itself. The rewrite is rule-based on
purpose: the default 270M base model cannot be trusted to rewrite, and rules are
predictable, instant and shown with --verbose. People are found in the documents
themselves (a capitalised name after a title such as "President" or "Foreign Minister"),
so "he" resolves to someone the article actually names.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

TITLES = (r"President|Prime Minister|Minister|[Ll]eader|Chancellor|Secretary(?:-General)?|[Ss]pokes(?:man|woman|person)"
          r"|[Aa]mbassador|General|King|Queen|Senator|Governor|Mayor|Director|[Cc]hairman|Chief|Dr\.|Mr\.|Mrs\.|Ms\.")
NAME = r"[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+){0,3}"
TITLED = re.compile(rf"\b(?:{TITLES})\s+({NAME})")
PERSON_PRONOUN = re.compile(r"\b(he|him|his|she|her|hers)\b", re.I)
THING_PRONOUN = re.compile(r"\b(it|its)\b", re.I)
# "What about Kim?" / "And Choe?": the previous question, asked about someone else.
ELLIPSIS = re.compile(r"^\s*(?:and|what about|how about)\s+(.+?)\s*\??\s*$", re.I)
PHRASE = re.compile(r"\b(?:the|this|that|these|those)\s+[\w’'-]+(?:\s+[\w’'-]+){0,4}", re.I)
# Words that end a noun phrase taken from a question ("the treaty | say about ...").
PHRASE_END = {
    "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "say", "says", "said", "mean", "means",
    "include", "includes", "provide", "provides", "have", "has", "had", "will", "would", "can", "could", "to",
    "for", "in", "on", "at", "by", "with", "from", "about", "after", "before", "and", "or", "that", "which",
    "who", "whom", "when", "where", "why", "how", "what", "if", "than", "as", "into", "against", "between",
}
MARKERS = re.compile(r"\[S\d+\]|The article says:|[“”\"]")


def people(texts: Iterable[str]) -> dict[str, str]:
    """Every way the documents refer to a titled person: full name and each part → full name."""
    found: dict[str, str] = {}
    for text in texts:
        for match in TITLED.finditer(text):
            full = match.group(1)
            found.setdefault(full, full)
            for part in full.split():
                if len(part) > 2:
                    found.setdefault(part, full)
    return found


def _first_person(text: str, names: dict[str, str]) -> str | None:
    best: tuple[int, str] | None = None
    for alias in names:
        m = re.search(rf"\b{re.escape(alias)}\b", text)
        if m and (best is None or m.start() < best[0] or (m.start() == best[0] and len(alias) > len(best[1]))):
            best = (m.start(), alias)
    return best[1] if best else None


def _first_phrase(text: str) -> str | None:
    for match in PHRASE.finditer(text):
        words = match.group(0).split()
        kept = [words[0]]
        for word in words[1:]:
            if word.lower().strip("?.,!") in PHRASE_END:
                break
            kept.append(word.strip("?.,!"))
        if len(kept) > 1:
            return " ".join(["the", *kept[1:]])
    return None


def _replace(question: str, pattern: re.Pattern, referent: str) -> str:
    def sub(m: re.Match) -> str:
        word = m.group(0).lower()
        possessive = word in {"his", "its", "hers"}
        value = referent + ("’s" if possessive else "")
        return value[0].upper() + value[1:] if m.start() == 0 else value

    return pattern.sub(sub, question)


def rewrite(question: str, previous: Sequence[tuple[str, str]], names: dict[str, str]) -> str:
    """The standalone form of `question` given the earlier (standalone question, answer) turns."""
    if not previous:
        return question
    last_q, last_a = previous[-1]
    last_a = MARKERS.sub(" ", last_a)
    ellipsis = ELLIPSIS.match(question)
    if ellipsis:
        subject = ellipsis.group(1)
        # Swap like for like: a person for a person, a thing for a thing.
        target = _first_person(last_q, names) if _first_person(subject, names) else _first_phrase(last_q)
        if target:
            return last_q.replace(target, subject, 1)
        return question
    out = question
    if PERSON_PRONOUN.search(out):
        person = _first_person(last_a, names) or _first_person(last_q, names)
        if person is None:  # an earlier turn may still name them
            for q, a in reversed(previous[:-1]):
                person = _first_person(q, names) or _first_person(MARKERS.sub(" ", a), names)
                if person:
                    break
        if person:
            out = _replace(out, PERSON_PRONOUN, person)
    if THING_PRONOUN.search(out):
        thing = _first_phrase(last_q) or _first_phrase(last_a)
        if thing:
            out = _replace(out, THING_PRONOUN, thing)
    return out


def standalone(question: str, history: Sequence[tuple[str, str]], names: dict[str, str]) -> str:
    """Rewrite the whole conversation in order, so "it" can refer to what "it" meant before."""
    resolved: list[tuple[str, str]] = []
    for q, a in history:
        resolved.append((rewrite(q, resolved, names), a))
    return rewrite(question, resolved, names)
