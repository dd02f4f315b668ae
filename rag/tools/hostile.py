"""Hostile HTTP against `rag serve`: the cases a hostile client or a foreign web page sends,
each with the status the server must give (tests/apps/test_server_hostile.py runs every one),
and a runner that fires many of them at one server process and reports server errors and
its memory.

    python -m rag.tools.hostile --requests 1000      # starts `rag serve`, prints one JSON line
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from .serve_process import ServeProcess

KEY = "hostile-test-key"
QUESTION = "When did Putin give final approval to the treaty?"
JSON = {"Content-Type": "application/json"}


def _chat(**extra) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": QUESTION}], **extra}).encode()


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    status: int
    body: bytes = b""
    headers: dict = field(default_factory=lambda: dict(JSON))
    param: str | None = None  # the field an error must name
    keyed: bool = True  # sends the right API key


CASES = [
    # 1. bodies that used to reach a 500
    Case("deep nesting", "POST", "/v1/ask", 400, b"[" * 1000),
    Case("deep nesting, chat", "POST", "/v1/chat/completions", 400, b"[" * 1000),
    Case("deep nesting in a field", "POST", "/v1/ask", 400, b'{"question": "q", "x": ' + b"[" * 500 + b"]" * 500 + b"}"),
    Case("4,301-digit integer", "POST", "/v1/ask", 400, b'{"question": "q", "x": ' + b"9" * 4301 + b"}"),
    Case("huge integer, streamed chat", "POST", "/v1/chat/completions", 400,
         _chat(stream=True)[:-1] + b', "x": ' + b"1" * 5000 + b"}"),
    Case("NaN", "POST", "/v1/chat/completions", 400, _chat()[:-1] + b', "temperature": NaN}'),
    Case("not UTF-8", "POST", "/v1/ask", 400, b'{"question": "\xff\xfe"}'),
    Case("not JSON", "POST", "/v1/ask", 400, b"{question"),
    # 2. another site's name in Host (DNS rebinding)
    Case("foreign Host", "GET", "/v1/sentences", 421, headers={"Host": "evil.example"}),
    Case("foreign Host with a port", "POST", "/v1/ask", 421, json.dumps({"question": QUESTION}).encode(),
         {**JSON, "Host": "evil.example:8000"}),
    Case("foreign Host on the page", "GET", "/", 421, headers={"Host": "127.0.0.1.evil.example"}),
    # 3. what a foreign page can POST without a preflight
    Case("text/plain POST", "POST", "/v1/chat/completions", 415, _chat(), {"Content-Type": "text/plain"}),
    Case("form POST", "POST", "/v1/ask", 415, b"question=hi", {"Content-Type": "application/x-www-form-urlencoded"}),
    Case("multipart POST", "POST", "/v1/ask", 415, b"--x--", {"Content-Type": "multipart/form-data; boundary=x"}),
    Case("no Content-Type", "POST", "/v1/ask", 415, json.dumps({"question": QUESTION}).encode(), {}),
    # 5. protocol details
    Case("PUT", "PUT", "/v1/ask", 405, b"{}"),
    Case("DELETE", "DELETE", "/v1/chat/completions", 405),
    Case("GET on a POST route", "GET", "/v1/ask", 405),
    Case("HEAD the page", "HEAD", "/", 200),
    Case("unknown path", "GET", "/etc/passwd", 404),
    Case("traversal", "GET", "/../../etc/passwd", 404),
    Case("n=5", "POST", "/v1/chat/completions", 400, _chat(n=5), param="n"),
    Case("tools", "POST", "/v1/chat/completions", 400,
         _chat(tools=[{"type": "function", "function": {"name": "f"}}]), param="tools"),
    Case("logprobs", "POST", "/v1/chat/completions", 400, _chat(logprobs=True), param="logprobs"),
    Case("temperature -1", "POST", "/v1/chat/completions", 422, _chat(temperature=-1), param="temperature"),
    Case("temperature 1e308", "POST", "/v1/chat/completions", 422, _chat(temperature=1e308), param="temperature"),
    Case("max_tokens 0", "POST", "/v1/chat/completions", 422, _chat(max_tokens=0), param="max_tokens"),
    Case("empty question, streamed", "POST", "/v1/chat/completions", 422,
         json.dumps({"stream": True, "messages": [{"role": "user", "content": " \t"}]}).encode(),
         param="messages[0].content"),
    Case("unknown document, streamed", "POST", "/v1/chat/completions", 404, _chat(stream=True, documents=["x.pdf"]),
         param="documents"),
    Case("no user message", "POST", "/v1/chat/completions", 422,
         json.dumps({"messages": [{"role": "system", "content": "obey"}]}).encode(), param="messages"),
    # 6. secrets
    Case("no key", "POST", "/v1/ask", 401, json.dumps({"question": QUESTION}).encode(), keyed=False),
    Case("wrong key", "GET", "/v1/models", 401, headers={"Authorization": "Bearer nope"}, keyed=False),
    # 7. cost: a question over the cap
    Case("4,000-character question", "POST", "/v1/ask", 422, json.dumps({"question": "why " * 1000}).encode(),
         param="question"),
    Case("huge history", "POST", "/v1/chat/completions", 200, json.dumps({"messages": [
        {"role": "user", "content": "x " * 450} if i % 2 == 0 else {"role": "assistant", "content": "y " * 2000}
        for i in range(40)] + [
        {"role": "user", "content": "What is the capital of France?"}]}).encode()),
]


def send(client, base: str, case: Case):
    headers = dict(case.headers)
    if case.keyed:
        headers.setdefault("Authorization", f"Bearer {KEY}")
    return client.request(case.method, base + case.path, content=case.body or None, headers=headers)


def run(requests: int, model: str | None = None, timeout: float = 600) -> dict:
    """Start `rag serve` with a key, warm it up, send `requests` hostile cases round robin
    (plus a real question every 50th), then ask the real question once more."""
    import httpx
    import psutil

    serve = ServeProcess(None, ["--model", model] if model else [], env={"RAG_API_KEY": KEY}, keep_stderr=True)
    base = serve.url
    try:
        serve.wait_ready(timeout=timeout)
        proc = psutil.Process(serve.proc.pid)
        with httpx.Client(timeout=120) as client:
            ask = Case("question", "POST", "/v1/ask", 200, json.dumps({"question": QUESTION}).encode())
            for case in CASES + [ask] * 5:  # warm-up: every path once, allocator pools settle
                send(client, base, case)
            before = proc.memory_info().rss
            statuses: dict[int, int] = {}
            wrong: dict[str, int] = {}
            t0 = time.monotonic()
            for i in range(requests):
                case = ask if i % 50 == 49 else CASES[i % len(CASES)]
                status = send(client, base, case).status_code
                statuses[status] = statuses.get(status, 0) + 1
                if status != case.status:
                    wrong[case.name] = wrong.get(case.name, 0) + 1
            elapsed = time.monotonic() - t0
            after = proc.memory_info().rss
            final = send(client, base, ask).json()
    finally:
        err = serve.stop()
    return {"requests": requests, "seconds": round(elapsed, 1), "statuses": dict(sorted(statuses.items())),
            "server_errors": sum(n for s, n in statuses.items() if s >= 500), "unexpected": wrong,
            "rss_before_mb": round(before / 2**20), "rss_after_mb": round(after / 2**20),
            "rss_growth_mb": round((after - before) / 2**20, 1),
            "final_answer": final["answer"], "tracebacks_logged": err.count("Traceback")}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    print(json.dumps(run(args.requests, args.model)))
