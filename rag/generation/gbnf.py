"""GBNF grammars for llama.cpp's server: the constraints of rag/generation/constraints.py written
as grammars, token for token (`<[id]>`), so a served model copies exactly as the in-process one."""

from __future__ import annotations

from typing import Iterable, Sequence

Edges = tuple[Sequence[bool], Sequence[bool]]


def gbnf_literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


def _span_rules(token_ids: Sequence[int], edges: Edges | None, name: str) -> tuple[list[str], list[str]]:
    """The rules for a contiguous run of one source's tokens (rule i: the run from token i on),
    and the rules a run may begin with."""
    n = len(token_ids)
    starts, ends = edges or ([True] * n, [True] * n)
    rules = []
    for i, token in enumerate(token_ids):
        if i + 1 < n and not ends[i]:
            rules.append(f"{name}{i} ::= <[{int(token)}]> {name}{i + 1}")
            continue
        nxt = f"{name}{i + 1} | " if i + 1 < n else ""
        rules.append(f'{name}{i} ::= <[{int(token)}]> ({nxt}"\\n")?')
    return [f"{name}{i}" for i in range(n) if starts[i]], rules


def span_grammar(token_ids: Sequence[int], edges: Edges | None = None) -> str:
    """A contiguous run of these tokens, then optionally a newline (which stops generation):
    SpanConstraint as a grammar; with `edges` (word_edges' starts and ends) it begins and ends
    on word edges."""
    return copy_grammar([(token_ids, edges)])


def copy_grammar(sources: Sequence[tuple[Sequence[int], Edges | None]]) -> str:
    """A contiguous run of any one source's tokens (SpanConstraint over several sources: the
    reader copying from one of the shown sentences, or "None")."""
    sources = [(ids, edges) for ids, edges in sources if len(ids)]
    if not sources:
        raise ValueError("nothing to copy from")
    names = ["p"] if len(sources) == 1 else [f"s{k}p" for k in range(len(sources))]
    firsts: list[str] = []
    rules: list[str] = []
    for (ids, edges), name in zip(sources, names):
        begin, own = _span_rules(ids, edges, name)
        firsts += begin
        rules += own
    return "\n".join(["root ::= " + " | ".join(firsts)] + rules)


def citation_grammar(allowed_ids: Iterable[str]) -> str:
    """Free text in which every "[" opens a marker naming one of the allowed ids."""
    ids = " | ".join(gbnf_literal(i) for i in allowed_ids)
    return f'root ::= ([^\\[] | "[" id "]")*\nid ::= {ids}'


def forced_grammar(token_ids: Sequence[int]) -> str:
    """Exactly these tokens (llama.cpp's `<[id]>` syntax): a character grammar would let greedy
    decoding spell the question with other tokens (" " then "Who") and score that instead."""
    return "root ::= " + " ".join(f"<[{int(t)}]>" for t in token_ids)
