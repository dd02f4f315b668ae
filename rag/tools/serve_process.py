"""`rag serve` in a child process on a free loopback port, for the tools that measure it from
outside (bench_serve: throughput; hostile: hostile HTTP, server errors, memory)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..errors import RagError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """`extra`: more `rag serve` arguments; `env`: more environment; `keep_stderr`: collect the
    server's stderr (stop() returns it) instead of discarding it."""

    def __init__(self, index_dir: Path | None, extra: list[str], env: dict | None = None, keep_stderr: bool = False):
        self.port = free_port()
        env = {**os.environ, **(env or {}), **({"RAG_INDEX_DIR": str(index_dir)} if index_dir else {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--port", str(self.port), *extra],
                                     env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE if keep_stderr else subprocess.DEVNULL, text=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, workers: int = 1, timeout: float = 300.0) -> None:
        """Every worker must have loaded: ask /healthz until as many distinct answers say ok."""
        import httpx

        deadline, ready = time.monotonic() + timeout, 0
        while time.monotonic() < deadline and ready < workers * 3:
            if self.proc.poll() is not None:
                raise RagError("rag serve exited while starting (run it by hand with --verbose to see why)")
            try:
                ready += httpx.get(self.url + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        if ready < workers * 3:
            raise RagError("rag serve did not become ready in time")

    def stop(self) -> str:
        """Stops the server; its stderr when kept, else ""."""
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err or ""
