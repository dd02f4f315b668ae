"""Build, open and refresh the index, under a lock so concurrent runs cannot interleave."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from filelock import FileLock, Timeout

from . import store as store_mod
from .corpus import collect_paths, read_document
from .errors import CorpusError, IndexError_
from .settings import BUNDLED_CORPUS, Settings

Progress = Callable[[str, int, int], None]
Notify = Callable[[str], None]


def _lock(index_dir: Path) -> FileLock:
    index_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(index_dir / ".lock"), timeout=600)


def build_index(
    settings: Settings,
    embedder,
    paths: list[Path] | None = None,
    progress: Progress | None = None,
    notify: Notify | None = None,
) -> dict:
    """Index the given .txt/.md files (or directories of them); the bundled article by default."""
    files, warnings = collect_paths(paths or [BUNDLED_CORPUS])
    for warning in warnings:
        if notify:
            notify(warning)
    if not files:
        raise CorpusError("no .txt or .md files to index")
    documents = [read_document(p) for p in files]
    names = [d.name for d in documents]
    if len(set(names)) != len(names):
        raise CorpusError("two documents share a file name; citations name documents by file name")
    try:
        with _lock(settings.index_dir):
            return store_mod.build(
                documents,
                settings.index_dir,
                embedder,
                chunk_sentences=settings.chunk_sentences,
                chunk_overlap=settings.chunk_overlap,
                progress=progress,
            )
    except Timeout:
        raise IndexError_(f"another `rag index` holds the lock on {settings.index_dir}; try again") from None


def open_index(settings: Settings, embedder, progress: Progress | None = None, notify: Notify | None = None):
    """Load the index, building or rebuilding it when it is missing or stale."""
    index_dir = settings.index_dir
    manifest = store_mod.read_manifest(index_dir)
    if manifest is None:
        if notify:
            notify(f"no index in {index_dir}; building it from the bundled article")
        manifest = build_index(settings, embedder, progress=progress)
    else:
        reason = store_mod.stale_reason(manifest, embedder)
        if reason:
            sources = [Path(d["path"]) for d in manifest.get("documents", []) if d.get("path")]
            if not sources or not all(p.exists() for p in sources):
                raise IndexError_(f"{reason}, and its source files are gone; run `rag index PATH ... --index-dir {index_dir}`")
            if notify:
                notify(f"rebuilding the index: {reason}")
            manifest = build_index(settings, embedder, sources, progress=progress)
    with _lock(index_dir):
        manifest = store_mod.read_manifest(index_dir) or manifest
        return store_mod.load(index_dir, manifest)
