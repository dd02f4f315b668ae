"""rag: local, offline question answering with sentence-level citations.

    from rag import Assistant
    answer = Assistant().ask("When did Putin give final approval to the treaty?")
    print(answer.answer, [c.id for c in answer.citations])
"""

from __future__ import annotations

__all__ = ["Assistant", "Answer", "Citation", "Settings"]


def __getattr__(name: str):
    # Lazy: `import rag` (and `rag --help`) must not pay for numpy, torch or llama.cpp.
    if name == "Assistant":
        from .pipeline import Assistant

        return Assistant
    if name in ("Answer", "Citation"):
        from . import types

        return getattr(types, name)
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(name)
