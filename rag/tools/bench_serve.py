"""Throughput through `rag serve`: answers per second and latency with 1, 4 and 16 concurrent
clients, in-process generation (one worker, answers queue for its model) against N workers
generating on a shared inference server (`--llm-url`)."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import RagError
from .serve_process import ServeProcess


def _load(url: str, questions: list[str], clients: int, per_client: int) -> dict:
    import httpx

    def client(i: int) -> list[float]:
        took = []
        with httpx.Client(timeout=300) as http:
            for j in range(per_client):
                question = questions[(i * per_client + j) % len(questions)]
                t0 = time.perf_counter()
                response = http.post(url + "/v1/ask", json={"question": question})
                if response.status_code != 200:
                    raise RagError(f"rag serve answered HTTP {response.status_code}: {response.text[:200]}")
                took.append(time.perf_counter() - t0)
        return took

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = [x for part in pool.map(client, range(clients)) for x in part]
    wall = time.perf_counter() - t0
    latencies.sort()
    return {"answers": len(latencies), "answers_per_s": len(latencies) / wall,
            "p50_s": statistics.median(latencies), "p95_s": latencies[max(0, round(0.95 * len(latencies)) - 1)]}


def run(index_dir: Path, questions: list[str], llm_url: str | None, *, store: str | None = None, workers: int = 4,
        levels: tuple[int, ...] = (1, 4, 16), per_client: int = 2, log=print) -> dict:
    """Each configuration answers `per_client` questions per client at every concurrency level
    (the first, warm-up pass of each configuration is not counted). With `store`, the served
    workers read that database's index as it is (a benchmark never rewrites a shared index)."""
    setups = {"in_process": (1, [])}
    if llm_url:
        name = f"llm_url{'_store' if store else ''}_{workers}_workers"
        setups[name] = (workers, ["--workers", str(workers), "--llm-url", llm_url, *(["--store", store] if store else [])])
    result: dict = {}
    for name, (n, extra) in setups.items():
        log(f"rag serve, {name.replace('_', ' ')}: 1, 4, 16 concurrent clients")
        serve = ServeProcess(index_dir, extra)
        try:
            serve.wait_ready(n)
            _load(serve.url, questions, n, 1)  # warm every worker's caches
            result[name] = {f"clients_{c}": _load(serve.url, questions, c, per_client) for c in levels}
        finally:
            serve.stop()
    return result
