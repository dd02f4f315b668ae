"""The GBNF grammars llama.cpp's server copies and cites under, written out for small inputs."""

import pytest

from rag.generation import gbnf


@pytest.mark.parametrize("text, literal", [
    ("plain", '"plain"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ("two\nlines\tand tab", '"two\\nlines\\tand tab"'),
])
def test_gbnf_literal_escapes(text, literal):
    assert gbnf.gbnf_literal(text) == literal


@pytest.mark.parametrize("make, expected", [
    (lambda: gbnf.span_grammar([7, 8]), 'root ::= p0 | p1\np0 ::= <[7]> (p1 | "\\n")?\np1 ::= <[8]> ("\\n")?'),
    # Word edges: no span begins at 9 ("PACE" of "PSPACE") or ends after 8 ("PS").
    (lambda: gbnf.span_grammar([7, 8, 9], ([True, True, False], [True, False, True])),
     'root ::= p0 | p1\np0 ::= <[7]> (p1 | "\\n")?\np1 ::= <[8]> p2\np2 ::= <[9]> ("\\n")?'),
    # Several sources (the reader: shown sentences and "None"): a run of any one, never across two.
    (lambda: gbnf.copy_grammar([([7, 8], None), ([5], None)]),
     'root ::= s0p0 | s0p1 | s1p0\ns0p0 ::= <[7]> (s0p1 | "\\n")?\ns0p1 ::= <[8]> ("\\n")?\ns1p0 ::= <[5]> ("\\n")?'),
    (lambda: gbnf.copy_grammar([([7, 8], ([True, False], [False, True])), ([], None)]),
     'root ::= p0\np0 ::= <[7]> p1\np1 ::= <[8]> ("\\n")?'),
    (lambda: gbnf.forced_grammar([5, 6]), "root ::= <[5]> <[6]>"),
    (lambda: gbnf.citation_grammar(["S1", "S12"]), 'root ::= ([^\\[] | "[" id "]")*\nid ::= "S1" | "S12"'),
])
def test_grammars(make, expected):
    assert make() == expected


@pytest.mark.parametrize("make", [lambda: gbnf.span_grammar([]), lambda: gbnf.copy_grammar([([], None)])])
def test_a_copy_grammar_needs_tokens(make):
    with pytest.raises(ValueError):
        make()
