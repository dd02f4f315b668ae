"""llama.cpp's real HTTP server (xllamacpp) in a child process, on a free loopback port, that a
test can stop and start again to prove the client survives it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    def __init__(self, parallel: int = 4, command: str = "llm-server", model: str | None = None):
        self.port = free_port()
        self.parallel = parallel
        self.command = command  # or "embed-server"
        self.model = model  # a tier's name or a GGUF's path; None: RAG_MODEL (the suite's fast tier)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> "LlamaServer":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag", self.command, "--port", str(self.port), "--parallel", str(self.parallel)]
            + (["--model", self.model] if self.model else []),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.command} exited: {self.proc.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.command} did not come up")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class PlainOpenAI:
    """A loopback proxy that passes only /v1/* through to a llama.cpp server: what a plain
    OpenAI-compatible server (vLLM, a hosted API) looks like to rag, with no /props,
    /tokenize or /completion extensions to discover. `chat=False`: chat turns are refused, as
    vLLM refuses them for a base model, which has no chat template (llama.cpp lends it one)."""

    def __init__(self, upstream: str, chat: bool = True):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        root = upstream.rstrip("/").removesuffix("/v1")

        class Handler(BaseHTTPRequestHandler):
            def _forward(self):
                if not self.path.startswith("/v1/"):
                    self.send_error(404)
                    return
                if not chat and self.path.startswith("/v1/chat/"):
                    refusal = b'{"error": {"message": "this model has no chat template", "code": 400}}'
                    self.send_response(400)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(refusal)))
                    self.end_headers()
                    self.wfile.write(refusal)
                    return
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with httpx.stream(self.command, root + self.path, content=body or None, timeout=120,
                                  headers={"content-type": "application/json"}) as r:
                    self.send_response(r.status_code)
                    self.send_header("content-type", r.headers.get("content-type", "application/json"))
                    self.end_headers()
                    for part in r.iter_raw():
                        self.wfile.write(part)
                        self.wfile.flush()

            do_GET = do_POST = _forward

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
