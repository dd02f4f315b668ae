"""50 concurrent clients on loopback, 200 requests, some dropping their streams: every
completed answer is valid, the server stays up and its memory stays flat. Bounded in count
and time; prints RSS before and after."""

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from rag.settings import PROJECT_ROOT
from rag.tools.evaluate import load_questions

from ..server_fixture import running

CLIENTS, REQUESTS, DEADLINE_S = 50, 200, 420


def _rss_mb() -> float:
    psutil = pytest.importorskip("psutil")
    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def test_fifty_clients_two_hundred_requests(assistant):
    questions = [q["question"] for q in load_questions(PROJECT_ROOT / "eval" / "questions.jsonl")]
    store = assistant.store
    with running(assistant) as (url, _):
        for q in questions[:5]:  # warm-up: allocator pools and caches settle before measuring
            httpx.post(url + "/v1/ask", json={"question": q}, timeout=60).raise_for_status()
        before = _rss_mb()
        start = time.monotonic()

        def one(i: int):
            if time.monotonic() - start > DEADLINE_S:
                return "skipped", None
            q = questions[i % len(questions)]
            body = {"model": "m", "messages": [{"role": "user", "content": q}]}
            if i % 20 == 7:  # a client that leaves mid-stream
                with httpx.stream("POST", url + "/v1/chat/completions", json={**body, "stream": True}, timeout=120) as r:
                    next(r.iter_lines())
                return "dropped", None
            if i % 4 == 1:
                r = httpx.post(url + "/v1/chat/completions", json={**body, "stream": True}, timeout=300)
                events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
                content = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
                assert r.text.rstrip().endswith("data: [DONE]")
                return "ok", (content, events[-1]["citations"], events[-1]["abstained"])
            r = httpx.post(url + "/v1/chat/completions", json=body, timeout=300)
            assert r.status_code == 200, r.text
            m = r.json()["choices"][0]["message"]
            return "ok", (m["content"], m["citations"], m["abstained"])

        # Two halves: the first grows thread pools and allocator arenas (client threads live in
        # this process too); a leak shows as growth in the second half.
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(one, range(REQUESTS // 2)))
            middle = _rss_mb()
            results += list(pool.map(one, range(REQUESTS // 2, REQUESTS)))
        elapsed = time.monotonic() - start
        after = _rss_mb()
        health = httpx.get(url + "/healthz").json()
    print(f"\n{REQUESTS} requests from {CLIENTS} clients in {elapsed:.0f} s; RSS {before:.0f} -> {middle:.0f} -> {after:.0f} MB")
    statuses = [s for s, _ in results]
    assert statuses.count("skipped") == 0, f"ran past {DEADLINE_S} s"
    assert statuses.count("dropped") == REQUESTS // 20
    for status, payload in results:
        if status != "ok":
            continue
        content, citations, abstained = payload
        assert content
        assert abstained or citations
        for c in citations:
            assert store.by_id[c["id"]].text == c["text"] and f"[{c['id']}]" in content
    assert health["status"] == "ok" and health["waiting"] == 0
    assert after - middle < 50, f"RSS grew {after - middle:.0f} MB over the last {REQUESTS // 2} requests"
