"""Arrays computed once from a model file, kept on disk and memory-mapped by later processes.

The question embedder's weights are read (87 MB) and laid out for its products (transposed, query/
key/value fused) on every cold start: 0.3 s of `rag ask`'s main thread, which runs beside the GGUF's
load and was the longer of the two. Mapped from a file already laid out, they are ready in a few
milliseconds and paged in from the OS cache by the first product.

One file per source and layout: a header (JSON: the key, each array's offset, shape and dtype) then
the arrays, 64-byte aligned. The key is the source's path, size and mtime plus the caller's layout
name, so a new model file or a changed layout is a miss, never stale arrays. Written to a temporary
file and renamed; a damaged or foreign file is a miss too, and a cache that cannot be written only
costs the time it would have saved.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

MAGIC = b"RAGW1\n"
ALIGN = 64


def _key(source: Path, layout: str) -> str:
    st = source.stat()
    return f"{layout}|{source.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def cache_path(cache: Path, source: Path, layout: str) -> Path:
    digest = hashlib.sha256(_key(source, layout).encode("utf-8")).hexdigest()[:20]
    return cache / f"{layout}-{digest}.bin"


def read(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """The arrays in `path`, memory-mapped read-only; None unless it is whole and made for `key`."""
    try:
        with path.open("rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                return None
            size = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(size))
        if header.get("key") != key or path.stat().st_size != header["total"]:
            return None
        data = np.asarray(np.memmap(path, dtype=np.uint8, mode="r"))  # plain arrays, the map kept alive by them
        out = {}
        for name, (offset, shape, dtype) in header["arrays"].items():
            count = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            out[name] = data[offset:offset + count].view(dtype).reshape(shape)
        return out
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(path: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
    layout, offset = {}, 0
    for name, a in arrays.items():
        layout[name] = [offset, list(a.shape), a.dtype.str]
        offset += -(-a.nbytes // ALIGN) * ALIGN
    header = {"key": key, "arrays": layout}
    # The header's own length moves the data: place the arrays after it, rounded up.
    text = json.dumps(header).encode("utf-8")
    start = -(-(len(MAGIC) + 8 + len(text) + 16 * len(layout) + 64) // ALIGN) * ALIGN
    for entry in layout.values():
        entry[0] += start
    header["total"] = start + offset
    text = json.dumps(header).encode("utf-8")
    assert len(MAGIC) + 8 + len(text) <= start
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + len(text).to_bytes(8, "little") + text)
            for name, a in arrays.items():
                f.seek(layout[name][0])
                f.write(np.ascontiguousarray(a).tobytes())
            f.truncate(header["total"])
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load(source: Path, layout: str, cache: Path | None,
         build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """`build()`'s arrays, from `cache` when an earlier process left them there for this
    `source` and `layout`; otherwise built now and saved for the next process."""
    if cache is None:
        return build()
    key = _key(source, layout)
    path = cache_path(cache, source, layout)
    found = read(path, key)
    if found is not None:
        return found
    arrays = build()
    try:
        write(path, key, arrays)
    except OSError:
        pass  # a read-only or full cache: this process has its arrays all the same
    return arrays
