"""A real `rag serve` app on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import uvicorn

from rag.apps.server import create_app


@contextmanager
def running(assistant):
    assistant.load()
    app = create_app(assistant, load_in_background=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(10)
