"""Build, update and open the index, under a lock so concurrent runs cannot interleave.

Updates are incremental: a file whose bytes hash as before keeps its sentences, ids and
vectors; only new and changed files are read, split and embedded."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import CorpusError, IndexError_
from ..lang import language as _language
from ..settings import BUNDLED_CORPUS, Settings
from ..stores import store as store_mod
from ..stores.location import IndexLocation, location
from ..types import Chunk, Sentence
from . import FORMATS, Document, digest, read
from .corpus import collect_paths, make_chunks, split_sentences

Progress = Callable[[str, int, int], None]
Notify = Callable[[str], None]
# Applies a function to each item and returns the results in order: in this process by default,
# or as tasks on a cluster (rag/ingest/on_ray.py).
Mapper = Callable[[Callable, list], list]


def in_process(fn: Callable, items: list) -> list:
    return [fn(item) for item in items]


@dataclass
class IndexReport:
    """What an update did, by document name."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    sentences: int = 0  # in the whole index afterwards
    embedded: int = 0  # sentences embedded by this update
    seconds: float = 0.0
    workers: int = 1  # embedder processes (Ray actors with --ray)
    index_dir: str = ""
    manifest: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        return {"added": self.added, "updated": self.updated, "removed": self.removed, "unchanged": self.unchanged,
                "sentences": self.sentences, "embedded": self.embedded, "seconds": round(self.seconds, 3),
                "sentences_per_s": round(self.embedded / self.seconds, 1) if self.seconds else None,
                "workers": self.workers, "index_dir": self.index_dir}

    def summary(self) -> str:
        parts = [f"{len(v)} {k}" for k, v in (("added", self.added), ("updated", self.updated),
                                              ("removed", self.removed), ("unchanged", self.unchanged)) if v]
        return (f"{', '.join(parts) or 'nothing to index'}: {self.manifest.get('counts', {}).get('documents', 0)} "
                f"document(s), {self.sentences} sentences ({self.embedded} embedded) in {self.seconds:.1f} s "
                f"→ {self.index_dir}")


def _current(where, embedder, notify: Notify | None):
    """The index to update, or None when there is none or it cannot be reused (other format or
    embedder, damaged files): then every document is embedded again."""
    manifest = where.read_manifest()
    if manifest is None:
        return None
    reason = store_mod.stale_reason(manifest, embedder)
    if reason:
        if notify:
            notify(f"re-embedding everything: {reason}")
        return None
    try:
        return where.load(manifest)
    except IndexError_ as exc:
        if notify:
            notify(f"re-embedding everything: {exc}")
        return None


def update_index(
    settings: Settings,
    embedder,
    paths: list[Path] | None = None,
    *,
    prune: bool = False,
    progress: Progress | None = None,
    notify: Notify | None = None,
    where: IndexLocation | None = None,
    mapper: Mapper = in_process,
) -> IndexReport:
    """Bring the index up to date with `paths` (files and folders, recursive). No paths: the
    indexed documents' own files (the bundled article when there is no index). `prune` drops
    indexed documents that are not among `paths`. `where`: the settings' location by default.
    `mapper` reads and splits the changed files (one call per file); `embedder` embeds them:
    both may spread the work over a cluster (rag/ingest/on_ray.py), with the same result."""
    t0 = time.perf_counter()
    where = where or location(settings)
    with where.lock():
        report = _update(settings, where, embedder, paths, prune, progress, notify, mapper)
    report.seconds = time.perf_counter() - t0
    report.index_dir = where.name
    return report


def build_index(settings: Settings, embedder, paths: list[Path] | None = None, progress: Progress | None = None,
                notify: Notify | None = None, where: IndexLocation | None = None, mapper: Mapper = in_process) -> dict:
    """Make the index hold exactly `paths` (the bundled article by default); returns the manifest."""
    return update_index(settings, embedder, paths or [BUNDLED_CORPUS], prune=True, progress=progress,
                        notify=notify, where=where, mapper=mapper).manifest


def _update(settings, where, embedder, paths, prune, progress, notify, mapper) -> IndexReport:
    current = _current(where, embedder, notify)
    old = {d["name"]: d for d in current.manifest["documents"]} if current else {}
    files = _files(current, where, paths, notify)
    report = IndexReport()
    changed = _changed(files, old, report)
    prepared = mapper(partial(prepare, language=settings.language), changed)
    fresh, split = _accept(changed, prepared, old, report, notify, single=len(files) == 1)
    given = {f.name for f in files}
    report.removed = [n for n in old if n not in given] if prune else []
    report.unchanged += [n for n in old if n not in given and not prune]
    if current and not fresh and not report.removed:
        report.sentences, report.manifest = len(current.sentences), current.manifest
        return report
    if not fresh and not old:
        raise CorpusError(f"no {FORMATS} files to index")

    next_id = current.manifest.get("next_sentence_id", len(current.sentences) + 1) if current else 1
    # Ids run on in document order, as one split of all the fresh documents would number them.
    new_sentences = [replace(s, id=f"S{next_id + i}") for i, s in enumerate(x for part in split for x in part)]
    next_id += len(new_sentences)
    new_chunks = make_chunks(new_sentences, settings.chunk_sentences, settings.chunk_overlap)
    report.embedded = len(new_sentences)
    new = _Part(new_sentences, new_chunks, _encode(embedder, "sentences", [s.text for s in new_sentences], progress),
                _encode(embedder, "chunks", [c.text for c in new_chunks], progress))
    kept = _Part(current.sentences, current.chunks, current.sentence_index.all(), current.chunk_index.all()) \
        if current else None
    # Documents keep their place; new ones go last.
    replaced = {d.name: d for d in fresh}
    order = [n for n in old if n not in report.removed] + [d.name for d in fresh if d.name not in old]
    documents = [_entry(replaced[name], len(new.of(name)[0])) if name in replaced else old[name] for name in order]
    merged = _Part.join([new.pick(name) if name in replaced else kept.pick(name) for name in order])
    if not merged.sentences:
        raise IndexError_("no sentences found in the given documents; nothing to index")
    # Chunk ids are internal: renumbered so they stay unique.
    chunks = [Chunk(f"C{i + 1}", c.sentence_ids, c.text) for i, c in enumerate(merged.chunks)]
    report.manifest = where.save(
        merged.sentences, chunks, merged.sentence_vectors.astype(np.float32), merged.chunk_vectors.astype(np.float32),
        documents, embedder=embedder,
        chunking={"sentences": settings.chunk_sentences, "overlap": settings.chunk_overlap}, next_id=next_id)
    report.sentences = len(merged.sentences)
    return report


def _files(current, where, paths, notify) -> list[Path]:
    """The files to index: `paths` expanded, or with none the indexed documents' own files."""
    if paths is None:
        # The indexed files again, even from an index that cannot be reused (older format).
        listed = (current.manifest if current else where.read_manifest() or {}).get("documents", [])
        paths = [Path(d["path"]) for d in listed if d.get("path")] or [BUNDLED_CORPUS]
        missing = [p for p in paths if not p.exists()]
        if missing:
            if notify:
                notify(f"{len(missing)} indexed file(s) are gone ({', '.join(p.name for p in missing[:3])}); "
                       f"`rag index --prune PATH ...` drops them")
            paths = [p for p in paths if p.exists()]
    files, warnings = collect_paths(paths)
    for warning in warnings:
        if notify:
            notify(warning)
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise CorpusError(f"two files are named {twice[0]}; citations name documents by file name, so rename one")
    return files


def _changed(files: list[Path], old: dict, report: IndexReport) -> list[Path]:
    """The files that are new or changed since `old` was indexed (report lists the unchanged)."""
    changed = []
    for path in files:
        before = old.get(path.name)
        if before and before["sha256"] == digest(path):
            report.unchanged.append(path.name)
        else:
            changed.append(path)
    return changed


def prepare(path: Path, language: str) -> tuple[Document | None, list[Sentence], str | None]:
    """Read one file and split it into sentences, numbered from S1 (the indexer renumbers them):
    (document, sentences, None), or (None, [], why) when it cannot be read. Runs wherever the
    mapper sends it, so it returns its error instead of raising it."""
    try:
        document = read(path)
    except CorpusError as exc:
        return None, [], str(exc)
    return document, split_sentences([document], _language(language)), None


def _accept(changed: list[Path], prepared: list, old: dict, report: IndexReport, notify,
            single: bool) -> tuple[list[Document], list[list[Sentence]]]:
    """The documents to index and their sentences; a file that cannot be read stops the update
    when it is the only one, else it is skipped and said."""
    fresh, split = [], []
    for path, (document, sentences, error) in zip(changed, prepared):
        if error is not None:
            if single:
                raise CorpusError(error)
            if notify:
                notify(f"skipped {path}: {error}")
            continue
        for warning in document.warnings:
            if notify:
                notify(warning)
        if not document.text.strip():
            continue
        (report.updated if path.name in old else report.added).append(path.name)
        fresh.append(document)
        split.append(sentences)
    return fresh, split


def _encode(embedder, label: str, texts: list[str], progress: Progress | None) -> np.ndarray:
    done = 0

    def step(n: int):
        nonlocal done
        done += n
        if progress:
            progress(label, done, len(texts))

    return embedder.encode(texts, progress=step) if texts else np.zeros((0, embedder.dim), np.float32)


def _entry(doc: Document, sentences: int) -> dict:
    return {"name": doc.name, "path": str(doc.path.resolve()) if doc.path else None, "sha256": doc.sha256,
            "title": doc.title, "sentences": sentences}


@dataclass
class _Part:
    """Sentences and chunks with their vectors, row for row; one document's, or several's."""

    sentences: list[Sentence]
    chunks: list[Chunk]
    sentence_vectors: np.ndarray
    chunk_vectors: np.ndarray

    def __post_init__(self):
        self._groups = _by_document(self.sentences, self.chunks)

    def of(self, name: str) -> tuple[list[int], list[int]]:
        return self._groups.get(name, ([], []))

    def pick(self, name: str) -> "_Part":
        rows, chunk_rows = self.of(name)
        return _Part([self.sentences[i] for i in rows], [self.chunks[i] for i in chunk_rows],
                     self.sentence_vectors[rows], self.chunk_vectors[chunk_rows])

    @staticmethod
    def join(parts: list["_Part"]) -> "_Part":
        if not parts:
            return _Part([], [], np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32))
        return _Part([s for p in parts for s in p.sentences], [c for p in parts for c in p.chunks],
                     np.concatenate([p.sentence_vectors for p in parts]), np.concatenate([p.chunk_vectors for p in parts]))


def _by_document(sentences: list[Sentence], chunks: list[Chunk]) -> dict[str, tuple[list[int], list[int]]]:
    """Positions of each document's sentences and chunks (a chunk never spans two documents)."""
    groups: dict[str, tuple[list[int], list[int]]] = {}
    doc_of = {}
    for i, s in enumerate(sentences):
        groups.setdefault(s.doc, ([], []))[0].append(i)
        doc_of[s.id] = s.doc
    for i, c in enumerate(chunks):
        groups[doc_of[c.sentence_ids[0]]][1].append(i)
    return groups


def changed_sources(manifest: dict) -> list[str]:
    """Indexed documents whose file on disk differs from what was indexed."""
    changed = []
    for doc in manifest.get("documents", []):
        path = Path(doc["path"]) if doc.get("path") else None
        if path and path.exists() and digest(path) != doc["sha256"]:
            changed.append(doc["name"])
    return changed


def open_index(settings: Settings, embedder, progress: Progress | None = None, notify: Notify | None = None,
               where: IndexLocation | None = None):
    """Load the index: built from the bundled article when there is none, brought up to date
    when an indexed file changed on disk or it was built by another embedder or format."""
    where = where or location(settings)
    manifest = where.read_manifest()
    if manifest is None:
        if notify:
            notify(f"no index in {where.name}; building it from the bundled article")
        build_index(settings, embedder, progress=progress, notify=notify, where=where)
    else:
        reason = store_mod.stale_reason(manifest, embedder)
        changed = changed_sources(manifest) if where.files_on_disk and not reason else []
        if reason or changed:
            sources = [Path(d["path"]) for d in manifest.get("documents", []) if d.get("path")]
            if not sources or not all(p.exists() for p in sources):
                raise IndexError_(f"{reason or 'its files changed'}, and some source files are gone; "
                                  f"run `rag index PATH ...` for {where.name}")
            if notify:
                notify(f"updating the index: {reason or ', '.join(changed) + ' changed'}")
            update_index(settings, embedder, progress=progress, notify=notify, where=where)
    with where.lock():
        return where.load(where.read_manifest())
