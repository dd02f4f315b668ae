"""The index in a real PostgreSQL 18 with pgvector (`--store`): written by `rag index`, read by
ask/serve, updated incrementally, never half-written, and a database that stops and comes back
costs one clear error."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from rag.apps.cli import app
from rag.apps.server import create_app
from rag.errors import BackendUnavailable, IndexError_
from rag.ingest.indexer import update_index
from rag.pipeline import Assistant
from rag.settings import BUNDLED_CORPUS
from rag.stores.pgstore import Postgres
from rag.tools import evaluate

from ..conftest import agreement, sample
from ..pg_fixture import PostgresServer, unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=unavailable() or "")

APPROVAL = "before Putin provided his final approval on November 9"
SECRET = "pw-never-shown"


@pytest.fixture(scope="module")
def pg():
    server = PostgresServer().start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def indexed(pg, settings):
    """The bundled article indexed into the database through the CLI."""
    result = CliRunner().invoke(app, ["index", "--store", pg.url(SECRET), "--json", str(BUNDLED_CORPUS)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["embedded"] == report["sentences"] == 43
    assert SECRET not in result.output
    return pg.url(SECRET)


@pytest.mark.parametrize("url", ["sqlite:///x.db", "/tmp/index", "mysql://a@b/c"])
def test_store_takes_only_postgresql_urls(url):
    with pytest.raises(IndexError_):
        Postgres(url)


@pytest.mark.parametrize("question, expected, generated", [
    ("When did Putin give final approval to the treaty?", "November 9", False),  # picked by pattern
    ("What does the mutual defense clause oblige?", "militar", True),  # copied by the model
])
def test_cli_ask_with_the_store_cites_like_faiss(indexed, settings, question, expected, generated):
    runner = CliRunner()
    there = runner.invoke(app, ["ask", "--store", indexed, "--json", question])
    here = runner.invoke(app, ["ask", "--index-dir", str(settings.index_dir), "--json", question])
    assert there.exit_code == 0 and here.exit_code == 0, there.output
    a, b = json.loads(there.stdout), json.loads(here.stdout)
    assert [c["id"] for c in a["citations"]] == [c["id"] for c in b["citations"]] and a["citations"]
    assert expected in a["answer"] and a["answer"] == b["answer"]
    assert (a["timings"].get("completion_tokens", 0) > 0) == generated
    docs = runner.invoke(app, ["docs", "--store", indexed, "--json"])
    assert json.loads(docs.stdout)[0]["sentences"] == 43


def test_bundled_eval_on_postgres_agrees_with_faiss(indexed, assistant, bundled_questions, bundled_predictions,
                                                     capsys):
    on_pg = Assistant(assistant.settings.with_(store=indexed), embedder=assistant.embedder,
                      generator=assistant.generator, reranker=assistant.reranker)
    questions = sample(bundled_questions)
    there = evaluate.run(on_pg, questions)
    same, same_citations = agreement([bundled_predictions[bundled_questions.index(q)] for q in questions], there)
    with capsys.disabled():
        print(f"\n--store (PostgreSQL + pgvector) agreement with the FAISS index on {len(there)} bundled questions: "
              f"answers and citations {same:.3f}, citations {same_citations:.3f}")
    assert same_citations >= 0.95


def test_llm_server_and_postgres_together(indexed, assistant, bundled_questions, bundled_predictions, capsys):
    """Both backends remote: every third bundled question (each alone runs every other; `make test-full` all)."""
    from ..llm_server_fixture import LlamaServer

    llama = LlamaServer().start()
    try:
        both = Assistant(assistant.settings.with_(store=indexed, llm_url=llama.url), embedder=assistant.embedder)
        picks = list(range(0, len(bundled_questions), 3))
        there = evaluate.run(both, [bundled_questions[i] for i in picks])
        same, same_citations = agreement([bundled_predictions[i] for i in picks], there)
        with capsys.disabled():
            print(f"\n--llm-url with --store agreement with in-process FAISS on {len(there)} bundled questions: "
                  f"answers and citations {same:.3f}, citations {same_citations:.3f}")
        assert same >= 0.85
    finally:
        llama.stop()


def test_incremental_updates_in_the_database(pg, settings, embedder, tmp_path):
    with Postgres(pg.url()).db() as conn:  # a database of its own: one index per database
        conn.execute("DROP DATABASE IF EXISTS updates")
        conn.execute("CREATE DATABASE updates")
    s = settings.with_(store=pg.url().rsplit("/", 1)[0] + "/updates")
    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    a.write_text("The lighthouse was built in 1890. Its lamp burns oil.\n")
    b.write_text("The ferry leaves at noon. It carries forty cars.\n")
    first = update_index(s, embedder, [a, b])
    assert first.embedded == 4 and first.added == ["a.txt", "b.txt"]
    again = update_index(s, embedder, [a, b])
    assert again.embedded == 0 and again.unchanged == ["a.txt", "b.txt"]
    b.write_text("The ferry leaves at noon. It carries forty cars. The crossing takes an hour.\n")
    changed = update_index(s, embedder, [a, b])
    assert changed.updated == ["b.txt"] and changed.embedded == 3
    pruned = update_index(s, embedder, [a], prune=True)
    assert pruned.removed == ["b.txt"]
    on_pg = Assistant(s, embedder=embedder)
    assert [x.id for x in on_pg.store.sentences] == ["S1", "S2"]  # ids of a.txt kept
    assert on_pg.retrieve("When was the lighthouse built?").passages[0].text == "The lighthouse was built in 1890."


def test_a_failed_update_leaves_the_previous_index(pg, settings, embedder, tmp_path, monkeypatch):
    url = pg.url().rsplit("/", 1)[0] + "/killed"
    with Postgres(pg.url()).db() as conn:
        conn.execute("DROP DATABASE IF EXISTS killed")
        conn.execute("CREATE DATABASE killed")
    s = settings.with_(store=url)
    doc = tmp_path / "c.txt"
    doc.write_text("The bridge opened in May 2015. It was designed by Maria Lopez.\n")
    update_index(s, embedder, [doc])
    before = Postgres(url).read_manifest()
    doc.write_text("The bridge opened in May 2016. It was designed by Maria Lopez. It is 400 metres long.\n")

    def dying_schema(conn, dim):  # inside the transaction, after the old rows were deleted
        conn.execute("TRUNCATE rag_sentences, rag_chunks")
        raise RuntimeError("killed")

    monkeypatch.setattr(Postgres, "_schema", staticmethod(dying_schema))
    with pytest.raises(RuntimeError):
        update_index(s, embedder, [doc])
    monkeypatch.undo()
    assert Postgres(url).read_manifest() == before
    store = Postgres(url).load(before)
    assert [x.text for x in store.sentences][0] == "The bridge opened in May 2015."


def test_database_down_then_back(pg, indexed, assistant):
    question = "What is the treaty's central provision?"
    on_pg = Assistant(assistant.settings.with_(store=indexed), embedder=assistant.embedder,
                      generator=assistant.generator, reranker=assistant.reranker)
    runner = CliRunner()
    with TestClient(create_app(on_pg, load_in_background=False), base_url="http://localhost") as client:
        assert client.post("/v1/ask", json={"question": question}).status_code == 200
        pg.stop()
        try:
            down = client.post("/v1/ask", json={"question": question})
            assert down.status_code == 503, down.text
            error = down.json()["error"]
            assert error["type"] == "server_error" and "database" in error["message"] and SECRET not in down.text
            for args in (["ask", "--store", indexed, question], ["index", "--store", indexed, str(BUNDLED_CORPUS)]):
                result = runner.invoke(app, args)
                assert result.exit_code == 1
                lines = result.output.strip().splitlines()
                assert len(lines) == 1 and "not answering" in lines[-1], result.output
                assert "Traceback" not in result.output and SECRET not in result.output
            with pytest.raises(BackendUnavailable):
                Postgres(indexed).read_manifest()
        finally:
            pg.start()
        back = client.post("/v1/ask", json={"question": question})
        assert back.status_code == 200, back.text
        assert back.json()["citations"]
        assert not re.search(SECRET, back.text)


def test_bench_measures_pgvector_beside_faiss(indexed, assistant):
    from rag.tools import bench_vectors

    seeds = [s.text for s in assistant.store.sentences]
    result = bench_vectors.run(assistant.embedder, seeds, [400], indexed, log=lambda _: None, queries=10)
    row = result["n_400"]
    assert {"faiss_hnsw", "pgvector_hnsw"} <= set(row), row
    docs = CliRunner().invoke(app, ["docs", "--store", indexed, "--json"])
    assert json.loads(docs.stdout)[0]["sentences"] == 43  # the benchmark left the real index as it was
