"""Everything specific to one natural language lives in one module here.

`language(code)` returns that module; the pipeline takes it from `Settings.language`, so a new
language is one new module with the same names as `en.py` (patterns, word lists, stemmer).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import RagError


def language(code: str) -> ModuleType:
    try:
        return importlib.import_module(f"{__name__}.{code}")
    except ModuleNotFoundError:
        raise RagError(f"no language module rag/lang/{code}.py") from None
