"""Incremental indexing: only new and changed files are embedded, ids stay stable, a failed
update leaves the previous index, and an open Assistant picks up a finished update."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rag.apps.cli import app
from rag.ingest.indexer import update_index
from rag.pipeline import Assistant
from rag.settings import Settings
from rag.stores.store import load, read_manifest


class CountingEmbedder:
    """The real embedder, recording which texts it was asked to embed."""

    def __init__(self, real, fail_after: int | None = None):
        self.real, self.name, self.dim = real, real.name, real.dim
        self.texts: list[str] = []
        self.fail_after = fail_after

    def encode(self, texts, progress=None):
        if self.fail_after is not None and len(self.texts) + len(texts) > self.fail_after:
            raise KeyboardInterrupt  # killed half-way
        self.texts += texts
        return self.real.encode(texts, progress=progress)

    def encode_one(self, text):
        return self.real.encode_one(text)


def write(folder, name, text):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    write(docs, "a.txt", "Alpha station opened in 1990. It has two runways.\n")
    write(docs, "b.txt", "Bravo harbour handles grain. Its pier is 300 metres long.\n")
    write(docs, "c.md", "# Charlie\n\nCharlie hill is 800 metres high.\n")
    return docs


def test_unchanged_files_are_not_embedded_again(tmp_path, folder, embedder):
    settings = Settings(index_dir=tmp_path / "idx")
    first = update_index(settings, CountingEmbedder(embedder), [folder])
    assert sorted(first.added) == ["a.txt", "b.txt", "c.md"] and first.embedded == 5

    counting = CountingEmbedder(embedder)
    again = update_index(settings, counting, [folder])
    assert sorted(again.unchanged) == ["a.txt", "b.txt", "c.md"] and not again.added + again.updated
    assert counting.texts == [] and again.embedded == 0

    before = {s.text: s.id for s in load(settings.index_dir, read_manifest(settings.index_dir)).sentences}
    write(folder, "b.txt", "Bravo harbour handles grain and timber. Its pier is 300 metres long.\n")
    counting = CountingEmbedder(embedder)
    changed = update_index(settings, counting, [folder])
    assert changed.updated == ["b.txt"] and sorted(changed.unchanged) == ["a.txt", "c.md"]
    assert all("Bravo" in t or "pier" in t for t in counting.texts)  # only b.txt's sentences and chunks
    after = load(settings.index_dir, read_manifest(settings.index_dir))
    ids = {s.text: s.id for s in after.sentences}
    assert ids["Alpha station opened in 1990."] == before["Alpha station opened in 1990."]  # stable ids
    assert ids["Its pier is 300 metres long."] != before["Its pier is 300 metres long."]  # never reused
    assert len(set(ids.values())) == len(ids)
    assert after.sentence_index.count == len(after.sentences) == 5


def test_prune_drops_documents_not_given(tmp_path, folder, embedder):
    settings = Settings(index_dir=tmp_path / "idx")
    update_index(settings, embedder, [folder])
    (folder / "c.md").unlink()
    kept = update_index(settings, embedder, [folder])
    assert "c.md" in kept.unchanged  # without --prune a vanished file stays indexed
    pruned = update_index(settings, embedder, [folder], prune=True)
    assert pruned.removed == ["c.md"]
    store = load(settings.index_dir, read_manifest(settings.index_dir))
    assert {s.doc for s in store.sentences} == {"a.txt", "b.txt"}
    assert store.chunk_index.count == len(store.chunks)


def test_an_update_killed_half_way_leaves_the_previous_index(tmp_path, folder, embedder):
    settings = Settings(index_dir=tmp_path / "idx")
    update_index(settings, embedder, [folder])
    manifest = read_manifest(settings.index_dir)
    write(folder, "d.txt", "Delta lake freezes in January. Fishermen cut holes in the ice.\n")
    with pytest.raises(KeyboardInterrupt):
        update_index(settings, CountingEmbedder(embedder, fail_after=0), [folder])
    assert read_manifest(settings.index_dir) == manifest
    store = load(settings.index_dir, manifest)
    assert {s.doc for s in store.sentences} == {"a.txt", "b.txt", "c.md"}


def test_an_open_assistant_picks_up_a_finished_update(tmp_path, folder, assistant):
    settings = Settings(index_dir=tmp_path / "idx")
    update_index(settings, assistant.embedder, [folder / "a.txt"])
    open_one = Assistant(settings, embedder=assistant.embedder)
    assert {s.doc for s in open_one.store.sentences} == {"a.txt"}
    update_index(settings, assistant.embedder, [folder / "b.txt"])
    assert open_one.retrieve("How long is the pier?").passages[0].doc == "b.txt"  # the next question sees it
    assert {s.doc for s in open_one.store.sentences} == {"a.txt", "b.txt"}
    assert {s.doc for s in open_one.current_store().sentences} == {"a.txt", "b.txt"}
    restricted = open_one.retriever.search("How long is the pier?", documents=["a.txt"])
    assert {p.doc for p in restricted.passages} == {"a.txt"}


def test_cli_index_json_docs_and_errors(tmp_path, folder):
    runner = CliRunner()
    index_dir = ["--index-dir", str(tmp_path / "idx")]
    result = runner.invoke(app, ["index", str(folder), "--json", *index_dir])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert sorted(report["added"]) == ["a.txt", "b.txt", "c.md"] and report["sentences"] == 5
    assert set(report) >= {"added", "updated", "removed", "unchanged", "sentences", "seconds"}

    result = runner.invoke(app, ["docs", "--json", *index_dir])
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["c.md"]["sentences"] == 1 and rows["c.md"]["title"] == "Charlie"

    result = runner.invoke(app, ["index", str(tmp_path / "missing.pdf"), *index_dir])
    assert result.exit_code == 1 and "document not found" in result.output and "Traceback" not in result.output

    result = runner.invoke(app, ["docs", "--index-dir", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no index" in result.output


def test_ask_about_an_unknown_document_is_a_user_error(tmp_path, folder):
    index_dir = ["--index-dir", str(tmp_path / "idx")]
    assert CliRunner().invoke(app, ["index", str(folder), *index_dir]).exit_code == 0
    result = CliRunner().invoke(app, ["ask", "How high is Charlie hill?", "--doc", "nope.pdf", *index_dir])
    assert result.exit_code == 1 and "nope.pdf" in result.output and "Traceback" not in result.output


def test_an_index_of_an_older_format_is_rebuilt_from_its_own_files(tmp_path, folder, embedder):
    import json as json_mod

    settings = Settings(index_dir=tmp_path / "idx")
    update_index(settings, embedder, [folder])
    manifest_path = settings.index_dir / "manifest.json"
    manifest = json_mod.loads(manifest_path.read_text())
    manifest["format_version"] = 1
    manifest_path.write_text(json_mod.dumps(manifest))
    counting = CountingEmbedder(embedder)
    report = update_index(settings, counting, None)
    assert sorted(report.added) == ["a.txt", "b.txt", "c.md"] and report.embedded == 5
