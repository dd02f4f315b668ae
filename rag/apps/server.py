"""`rag serve`: an OpenAI-compatible chat API with citations, `/v1/ask`, and a web page.

One `Assistant` (one llama.cpp context) serves every client: requests wait their turn in
an asyncio queue of bounded length instead of running concurrently on the same model, and
a client that goes away while waiting or while its answer is generated gives up its turn.
Streams carry verified text only: the model's draft is checked against its cited sentences
before any of it is sent, so nothing streamed is later taken back.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import sys
import threading
from importlib import resources
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from ..errors import BackendUnavailable, QuestionError, RagError
from ..pipeline import Assistant
from . import openai_format as oa

log = logging.getLogger("rag.apps.server")

# `rag serve --workers N`: the parent passes its settings to each worker process here.
SETTINGS_ENV = "RAG_SERVE_SETTINGS"


def encode_settings(options: dict) -> str:
    return json.dumps({k: (str(v) if hasattr(v, "__fspath__") else v) for k, v in options.items() if v is not None})


def app_from_environment() -> FastAPI:
    """The app of one worker process: its own Assistant, built from the parent's settings. With
    --llm-url and a shared index, workers keep no state of their own, so any number of them
    (here, or behind any HTTP load balancer) serve one team."""
    from pathlib import Path

    from ..settings import Settings

    options = json.loads(os.environ.get(SETTINGS_ENV) or "{}")
    for key in ("index_dir", "model_path"):
        if options.get(key):
            options[key] = Path(options[key])
    if options.get("cors_origins"):
        options["cors_origins"] = tuple(options["cors_origins"])
    assistant = Assistant(Settings().with_(**options), notify=lambda m: print(m, file=sys.stderr))
    return create_app(assistant)


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
            raise oa.ApiError(503, f"{self.waiting} requests are already waiting; retry shortly", kind="server_error")

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
            while not await request.is_disconnected():
                await asyncio.sleep(0.05)
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            return await asyncio.to_thread(self.assistant.ask, question, history=history, k=k, on_token=on_token,
                                           documents=documents)
        except QuestionError as exc:
            raise oa.ApiError(422, str(exc), "messages") from None
        except BackendUnavailable as exc:
            raise oa.ApiError(503, str(exc), kind="server_error") from None
        finally:
            gone.set()  # if this task was cancelled (stream closed), stop the thread at its next token
            watcher.cancel()


def _check_key(api_key: str | None) -> Callable:
    async def check(request: Request) -> None:
        if not api_key or request.method == "OPTIONS" or not request.url.path.startswith("/v1/"):
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
            raise oa.ApiError(401, "missing or wrong API key: send Authorization: Bearer <key>", kind="authentication_error")

    return check


async def _body(request: Request, limit: int) -> object:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise oa.ApiError(413, f"request body is {declared} bytes; the limit is {limit}")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise oa.ApiError(413, f"request body is over the limit of {limit} bytes")
    return oa.parse_json(bytes(body), limit)


def create_app(assistant: Assistant, *, load_in_background: bool = True,
               on_load_error: Callable[[str], None] | None = None) -> FastAPI:
    """The ASGI app. Models load in a background thread so /healthz can say "loading"."""
    s = assistant.settings
    service = Service(assistant, on_load_error)
    check_key = _check_key(s.api_key)

    async def lifespan(app: FastAPI):
        if load_in_background:
            threading.Thread(target=service.load, name="rag-load", daemon=True).start()
        else:
            service.load()
        yield

    app = FastAPI(title="rag", summary="Answers from local documents, every claim cited.", lifespan=lifespan)
    app.state.service = service

    @app.middleware("http")
    async def errors(request: Request, call_next):
        try:
            await check_key(request)
            return await call_next(request)
        except oa.ApiError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)

    # Added last, so outermost: preflights and error responses get CORS headers too.
    if s.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(s.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.exception_handler(oa.ApiError)
    async def api_error(request: Request, exc: oa.ApiError):
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse(oa.ApiError(exc.status_code, str(exc.detail)).body(), status_code=exc.status_code)

    @app.get("/healthz")
    async def healthz():
        if service.load_error:
            return JSONResponse({"status": "error", "error": service.load_error}, status_code=500)
        if not service.ready.is_set():
            return JSONResponse({"status": "loading"}, status_code=503)
        return {"status": "ok", "model": service.model, "sentences": len(assistant.store.sentences),
                "waiting": service.waiting}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": service.model, "object": "model", "created": 0, "owned_by": "rag"}]}

    @app.get("/v1/sentences")
    async def sentences():
        """The documents as sentences, so a page can show and highlight what is cited."""
        service.check_available()
        store = await asyncio.to_thread(assistant.current_store)
        return {"sentences": [{"id": x.id, "doc": x.doc, "title": store.title_of(x.doc), "page": x.page,
                               "section": x.section, "paragraph": x.paragraph, "text": x.text}
                              for x in store.sentences]}

    @app.post("/v1/ask")
    async def ask(request: Request):
        data = await _body(request, s.max_body_bytes)
        if not isinstance(data, dict) or not isinstance(data.get("question"), str):
            raise oa.ApiError(422, "send {\"question\": \"...\"}", "question")
        k = data.get("k")
        if k is not None and not (isinstance(k, int) and 1 <= k <= 50):
            raise oa.ApiError(422, "k must be an integer from 1 to 50", "k")
        documents = oa.parse_documents(data.get("documents"), "documents")
        try:
            answer = await service.answer(request, data["question"], (), k, documents)
        except Cancelled:
            return JSONResponse({}, status_code=499)
        return answer.to_dict()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        req = oa.parse_chat(await _body(request, s.max_body_bytes))
        if not req.stream:
            try:
                answer = await service.answer(request, req.question, req.history, documents=req.documents)
            except Cancelled:
                return JSONResponse({}, status_code=499)
            return oa.completion(answer, service.model, str(request.base_url))
        chunks = oa.Chunks(service.model)

        async def events():
            yield chunks.start()
            try:
                answer = await service.answer(request, req.question, req.history, documents=req.documents)
            except Cancelled:
                return
            except oa.ApiError as exc:
                yield chunks.error(exc.message)
                yield chunks.done()
                return
            for piece in oa.pieces(answer.answer):
                yield chunks.content(piece)
            yield chunks.finish(answer, str(request.base_url))
            yield chunks.done()

        service.check_available()
        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/", response_class=HTMLResponse)
    async def page():
        return resources.files("rag").joinpath("web/index.html").read_text(encoding="utf-8")

    return app
