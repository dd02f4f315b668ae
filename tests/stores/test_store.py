"""The persisted index with the real embedder, in scratch directories."""

import json

import pytest

from rag.errors import IndexError_
from rag.ingest.indexer import build_index, open_index
from rag.settings import Settings
from rag.stores import store as store_mod


@pytest.fixture
def doc(tmp_path):
    path = tmp_path / "docs" / "notes.md"
    path.parent.mkdir()
    path.write_text("The bridge opened in May 2015. It was designed by Maria Lopez.\n\nLeave a Reply\n")
    return path


def test_build_and_load_roundtrip(tmp_path, doc, embedder):
    settings = Settings(index_dir=tmp_path / "idx")
    manifest = build_index(settings, embedder, [doc])
    assert manifest["embedder"] == {"name": "all-MiniLM-L6-v2", "dim": 384}
    assert manifest["counts"]["sentences"] == 2
    store = open_index(settings, embedder)
    assert [s.text for s in store.sentences] == ["The bridge opened in May 2015.", "It was designed by Maria Lopez."]
    assert store.sentence_index.count == 2


def test_hnsw_indexes_search_as_wide_as_the_store_says(tmp_path, doc, embedder, monkeypatch):
    """Large indexes are HNSW; one saved with another efSearch is searched with the current one."""
    import faiss

    monkeypatch.setattr(store_mod, "APPROX_THRESHOLD", 1)
    settings = Settings(index_dir=tmp_path / "idx")
    build_index(settings, embedder, [doc])
    [path] = (tmp_path / "idx").glob("sentences-*.faiss")
    saved = faiss.read_index(str(path))
    assert isinstance(saved, faiss.IndexHNSWFlat) and saved.hnsw.efSearch == store_mod.EF_SEARCH
    saved.hnsw.efSearch = 16
    faiss.write_index(saved, str(path))
    store = open_index(settings, embedder)
    assert store.sentence_index.index.hnsw.efSearch == store_mod.EF_SEARCH
    question = embedder.encode_one("Who designed it?")
    hits = store.sentence_index.search(question, 2)
    exact = sorted(range(2), key=lambda i: -float(store.sentence_index.vector(i) @ question))
    assert [i for i, _ in hits] == exact


def test_directory_with_mixed_files_skips_non_text(tmp_path, doc, embedder):
    (doc.parent / "image.png").write_bytes(b"\x89PNG")
    warnings = []
    build_index(Settings(index_dir=tmp_path / "idx"), embedder, [doc.parent], notify=warnings.append)
    assert any("image.png" in w for w in warnings)


def test_changed_source_triggers_rebuild(tmp_path, doc, embedder):
    settings = Settings(index_dir=tmp_path / "idx")
    build_index(settings, embedder, [doc])
    doc.write_text("A new text about a tunnel. It is long.\n")
    notes = []
    store = open_index(settings, embedder, notify=notes.append)
    assert "tunnel" in store.sentences[0].text
    assert any("changed" in n for n in notes)


def test_other_embedder_is_stale(tmp_path, doc, embedder):
    settings = Settings(index_dir=tmp_path / "idx")
    manifest = build_index(settings, embedder, [doc])
    manifest["embedder"]["name"] = "other-model"
    assert "other-model" in store_mod.stale_reason(manifest, embedder)


@pytest.mark.parametrize("damage", ["manifest", "truncate", "delete"])
def test_corrupt_index_gives_a_clear_error(tmp_path, doc, embedder, damage):
    settings = Settings(index_dir=tmp_path / "idx")
    manifest = build_index(settings, embedder, [doc])
    target = settings.index_dir / manifest["files"]["sentence_index"]
    if damage == "manifest":
        (settings.index_dir / "manifest.json").write_text("{not json")
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    else:
        target.unlink()
    with pytest.raises(IndexError_, match="rag index"):
        open_index(settings, embedder)


def test_build_killed_half_way_keeps_previous_index(tmp_path, doc, embedder, monkeypatch):
    settings = Settings(index_dir=tmp_path / "idx")
    build_index(settings, embedder, [doc])
    before = json.loads((settings.index_dir / "manifest.json").read_text())
    real_write = store_mod.atomic_write

    def dying_write(path, data):
        if path.name == "manifest.json":
            raise KeyboardInterrupt  # killed between the data files and the manifest
        real_write(path, data)

    monkeypatch.setattr(store_mod, "atomic_write", dying_write)
    doc.write_text("Completely different content here. Second sentence.\n")
    with pytest.raises(KeyboardInterrupt):
        build_index(settings, embedder, [doc])
    monkeypatch.undo()
    after = json.loads((settings.index_dir / "manifest.json").read_text())
    assert after == before
    loaded = store_mod.load(settings.index_dir, after)
    assert "bridge" in loaded.sentences[0].text


def test_two_index_runs_at_once_leave_one_good_index(tmp_path, doc):
    """Two real `rag index` processes on one directory: the lock serialises them; both succeed
    and the index left behind loads, with no stray files from the loser."""
    import subprocess
    import sys

    index_dir = tmp_path / "idx"
    cmd = [sys.executable, "-m", "rag", "index", str(doc), "--index-dir", str(index_dir)]
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [r.communicate(timeout=300) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    manifest = json.loads((index_dir / "manifest.json").read_text())
    data_files = {p.name for p in index_dir.iterdir() if p.suffix in {".jsonl", ".faiss"}}
    assert data_files == set(manifest["files"].values())
    from rag.embedding.embed import Embedder

    store = open_index(Settings(index_dir=index_dir), Embedder())
    assert len(store.sentences) == 2
