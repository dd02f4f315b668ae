"""`rag bench --ray-workers N --embed-url URL`: index builds on Ray, with a worker killed, and on an
embedding server, each checked against the one-process build (a small made-up corpus; the
two-node cluster is left to the command itself: it starts two more raylets)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rag.apps.cli import app
from tests.llm_server_fixture import LlamaServer, free_port

ray = pytest.importorskip("ray", reason="Ray is a dev dependency (`pip install 'rag[ray]'`)")

from rag.tools import bench_ray  # noqa: E402


@pytest.fixture(scope="module")
def embed_server():
    server = LlamaServer(parallel=2, command="embed-server").start()
    yield server
    server.stop()


def test_builds_report_rates_and_the_same_index(embed_server, assistant, bundled_questions):
    if ray.is_initialized():  # another module's cluster: the bench starts its own
        ray.shutdown()
    questions = [q["question"] for q in bundled_questions if q["answerable"]][:2]
    builds = bench_ray.run(assistant, 400, [2], questions, log=lambda m: None, two_node=False,
                           embed_url=embed_server.url)
    assert builds["one_process"]["sentences_per_s"] > 0
    assert builds["local"][0]["workers"] == 2 and builds["local"][0]["efficiency"] > 0
    killed = builds["killed_worker"]
    assert killed["killed_pid"] and killed["restarted"]
    for row in (builds["same_as_one_process"], killed, builds["served"]):
        assert row["same_ids"] and row["min_cosine"] >= 0.999 and row["same_citations"] == "2/2"
    assert builds["served"]["probe_cosine"] >= 0.999


def test_bench_with_a_dead_embedding_server_is_one_line(index_dir):
    dead = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["bench", "--embed-url", dead, "--sizes", "50", "--json",
                                      "--index-dir", str(index_dir)])
    assert result.exit_code == 1
    assert "is not answering" in result.output and "Traceback" not in result.output
    assert not result.stdout.strip().startswith("{")
