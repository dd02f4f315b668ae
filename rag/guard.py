"""Cheap checks that decide, before and after generation, whether the article can answer.

The 270M model cannot judge answerability (its yes/no log-probabilities ranked answerable
questions *below* unanswerable ones), so the decision rests on retrieval scores, the
expected answer type and verification, never on the model's say-so alone.
"""

from __future__ import annotations

import re

# Questions that try to steer the assistant instead of asking about the document.
INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instructions?|article|context|rules|"
    r"prompt|above|previous|sources?|documents?|everything)\b"
    r"|\b(system|hidden|initial|original)\s+(prompt|instructions?|message)\b"
    r"|\b(reveal|print|show|repeat|output|leak)\b.{0,30}\b(your|the)\s+(prompt|instructions?|rules)\b"
    r"|\byou are now\b|\bact as\b|\bpretend (to be|you)\b|\bjailbreak\b|\bdeveloper mode\b"
    r"|\bwithout (using|looking at|the) (the )?(article|context|sources?)\b"
    r"|\bfrom your own knowledge\b|\bmake (something|it) up\b",
    re.IGNORECASE,
)

MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
DATE = re.compile(rf"\b(({MONTHS})\b|(1[89]|20)\d\d\b|\d{{1,2}}(st|nd|rd|th)\b|yesterday|today|last (week|month|year))", re.I)
NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                    r"hundreds?|thousands?|millions?|billions?|dozens?|several|both)\b", re.I)
NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:[- ][A-Z][a-z]+)*")
# Question words whose answers have a recognisable shape in text.
QTYPES = [
    ("date", re.compile(r"^\s*(when|what (year|date|month|day)|on what (date|day)|in what (year|month))\b", re.I)),
    ("number", re.compile(r"^\s*(how (many|much)|what (number|percentage|share|amount))\b", re.I)),
    ("name", re.compile(r"^\s*(who|whom|whose)\b", re.I)),
]


def is_injection(question: str) -> bool:
    return bool(INJECTION.search(question))


def expected_type(question: str) -> str | None:
    for name, pattern in QTYPES:
        if pattern.search(question):
            return name
    return None


def has_type(text: str, kind: str | None, question: str = "") -> bool:
    """Does `text` contain something of the expected answer type (beyond the question's words)?"""
    if kind is None:
        return True
    if kind == "date":
        return bool(DATE.search(text))
    if kind == "number":
        return bool(NUMBER.search(text))
    if kind == "name":
        asked = {w.lower() for w in re.findall(r"\w+", question)}
        return any(m.group().split()[0].lower() not in asked for m in NAME.finditer(text))
    return True


def says_unanswerable(text: str) -> bool:
    return bool(re.search(r"\b(not in the (article|text|sentences)|does not say|doesn't say|"
                          r"no information|not mentioned|cannot answer|can't answer|unknown)\b", text, re.I))
