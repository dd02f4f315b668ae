"""Where an index lives, behind one protocol: a directory of files (FAISS) or a PostgreSQL
database (pgstore.py). The indexer and the assistant hold an `IndexLocation` and never ask which."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import ContextManager, Protocol

import numpy as np

from ..errors import IndexError_
from ..types import Chunk, Sentence
from . import store
from .store import Store


class IndexLocation(Protocol):
    """`name`: how messages show it (a path, or a URL without credentials);
    `files_on_disk`: the documents' files are where it was built, so a changed file is noticed
    when the index opens (a database read from other machines: False, `rag index` updates it)."""

    name: str
    files_on_disk: bool

    def read_manifest(self) -> dict | None: ...

    def load(self, manifest: dict) -> Store: ...

    def save(self, sentences: list[Sentence], chunks: list[Chunk], sentence_vectors: np.ndarray,
             chunk_vectors: np.ndarray, documents: list[dict], *, embedder, chunking: dict, next_id: int) -> dict: ...

    def stamp(self) -> object:
        """Identifies the current manifest: it changes when an update lands."""

    def lock(self) -> ContextManager[None]:
        """Serialises writers across processes."""


class Directory:
    """An index in a directory of files (FAISS), next to the documents it was built from."""

    files_on_disk = True

    def __init__(self, index_dir: Path):
        self.index_dir = index_dir
        self.name = str(index_dir)

    def read_manifest(self) -> dict | None:
        return store.read_manifest(self.index_dir)

    def load(self, manifest: dict) -> Store:
        return store.load(self.index_dir, manifest)

    def save(self, sentences: list[Sentence], chunks: list[Chunk], sentence_vectors: np.ndarray,
             chunk_vectors: np.ndarray, documents: list[dict], *, embedder, chunking: dict, next_id: int) -> dict:
        return store.save(self.index_dir, sentences, chunks, sentence_vectors, chunk_vectors, documents,
                          embedder=embedder, chunking=chunking, next_id=next_id)

    def stamp(self):
        return store.stamp(self.index_dir)

    @contextmanager
    def lock(self):
        """Serialises writers (and a reader that may have to rebuild) across processes."""
        from filelock import FileLock, Timeout

        self.index_dir.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(self.index_dir / ".lock"), timeout=600):
                yield
        except Timeout:
            raise IndexError_(f"another `rag index` holds the lock on {self.index_dir}; try again") from None


def location(settings) -> IndexLocation:
    """The index named by the settings: a PostgreSQL database (--store) or a directory."""
    if settings.store:
        from .pgstore import Postgres

        return Postgres(settings.store)
    return Directory(settings.index_dir)
