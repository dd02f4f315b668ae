"""`rag serve` against a hostile client, over real HTTP: every case of rag/tools/hostile.py gets
its documented status as an OpenAI-style JSON error, the page carries its security headers,
citation links ignore the Host a client sends, a half-sent body is dropped quietly, and the
server still answers afterwards."""

import logging
import re
import socket

import httpx
import pytest

from rag.pipeline import Assistant
from rag.tools import hostile

from ..server_fixture import running


@pytest.fixture(scope="module")
def server(assistant):
    settings = assistant.settings.with_(api_key=hostile.KEY)
    keyed = Assistant(settings, generator=assistant.generator, embedder=assistant.embedder)
    with running(keyed) as (url, app):
        with httpx.Client(timeout=120) as client:
            yield url, client


@pytest.mark.parametrize("case", hostile.CASES, ids=[c.name for c in hostile.CASES])
def test_hostile_request_gets_its_status(server, case):
    url, client = server
    resp = hostile.send(client, url, case)
    assert resp.status_code == case.status, resp.text[:300]
    if case.status >= 400 and case.method != "HEAD":
        error = resp.json()["error"]  # OpenAI's shape, never a plain-text page or a traceback
        assert error["message"] and "Traceback" not in error["message"]
        if case.param:
            assert error["param"] == case.param, error
    if case.status == 405:
        assert resp.headers["allow"]


def test_the_server_still_answers_after_the_battery(server):
    url, client = server
    for case in hostile.CASES:
        hostile.send(client, url, case)
    ask = client.post(url + "/v1/ask", json={"question": hostile.QUESTION},
                      headers={"Authorization": f"Bearer {hostile.KEY}"}).json()
    assert "November 9" in ask["answer"] and ask["citations"][0]["id"] == "S3"


def test_page_security_headers(server):
    url, client = server
    for path in ("/", "/app.js", "/app.css"):
        headers = client.get(url + path).headers
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY"
    # the page runs no inline code, so the policy needs no 'unsafe-inline'
    assert not re.search(r"<script>|<style>|\son\w+=", client.get(url + "/").text)


def test_health_says_only_ok_without_the_key(server):
    url, client = server
    assert client.get(url + "/healthz").json() == {"status": "ok"}
    full = client.get(url + "/healthz", headers={"Authorization": f"Bearer {hostile.KEY}"}).json()
    assert full["status"] == "ok" and full["sentences"] > 0 and full["model"]


def test_citation_links_ignore_the_host_header(server):
    url, client = server
    port = url.rsplit(":", 1)[1]
    resp = client.post(url + "/v1/chat/completions", headers={"Authorization": f"Bearer {hostile.KEY}",
                                                             "Host": f"localhost:{port}"},
                       json={"messages": [{"role": "user", "content": hostile.QUESTION}]})
    links = [a["url_citation"]["url"] for a in resp.json()["choices"][0]["message"]["annotations"]]
    assert links and all(link.startswith(f"http://127.0.0.1:{port}/#S") for link in links)


def test_public_url_names_the_links_and_the_host(assistant):
    settings = assistant.settings.with_(public_url="https://rag.example.org/")
    named = Assistant(settings, generator=assistant.generator, embedder=assistant.embedder)
    with running(named) as (url, _):
        body = {"messages": [{"role": "user", "content": hostile.QUESTION}]}
        resp = httpx.post(url + "/v1/chat/completions", json=body, headers={"Host": "rag.example.org"}, timeout=120)
        links = [a["url_citation"]["url"] for a in resp.json()["choices"][0]["message"]["annotations"]]
        assert links and all(link.startswith("https://rag.example.org/#S") for link in links)
        assert httpx.get(url + "/healthz", headers={"Host": "other.example.org"}).status_code == 421


def test_a_half_sent_body_is_dropped_quietly(server, caplog):
    url, client = server
    host, port = url.removeprefix("http://").split(":")
    with caplog.at_level(logging.INFO):
        with socket.create_connection((host, int(port))) as raw:
            raw.sendall(f"POST /v1/ask HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                        f"Authorization: Bearer {hostile.KEY}\r\nContent-Length: 1000\r\n\r\n"
                        '{"question": "Wh'.encode())
        assert client.get(url + "/healthz").status_code == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text


def test_a_chunked_body_over_the_limit_gets_413(server):
    url, client = server

    def chunks():
        for _ in range(20):
            yield b" " * 100_000

    resp = client.post(url + "/v1/ask", content=chunks(), headers={"Content-Type": "application/json",
                                                                    "Authorization": f"Bearer {hostile.KEY}"})
    assert resp.status_code == 413 and resp.json()["error"]["message"]
