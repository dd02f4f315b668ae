"""Language-neutral text helpers: Unicode words, folding for case and accents, stems."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# A word: letters or digits of any script, with inner apostrophes, hyphens and periods ("U.S.").
WORD = re.compile(r"[^\W_](?:[\w’'.-]*[^\W_])?")


def words(text: str) -> list[re.Match]:
    return list(WORD.finditer(text))


# Latin letters that Unicode does not decompose into a base letter plus an accent.
_UNDECOMPOSED = str.maketrans({"ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ß": "ss",
                               "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th",
                               "ı": "i"})


def fold(text: str) -> str:
    """Lower-case without accents: "José" and "Jose", "Vardø" and "Vardo" are one name to a user."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().replace("’", "'")


def bare(word: str) -> str:
    """The word without a possessive ending: "Korea's" -> "Korea"."""
    return re.sub(r"(’s|'s|’|')$", "", word)


def is_capitalised(word: str) -> bool:
    return word[:1].isupper()


@lru_cache(maxsize=8)
def stemmer(algorithm: str):
    import Stemmer

    return Stemmer.Stemmer(algorithm)


def stem_all(tokens: list[str], algorithm: str) -> list[str]:
    return stemmer(algorithm).stemWords(tokens)
