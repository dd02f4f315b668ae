"""`rag index --ray` on a local Ray cluster of two embedder actors: the same index as one
process builds, incremental, complete when a worker is killed mid-build, untouched when the
build itself dies."""

from __future__ import annotations

import json
import os
import signal
import sys

import numpy as np
import psutil
import pytest
from typer.testing import CliRunner

from rag.apps.cli import app
from rag.errors import IndexError_
from rag.ingest.indexer import update_index
from rag.settings import BUNDLED_CORPUS, Settings
from rag.stores.store import load, read_manifest

ray = pytest.importorskip("ray", reason="Ray is a dev dependency (`pip install 'rag[ray]'`)")

from rag.ingest import on_ray  # noqa: E402
from rag.pipeline import Assistant  # noqa: E402
from rag.tools.bench_scale import synthetic_corpus  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    """One local Ray instance for the module: two CPUs, so two actors of one CPU each."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, assistant):
    """The article and a made-up report of 300 sentences."""
    folder = tmp_path_factory.mktemp("ray-corpus")
    (folder / "article.txt").write_text(BUNDLED_CORPUS.read_text(encoding="utf-8"), encoding="utf-8")
    synthetic_corpus(300, [s.text for s in assistant.store.sentences], folder / "reports.txt")
    return folder


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, corpus, assistant):
    index = tmp_path_factory.mktemp("one") / "index"
    Assistant(Settings(index_dir=index), embedder=assistant.embedder).index([corpus])
    return load(index, read_manifest(index))


def on_cluster(index, embedder, **settings) -> Assistant:
    return Assistant(Settings(index_dir=index, ray_address="auto", ray_workers=2, **settings), embedder=embedder)


def same_index(store, reference) -> None:
    assert [(s.id, s.doc, s.start, s.end, s.text) for s in store.sentences] == \
        [(s.id, s.doc, s.start, s.end, s.text) for s in reference.sentences]
    assert [c.sentence_ids for c in store.chunks] == [c.sentence_ids for c in reference.chunks]
    cosines = np.sum(store.sentence_index.all() * reference.sentence_index.all(), axis=1)
    assert cosines.min() >= 0.999
    assert np.sum(store.chunk_index.all() * reference.chunk_index.all(), axis=1).min() >= 0.999


def test_the_cluster_builds_the_index_one_process_builds(cluster, corpus, one_process, assistant, tmp_path):
    index = tmp_path / "index"
    report = on_cluster(index, assistant.embedder).index([corpus])
    assert report.workers == 2 and report.embedded == len(one_process.sentences)
    manifest = read_manifest(index)
    same_index(load(index, manifest), one_process)
    assert [d["sentences"] for d in manifest["documents"]] == [d["sentences"] for d in one_process.manifest["documents"]]
    # Unchanged files are not embedded again; a changed one is, and only it.
    again = on_cluster(index, assistant.embedder).index([corpus])
    assert again.embedded == 0 and sorted(again.unchanged) == ["article.txt", "reports.txt"]
    (corpus / "note.txt").write_text("The harbour bridge reopened in May after repairs.\n", encoding="utf-8")
    try:
        added = on_cluster(index, assistant.embedder).index([corpus])
    finally:
        (corpus / "note.txt").unlink()
    assert added.added == ["note.txt"] and added.embedded == 1


def test_a_worker_killed_mid_build_loses_nothing(cluster, corpus, one_process, assistant, tmp_path):
    index = tmp_path / "index"
    killed = []

    def kill_one_worker(label, done, total):
        if not killed and done < total:  # a batch is back; most are still to come
            pid = ingest.worker_pids()[0]  # answered after the batches queued on that worker
            assert psutil.Process(pid).cmdline()[0].startswith("ray::EmbedWorker")
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    ingest = on_ray.RayIngest("auto", workers=2, batch=32)  # 15 batches: most still to come at the kill
    try:
        report = update_index(Settings(index_dir=index), ingest.embedder(assistant.embedder), [corpus],
                              progress=kill_one_worker, mapper=ingest.map)
        restarted = ingest.worker_pids()
    finally:
        ingest.close()
    assert killed and killed[0] not in restarted  # Ray started a new process for it
    assert report.embedded == len(one_process.sentences)
    store = load(index, read_manifest(index))
    ids = [s.id for s in store.sentences]
    assert len(ids) == len(set(ids))  # none twice
    same_index(store, one_process)  # none missing, none misplaced


def test_a_build_that_dies_leaves_the_previous_index(cluster, corpus, assistant, tmp_path):
    index = tmp_path / "index"
    Assistant(Settings(index_dir=index), embedder=assistant.embedder).index([BUNDLED_CORPUS])
    before = read_manifest(index)

    def die(label, done, total):
        raise KeyboardInterrupt  # the driver stopped half-way through embedding

    with pytest.raises(KeyboardInterrupt):
        Assistant(Settings(index_dir=index, ray_address="auto", ray_workers=2), embedder=assistant.embedder,
                  progress=die).index([corpus])
    assert read_manifest(index) == before
    assert len(load(index, before).sentences) == before["counts"]["sentences"]


def test_cli_index_on_ray_reports_workers_and_rate(cluster, tmp_path):
    result = CliRunner().invoke(app, ["index", "--ray", "auto", "--ray-workers", "2", "--json",
                                      "--index-dir", str(tmp_path / "index"), str(BUNDLED_CORPUS)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["workers"] == 2 and report["embedded"] == 43 and report["sentences_per_s"] > 0


def test_more_workers_than_the_cluster_has_cpus_is_a_clear_error(cluster, tmp_path):
    result = CliRunner().invoke(app, ["index", "--ray", "auto", "--ray-workers", "3",
                                      "--index-dir", str(tmp_path / "index"), str(BUNDLED_CORPUS)])
    assert result.exit_code == 1
    assert "3 workers of 1 CPU need 3 CPUs; the cluster has 2" in result.output


def test_a_runtime_env_that_is_not_json_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["index", "--ray", "auto", "--ray-runtime-env", "{pip: rag}",
                                      "--index-dir", str(tmp_path / "index"), str(BUNDLED_CORPUS)])
    assert result.exit_code == 1 and "--ray-runtime-env is not JSON" in result.output
    assert "Traceback" not in result.output


def test_without_ray_installed_it_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(IndexError_, match=r"pip install 'rag\[ray\]'"):
        on_ray.RayIngest("auto", workers=1)
