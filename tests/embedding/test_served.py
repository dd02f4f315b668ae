"""Documents embedded by a server (`rag index --embed-url`): llama.cpp's real server (xllamacpp,
`rag embed-server`) with the packaged MiniLM written as GGUF, held to the local encoder; and the
client's handling of servers that misbehave, scripted with httpx's MockTransport."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from rag.apps.cli import app
from rag.embedding import gguf_export
from rag.embedding.embed import embedder_path
from rag.embedding.served import PROBES, TRIES, ServedEmbedder
from rag.errors import BackendUnavailable, ModelError
from rag.settings import Settings
from rag.stores.store import load, read_manifest
from tests.llm_server_fixture import LlamaServer, free_port

runner = CliRunner()


@pytest.fixture(scope="module")
def embed_server():
    server = LlamaServer(parallel=2, command="embed-server").start()
    yield server
    server.stop()


def test_the_gguf_is_minilm_as_llama_cpp_reads_it(tmp_path):
    gguf = pytest.importorskip("gguf")
    out = gguf_export.write(embedder_path(), tmp_path / "m.gguf")
    reader = gguf.GGUFReader(out)
    field = reader.fields["general.architecture"]
    assert bytes(field.parts[field.data[0]]).decode() == "bert"
    assert int(reader.fields["bert.pooling_type"].parts[-1][0]) == int(gguf.PoolingType.MEAN)
    names = {t.name for t in reader.tensors}
    assert {"token_embd.weight", "blk.5.ffn_down.weight", "blk.0.attn_q.bias"} <= names
    assert len(reader.tensors) == 5 + 6 * 16  # embeddings + norms, 16 per layer; no pooler
    assert [p.name for p in tmp_path.iterdir()] == ["m.gguf"]  # written through a temporary file


def test_served_vectors_are_the_local_models(embed_server, embedder, embedding_texts):
    served = ServedEmbedder(embed_server.url, embedder, batch=16)
    got = served.encode(embedding_texts)
    want = embedder.encode(embedding_texts)
    cosine = np.sum(got * want, axis=1)
    assert served.agreement >= 0.999
    # The last text is past the 256-word-piece limit: cut alike, it embeds alike (uncut, the
    # server would refuse it or read more than the local encoder does).
    assert cosine.min() >= 0.999, (cosine.argmin(), cosine.min())
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_index_with_embed_url_is_the_local_index(embed_server, tmp_path, embedder):
    local, remote = tmp_path / "local", tmp_path / "remote"
    first = runner.invoke(app, ["index", "--index-dir", str(local), "--json"])
    assert first.exit_code == 0, first.output
    result = runner.invoke(app, ["index", "--embed-url", embed_server.url, "--index-dir", str(remote), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["embedded"] == report["sentences"] > 0
    a, b = load(local, read_manifest(local)), load(remote, read_manifest(remote))
    assert [(s.id, s.start, s.end, s.text) for s in a.sentences] == [(s.id, s.start, s.end, s.text) for s in b.sentences]
    assert [c.sentence_ids for c in a.chunks] == [c.sentence_ids for c in b.chunks]
    for x, y in ((a.sentence_index, b.sentence_index), (a.chunk_index, b.chunk_index)):
        assert np.sum(x.all() * y.all(), axis=1).min() >= 0.999
    again = runner.invoke(app, ["index", "--embed-url", embed_server.url, "--index-dir", str(remote), "--json"])
    assert json.loads(again.stdout.strip().splitlines()[-1])["embedded"] == 0  # unchanged: nothing sent


def _scripted(handler, embedder, **options) -> ServedEmbedder:
    return ServedEmbedder("http://embed.test", embedder, transport=httpx.MockTransport(handler), **options)


def _honest(embedder):
    """A server that embeds like the local model, answering in reverse order (its right)."""
    def reply(texts):
        vectors = embedder.encode(texts) * 3.0  # not normalised: the client normalises
        rows = [{"index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
        return httpx.Response(200, json={"data": rows[::-1]})
    return reply


def test_rows_come_back_in_order_and_long_texts_go_out_cut(embedder):
    sent = []
    honest = _honest(embedder)

    def handler(request):
        texts = json.loads(request.content)["input"]
        sent.extend(texts)
        return honest(texts)

    texts = ["a short one", "word " * 400, "the treaty was signed in June"]
    got = _scripted(handler, embedder).encode(texts)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert np.sum(got * embedder.encode(texts), axis=1).min() >= 0.999
    long_sent = [t for t in sent if t.startswith("word")]
    assert long_sent and len(long_sent[0]) < len(texts[1])
    assert embedder.token_counts(long_sent) == [256]


def test_a_busy_server_is_retried(embedder, monkeypatch):
    monkeypatch.setattr("rag.embedding.served.time.sleep", lambda s: None)
    calls = {"n": 0}
    honest = _honest(embedder)

    def handler(request):
        calls["n"] += 1
        if calls["n"] <= TRIES - 1:
            return httpx.Response(503, json={"error": {"message": "loading model"}})
        return honest(json.loads(request.content)["input"])

    assert _scripted(handler, embedder).encode(["one text"]).shape == (1, 384)


@pytest.mark.parametrize("handler, error, words", [
    (lambda r: httpx.Response(503), BackendUnavailable, "HTTP 503"),
    (lambda r: httpx.Response(401, json={"error": {"message": "bad key"}}), ModelError, "--embed-api-key"),
    (lambda r: httpx.Response(400, json={"error": {"message": "no such model"}}), ModelError, "no such model"),
    (lambda r: httpx.Response(200, text="<html>"), ModelError, "rejected"),
    (lambda r: httpx.Response(200, json={"object": "list"}), ModelError, "no OpenAI embeddings list"),
    (lambda r: httpx.Response(200, json={"data": [{"index": i, "embedding": [0.1] * 768}
                                                   for i in range(len(PROBES))]}), ModelError, "makes 384"),
    (lambda r: httpx.Response(200, json={"data": [{"index": i, "embedding": np.random.default_rng(i).normal(size=384).tolist()}
                                                   for i in range(len(PROBES))]}), ModelError, "does not embed like"),
])
def test_a_server_that_misbehaves_says_how(embedder, monkeypatch, handler, error, words):
    monkeypatch.setattr("rag.embedding.served.time.sleep", lambda s: None)
    with pytest.raises(error, match=words.replace("(", r"\(")):
        _scripted(handler, embedder).encode(["a text"])


def test_cli_errors_are_one_line(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["index", "--embed-url", dead, "--index-dir", str(tmp_path / "i")])
    assert result.exit_code == 1
    assert "is not answering" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "i" / "manifest.json").exists()
    both = runner.invoke(app, ["index", "--embed-url", dead, "--ray", "auto", "--index-dir", str(tmp_path / "j")])
    assert both.exit_code == 1 and "give one" in both.output


def test_settings_read_the_environment(monkeypatch):
    monkeypatch.setenv("RAG_EMBED_URL", "http://gpu-box:8081/v1")
    monkeypatch.setenv("RAG_EMBED_MODEL", "minilm")
    s = Settings()
    assert (s.embed_url, s.embed_model) == ("http://gpu-box:8081/v1", "minilm")


def test_an_index_built_by_a_server_closes_its_connections(embedder, tmp_path, monkeypatch):
    from rag.pipeline import Assistant

    honest, made = _honest(embedder), []

    class Scripted(ServedEmbedder):
        def __init__(self, url, local, **options):
            handler = httpx.MockTransport(lambda request: honest(json.loads(request.content)["input"]))
            super().__init__(url, local, transport=handler, **options)
            made.append(self)

    monkeypatch.setattr("rag.embedding.served.ServedEmbedder", Scripted)
    doc = tmp_path / "bridge.txt"
    doc.write_text("The bridge opened in May 2015. Its main span is 480 metres long.", encoding="utf-8")
    assistant = Assistant(Settings(index_dir=tmp_path / "index", embed_url="http://embed.test"), embedder=embedder)
    assert assistant.index([doc]).embedded > 0
    assert len(made) == 1 and made[0].http.is_closed
