"""The persisted index: FAISS vectors, sentence/chunk store and a manifest, written atomically.

Data files carry a per-build token in their names and the manifest is replaced last, so a
build that dies half-way leaves the previous manifest pointing at the previous, intact files.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import IndexError_
from ..types import Chunk, Sentence
from .vectors import FaissVectors, VectorIndex

# 2: sentences carry page and section; documents their title; ids come from next_sentence_id.
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
# Above this many sentences exact search gives way to HNSW (see models.md / README).
APPROX_THRESHOLD = 50_000
# HNSW's search breadth. At 1M made vectors (`rag bench --vector-sizes 1000000`): recall@10 0.924 /
# 0.985 / 0.995 / 0.999 at 64 / 128 / 256 / 512, p50 1.0 / 1.4 / 2.2 / 3.1 ms; an earlier set of
# made vectors gave 0.935 at 128. 256 keeps recall above 0.95 with margin for 0.8 ms.
EF_SEARCH = 256


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file in the same directory, fsync, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _vector_index(vectors: np.ndarray, approximate: bool | None = None):
    import faiss

    dim = vectors.shape[1]
    if approximate if approximate is not None else len(vectors) > APPROX_THRESHOLD:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    return index


def _faiss_bytes(index) -> bytes:
    import faiss

    return faiss.serialize_index(index).tobytes()


@dataclass
class Store:
    """A loaded index: sentences, chunks and their vector indexes."""

    manifest: dict
    sentences: list[Sentence]
    chunks: list[Chunk]
    sentence_index: VectorIndex
    chunk_index: VectorIndex
    by_id: dict[str, Sentence] = field(init=False)
    position: dict[str, int] = field(init=False)

    def __post_init__(self):
        self.by_id = {s.id: s for s in self.sentences}
        self.position = {s.id: i for i, s in enumerate(self.sentences)}
        self._titles = {d["name"]: d.get("title") for d in self.manifest.get("documents", [])}

    def title_of(self, doc: str) -> str | None:
        return self._titles.get(doc)


def new_manifest(sentences: list, chunks: list, documents: list[dict], *, embedder, chunking: dict, next_id: int,
                 **where) -> dict:
    """What every index records about itself, wherever it lives (`where`: its files, or its store)."""
    return {
        "format_version": FORMAT_VERSION,
        "embedder": {"name": embedder.name, "dim": embedder.dim},
        "documents": documents,
        "chunking": chunking,
        "counts": {"documents": len(documents), "sentences": len(sentences), "chunks": len(chunks)},
        # Sentence ids are never reused: a link to S40 of a removed document must not point
        # at another sentence later.
        "next_sentence_id": next_id,
        **where,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def save(
    index_dir: Path,
    sentences: list[Sentence],
    chunks: list[Chunk],
    sentence_vectors: np.ndarray,
    chunk_vectors: np.ndarray,
    documents: list[dict],
    *,
    embedder,
    chunking: dict,
    next_id: int,
) -> dict:
    """Persist a complete index and return its manifest. Caller holds the index lock.

    Data files carry a new token; the manifest is replaced last, so until then readers (and a
    build killed half-way) keep the previous, intact index."""
    index_dir.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:10]
    files = {
        "sentences": f"sentences-{token}.jsonl",
        "chunks": f"chunks-{token}.jsonl",
        "sentence_index": f"sentences-{token}.faiss",
        "chunk_index": f"chunks-{token}.faiss",
    }
    payloads = {
        "sentences": "".join(json.dumps(asdict(s), ensure_ascii=False) + "\n" for s in sentences).encode(),
        "chunks": "".join(
            json.dumps({"id": c.id, "sentence_ids": list(c.sentence_ids)}) + "\n" for c in chunks
        ).encode(),
        "sentence_index": _faiss_bytes(_vector_index(sentence_vectors)),
        "chunk_index": _faiss_bytes(_vector_index(chunk_vectors)),
    }
    for key, name in files.items():
        atomic_write(index_dir / name, payloads[key])
    manifest = new_manifest(sentences, chunks, documents, embedder=embedder, chunking=chunking, next_id=next_id,
                            files=files, sizes={key: len(payloads[key]) for key in files})
    atomic_write(index_dir / MANIFEST, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
    _remove_unreferenced(index_dir, set(files.values()))
    return manifest


def _remove_unreferenced(index_dir: Path, keep: set[str]) -> None:
    for path in index_dir.iterdir():
        if path.suffix in {".jsonl", ".faiss"} and path.name not in keep:
            path.unlink(missing_ok=True)


def read_manifest(index_dir: Path) -> dict | None:
    """The manifest, None when there is no index, IndexError_ when it is unreadable."""
    path = index_dir / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["files"], manifest["embedder"], manifest["format_version"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise IndexError_(f"the index manifest {path} is corrupt ({exc}); rebuild it with `rag index`") from None
    return manifest


def stale_reason(manifest: dict, embedder) -> str | None:
    """Why this index no longer matches its sources or embedder, or None if it does."""
    if manifest.get("format_version") != FORMAT_VERSION:
        return f"index format {manifest.get('format_version')} is not the current {FORMAT_VERSION}"
    emb = manifest.get("embedder", {})
    if emb.get("name") != embedder.name or emb.get("dim") != embedder.dim:
        return f"index was built with embedder {emb.get('name')!r}, not {embedder.name!r}"
    return None


def stamp(index_dir: Path) -> tuple[int, int] | None:
    """Identity of the current manifest (mtime, inode): it changes when an update lands."""
    try:
        st = (index_dir / MANIFEST).stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_ino


def load(index_dir: Path, manifest: dict) -> Store:
    import faiss

    files, sizes = manifest["files"], manifest.get("sizes", {})

    def path_of(key: str) -> Path:
        path = index_dir / files[key]
        if not path.exists():
            raise IndexError_(f"index file {path} is missing; rebuild with `rag index --index-dir {index_dir}`")
        if key in sizes and path.stat().st_size != sizes[key]:
            raise IndexError_(f"index file {path} is truncated or altered; rebuild with `rag index --index-dir {index_dir}`")
        return path

    try:
        sentences = [Sentence(**json.loads(line)) for line in path_of("sentences").read_text("utf-8").splitlines()]
        chunks = []
        for line in path_of("chunks").read_text("utf-8").splitlines():
            row = json.loads(line)
            ids = tuple(row["sentence_ids"])
            chunks.append(Chunk(row["id"], ids, ""))
        sentence_index = faiss.read_index(str(path_of("sentence_index")))
        chunk_index = faiss.read_index(str(path_of("chunk_index")))
    except IndexError_:
        raise
    except Exception as exc:  # faiss raises RuntimeError, json ValueError, dataclass TypeError
        raise IndexError_(
            f"the index in {index_dir} is corrupt ({type(exc).__name__}); rebuild with `rag index --index-dir {index_dir}`"
        ) from None
    for index in (sentence_index, chunk_index):
        if isinstance(index, faiss.IndexHNSW):  # indexes saved before EF_SEARCH changed search as wide
            index.hnsw.efSearch = EF_SEARCH
    sentence_index, chunk_index = FaissVectors(sentence_index), FaissVectors(chunk_index)
    if sentence_index.count != len(sentences) or chunk_index.count != len(chunks):
        raise IndexError_(f"the index in {index_dir} is inconsistent; rebuild with `rag index --index-dir {index_dir}`")
    by_id = {s.id: s for s in sentences}
    chunks = [Chunk(c.id, c.sentence_ids, " ".join(by_id[i].text for i in c.sentence_ids)) for c in chunks]
    return Store(manifest, sentences, chunks, sentence_index, chunk_index)
