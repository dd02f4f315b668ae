"""`rag serve` with the real models: the official openai client, errors, keys, load, disconnects."""

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from starlette.testclient import TestClient

from rag.apps.server import create_app
from rag.generation.generate import Generation
from rag.pipeline import Assistant

from ..conftest import ScriptedGenerator
from ..server_fixture import running


@pytest.fixture(scope="module")
def live(assistant):
    with running(assistant) as (url, app):
        yield url, app


@pytest.fixture(scope="module")
def client(live):
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=live[0] + "/v1", api_key="unused", max_retries=0, timeout=60)


def test_health_and_models(live, assistant):
    health = httpx.get(live[0] + "/healthz").json()
    assert health["status"] == "ok" and health["sentences"] == len(assistant.store.sentences)
    models = httpx.get(live[0] + "/v1/models").json()
    assert models["data"][0]["id"] == assistant.generator.name


def _check_citations(content: str, citations: list[dict], assistant) -> None:
    assert citations, content
    for c in citations:
        assert assistant.store.by_id[c["id"]].text == c["text"]
        assert f"[{c['id']}]" in content
        # Where the sentence is: a text file has no pages or headings.
        assert c["doc"] == "russia-north-korea-partnership.txt" and c["page"] is None and "section" in c


def test_openai_client_non_streaming(client, assistant):
    resp = client.chat.completions.create(model="anything", messages=[
        {"role": "user", "content": "When did Putin give final approval to the treaty?"}])
    message = resp.choices[0].message
    assert "November 9" in message.content
    assert resp.model == assistant.generator.name
    _check_citations(message.content, message.model_extra["citations"], assistant)
    _check_annotations(message.content, message.annotations, message.model_extra["citations"], client)


def test_openai_client_untyped_question_is_generated(client, assistant):
    resp = client.chat.completions.create(model="rag", messages=[
        {"role": "user", "content": "What does the mutual defense clause oblige?"}])
    assert resp.usage.completion_tokens > 0  # the model wrote it, not a pattern
    message = resp.choices[0].message
    assert "militar" in message.content
    _check_citations(message.content, message.model_extra["citations"], assistant)


def _check_annotations(content: str, annotations, citations: list[dict], client) -> None:
    """OpenAI's url_citation: one per cited sentence, spanning its marker, linking to it."""
    assert annotations and len(annotations) == len(citations)
    for annotation, cited in zip(annotations, citations):
        a = annotation if isinstance(annotation, dict) else annotation.model_dump()
        assert a["type"] == "url_citation"
        u = a["url_citation"]
        assert content[u["start_index"]:u["end_index"]] == f"[{cited['id']}]"
        assert u["url"] == str(client.base_url).removesuffix("v1/") + f"#{cited['id']}"
        assert cited["text"] in u["title"] and u["title"].startswith(f"[{cited['id']}]")
        assert httpx.get(u["url"]).status_code == 200


def test_openai_client_streaming_with_a_follow_up(client, assistant):
    stream = client.chat.completions.create(model=assistant.generator.name, stream=True, messages=[
        {"role": "user", "content": "Who signed the agreement?"},
        {"role": "assistant", "content": "Putin and North Korean leader Kim Jong-un signed it [S2]."},
        {"role": "user", "content": "When did he ratify it?"}])
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop" and len(chunks) > 3
    assert "November 9" in content
    _check_citations(content, final.model_extra["citations"], assistant)
    _check_annotations(content, final.choices[0].delta.model_extra["annotations"], final.model_extra["citations"], client)


def test_ask_endpoint_has_the_cli_json_shape(live):
    data = httpx.post(live[0] + "/v1/ask", json={"question": "What is the treaty's central provision?", "k": 3}, timeout=60).json()
    assert {"question", "answer", "abstained", "citations", "retrieved", "latency_s"} <= set(data)
    assert len(data["retrieved"]) == 3 and data["citations"]
    assert {"doc", "title", "page", "section"} <= set(data["citations"][0])


@pytest.fixture(scope="module")
def two_documents(assistant, tmp_path_factory):
    """The article and a second document, so a filter has something to leave out."""
    from rag.settings import BUNDLED_CORPUS, Settings

    folder = tmp_path_factory.mktemp("two-docs")
    (folder / "article.txt").write_text(BUNDLED_CORPUS.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "ferry.txt").write_text("The treaty ferry from Vladivostok to Rajin was signed off in June.\n",
                                      encoding="utf-8")
    both = Assistant(Settings(index_dir=folder / "index"), generator=assistant.generator, embedder=assistant.embedder)
    both.index([folder / "article.txt", folder / "ferry.txt"])
    with running(both) as (url, _):
        yield url


@pytest.mark.parametrize("doc", ["article.txt", "ferry.txt"])
def test_the_document_filter_leaves_the_other_document_out(two_documents, doc):
    question = {"question": "When was the treaty signed?"}
    unfiltered = httpx.post(two_documents + "/v1/ask", json=question, timeout=60).json()
    assert {p["doc"] for p in unfiltered["retrieved"]} == {"article.txt", "ferry.txt"}  # both compete
    resp = httpx.post(two_documents + "/v1/ask", json={**question, "documents": [doc]}, timeout=60).json()
    assert resp["retrieved"] and {p["doc"] for p in resp["retrieved"]} == {doc}
    assert all(c["doc"] == doc for c in resp["citations"])


@pytest.mark.parametrize("extra, status", [
    ({"documents": ["russia-north-korea-partnership.txt"]}, 200),
    ({"documents": ["nope.pdf"]}, 404),
    ({"documents": "russia-north-korea-partnership.txt"}, 200),  # one name is a list of one
    ({"documents": [3]}, 422),
])
def test_ask_endpoint_restricts_to_documents(live, extra, status):
    resp = httpx.post(live[0] + "/v1/ask", json={"question": "When was the treaty signed?", **extra}, timeout=60)
    assert resp.status_code == status, resp.text
    if status >= 400:
        assert resp.json()["error"]["param"].startswith("documents")
    else:
        assert all(p["doc"] == "russia-north-korea-partnership.txt" for p in resp.json()["retrieved"])


def test_chat_completion_restricts_to_documents_through_metadata(live):
    resp = httpx.post(live[0] + "/v1/chat/completions", json={
        "model": "rag", "metadata": {"documents": "nope.pdf"},
        "messages": [{"role": "user", "content": "When was the treaty signed?"}]}, timeout=60)
    assert resp.status_code == 404 and "nope.pdf" in resp.json()["error"]["message"]


@pytest.mark.parametrize("body, status", [
    (b"{not json", 400),
    (b'{"messages": []}', 422),
    (b'{"model": "m"}', 422),
    (b'{"messages": [{"role": "user", "content": ""}]}', 422),
    (json.dumps({"messages": [{"role": "user", "content": "x " * 3000}]}).encode(), 422),
    (b"x" * 1_500_000, 413),
])
def test_bad_requests_get_openai_errors_and_the_server_keeps_serving(live, body, status):
    resp = httpx.post(live[0] + "/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == status
    assert resp.json()["error"]["message"]
    assert httpx.get(live[0] + "/healthz").status_code == 200


def test_twenty_concurrent_requests_all_answer(live, assistant):
    questions = ["When did Putin give final approval to the treaty?", "Who signed the agreement?",
                 "What does Article 51 of the UN Charter acknowledge?", "Is China part of this treaty?",
                 "What is the capital of France?"]

    def one(i):
        body = {"model": "m", "messages": [{"role": "user", "content": questions[i % len(questions)]}]}
        return httpx.post(live[0] + "/v1/chat/completions", json=body, timeout=120)

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(one, range(20)))
    by_question: dict[str, set[str]] = {}
    for i, resp in enumerate(responses):
        assert resp.status_code == 200
        message = resp.json()["choices"][0]["message"]
        by_question.setdefault(questions[i % len(questions)], set()).add(message["content"])
        if not message["abstained"]:
            _check_citations(message["content"], message["citations"], assistant)
    # One model answers one request at a time: concurrency changes no answer.
    assert all(len(contents) == 1 for contents in by_question.values()), by_question
    assert "November 9" in next(iter(by_question[questions[0]]))
    assert all(c.startswith("The article does not say") for c in by_question["What is the capital of France?"])
    assert httpx.get(live[0] + "/healthz").json()["waiting"] == 0


class _Slow(ScriptedGenerator):
    """Writes a very long answer slowly (2,000 tokens, 50 ms each), and records being stopped."""

    copy_spans = True

    def __init__(self):
        super().__init__()
        self.started, self.stopped = threading.Event(), threading.Event()

    def generate(self, prompt, *, on_token=None, **_):
        self.started.set()
        try:
            for _ in range(2000):
                time.sleep(0.05)
                if on_token:
                    on_token(" more")
        except BaseException:
            self.stopped.set()
            raise
        return Generation("more", 1, 2000, 0.0, 0.0)


def test_a_client_leaving_mid_stream_stops_its_generation_and_frees_the_model(assistant):
    slow = _Slow()
    fake = Assistant(assistant.settings.with_(min_confidence=0.0), generator=slow, embedder=assistant.embedder,
                     retriever=assistant.retriever)
    body = {"stream": True, "messages": [{"role": "user", "content": "What does the mutual defense clause oblige?"}]}
    with running(fake) as (url, _):
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=30) as resp:
            lines = resp.iter_lines()  # kept: a dropped line iterator closes the connection at once
            assert next(lines).startswith("data: ")
            assert slow.started.wait(30) and not slow.stopped.is_set()  # generating now
        # Without cancellation the abandoned answer holds the model for 100 s.
        assert slow.stopped.wait(10), "the generation went on after its client left"
        t0 = time.monotonic()
        resp = httpx.post(url + "/v1/ask", json={"question": "When did Putin give final approval to the treaty?"},
                          timeout=30)
        assert resp.status_code == 200 and "November 9" in resp.json()["answer"]
        assert time.monotonic() - t0 < 20


@pytest.fixture
def keyed(assistant):
    settings = assistant.settings.with_(api_key="sekret", cors_origins=("http://front.example",),
                                        allowed_hosts=("testserver",))
    fake = Assistant(settings, generator=assistant.generator, embedder=assistant.embedder,
                     retriever=assistant.retriever)
    with TestClient(create_app(fake, load_in_background=False)) as tc:
        yield tc


def test_api_key_is_enforced_on_the_api_only(keyed):
    assert keyed.get("/v1/models").status_code == 401
    assert keyed.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert keyed.get("/v1/models", headers={"Authorization": "Bearer sekret"}).status_code == 200
    assert keyed.get("/healthz").status_code == 200 and keyed.get("/").status_code == 200


def test_cors_only_for_configured_origins(keyed, live):
    pre = {"Origin": "http://front.example", "Access-Control-Request-Method": "POST"}
    assert keyed.options("/v1/chat/completions", headers=pre).headers["access-control-allow-origin"] == "http://front.example"
    plain = httpx.options(live[0] + "/v1/chat/completions", headers=pre)
    assert "access-control-allow-origin" not in plain.headers


def test_page_is_served(live):
    html = httpx.get(live[0] + "/").text
    assert "<title>" in html and '<script src="app.js">' in html
    assert re.search(r"/v1/chat/completions", httpx.get(live[0] + "/app.js").text)
