"""50 concurrent clients on loopback, 200 requests, some dropping their streams: every
completed answer is valid and the server stays up. Its memory and speed are measured by
`python -m rag.tools.hostile` and `rag bench`, not asserted here (a loaded machine moves them)."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from rag.settings import PROJECT_ROOT
from rag.tools.evaluate import load_questions

from ..server_fixture import running

CLIENTS, REQUESTS = 50, 200


def test_fifty_clients_two_hundred_requests(assistant):
    questions = [q["question"] for q in load_questions(PROJECT_ROOT / "eval" / "questions.jsonl")]
    store = assistant.store
    with running(assistant) as (url, _):
        start = time.monotonic()

        def one(i: int):
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

        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(one, range(REQUESTS)))
        elapsed = time.monotonic() - start
        health = httpx.get(url + "/healthz").json()
    print(f"\n{REQUESTS} requests from {CLIENTS} clients in {elapsed:.0f} s")
    statuses = [s for s, _ in results]
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
