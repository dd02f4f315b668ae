"""The state behind `rag serve`: one Assistant, whether it has loaded, and the queue in front
of it. Requests wait their turn (one llama.cpp context answers one question at a time); a
client that goes away while waiting or while its answer is generated gives up its turn."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Callable

from starlette.requests import Request

from ..errors import BackendUnavailable, QuestionError, RagError, UnknownDocument
from ..pipeline import Assistant
from . import openai_format as oa

log = logging.getLogger("rag.apps.server")


class Cancelled(Exception):
    """Raised inside generation when the client that asked has gone."""


class Service:
    """The app's state: the assistant, whether it is loaded, and the queue in front of it."""

    def __init__(self, assistant: Assistant, on_load_error: Callable[[str], None] | None = None):
        self.assistant = assistant
        self.on_load_error = on_load_error
        s = assistant.settings
        self.max_queue = s.max_queue
        self.ready = threading.Event()
        self.load_error: str | None = None
        self.waiting = 0
        self.unavailable: str | None = None
        self._retrying = threading.Lock()
        self.slot = asyncio.Semaphore(1)
        self.model = "rag"

    def load(self) -> None:
        try:
            self.assistant.load()
            self.model = self.assistant.generator.name
            self.unavailable = None
            self.ready.set()
        except BackendUnavailable as exc:  # the LLM server is down: not fatal, the next request retries
            self.unavailable = str(exc)
            log.warning("%s", exc)
        except RagError as exc:
            self.load_error = str(exc)
            log.error("could not load: %s", exc)
            if self.on_load_error:
                self.on_load_error(self.load_error)

    def _retry_load(self) -> None:
        if self._retrying.acquire(blocking=False):
            def run():
                try:
                    self.load()
                finally:
                    self._retrying.release()
            threading.Thread(target=run, name="rag-reload", daemon=True).start()

    def check_available(self) -> None:
        if self.unavailable and not self.ready.is_set():
            self._retry_load()
            raise oa.ApiError(503, self.unavailable, kind="server_error")
        if self.load_error:
            raise oa.ApiError(503, f"the assistant could not load: {self.load_error}", kind="server_error")
        if not self.ready.is_set():
            raise oa.ApiError(503, "the assistant is still loading models; retry shortly", kind="server_error")
        if self.waiting >= self.max_queue:
            raise oa.ApiError(429, f"{self.waiting} requests are already waiting; retry shortly",
                              kind="rate_limit_error")

    async def check(self, question: str, documents) -> None:
        """Refuse what the assistant would refuse, before a stream promises a 200."""
        self.check_available()
        try:
            await asyncio.to_thread(self.assistant.check, question, documents)
        except UnknownDocument as exc:
            raise oa.ApiError(404, str(exc), "documents") from None
        except QuestionError as exc:
            raise oa.ApiError(422, str(exc), "messages") from None

    async def answer(self, request: Request, question: str, history, k: int | None = None, documents=None):
        """Wait for the model, then answer in a worker thread; give up if the client leaves."""
        self.check_available()
        self.waiting += 1
        try:
            await self.slot.acquire()
        finally:
            self.waiting -= 1
        try:
            if await request.is_disconnected():
                raise Cancelled()
            return await self._run(request, question, history, k, documents)
        finally:
            self.slot.release()

    async def _run(self, request: Request, question: str, history, k, documents):
        gone = threading.Event()

        def on_token(_: str) -> None:
            if gone.is_set():
                raise Cancelled()

        async def watch() -> None:
            # After the body, the connection's next message is its end: wait on it rather than
            # poll request.is_disconnected() every 50 ms.
            while (await request.receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            return await asyncio.to_thread(self.assistant.ask, question, history=history, k=k, on_token=on_token,
                                           documents=documents)
        except UnknownDocument as exc:
            raise oa.ApiError(404, str(exc), "documents") from None
        except QuestionError as exc:
            raise oa.ApiError(422, str(exc), "messages") from None
        except BackendUnavailable as exc:
            raise oa.ApiError(503, str(exc), kind="server_error") from None
        finally:
            gone.set()  # if this task was cancelled (stream closed), stop the thread at its next token
            watcher.cancel()
