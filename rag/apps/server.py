"""`rag serve`: an OpenAI-compatible chat API with citations, `/v1/ask`, and a web page.

The routes only parse, call the Service (rag/apps/service.py) and shape replies; what a request
must pass first (Host, key, body type and size) is rag/apps/http_guard.py, the bodies are
rag/apps/api_schema.py. Every error is OpenAI's JSON error. Streams carry verified text only:
the answer is checked against its cited sentences before any of it is sent.
"""

import asyncio
import json
import os
import re
import sys
import threading
from importlib import resources
from typing import Annotated, Callable

from fastapi import Body, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException

from ..pipeline import Assistant
from . import api_schema as api
from . import openai_format as oa
from .http_guard import Guard, GuardConfig, allowed_hosts, authorized
from .service import Cancelled, Service

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
    for key in ("cors_origins", "allowed_hosts"):
        if options.get(key):
            options[key] = tuple(options[key])
    assistant = Assistant(Settings().with_(**options), notify=lambda m: print(m, file=sys.stderr))
    return create_app(assistant)


class _JsonRequest(Request):
    """Bodies parsed by oa.parse_json (no NaN, huge numbers or deep nesting), whose errors
    FastAPI passes on as they are."""

    async def json(self):
        if not hasattr(self, "_json"):
            try:
                self._json = oa.parse_json(await self.body(), sys.maxsize)
            except oa.ApiError as exc:
                raise HTTPException(exc.status, exc.message) from None
        return self._json


class _Route(APIRoute):
    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request):
            return await handler(_JsonRequest(request.scope, request.receive))

        return route


# Parts of a pydantic error location that name a union's branch, not a field.
_BRANCH = re.compile(r"[\[\]\-]|^(str|int|float|bool|list|dict|none|null)$|^[A-Z]")


def _param(loc) -> str | None:
    """("body", "messages", 0, "UserMessage", "content") -> "messages[0].content"."""
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _BRANCH.search(str(part)):
            out += f".{part}" if out else str(part)
    return out or None


def _validation_error(exc: RequestValidationError) -> oa.ApiError:
    """The first problem, naming its field; asking for what this server does not do is a 400."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    param = _param(tuple(first.get("loc", ())))
    loc = (param or "").split(".")
    if loc and loc[0] in api.UNSUPPORTED:
        return oa.ApiError(400, f"{loc[0]} is not supported here: one answer per request, "
                                "copied from the documents, without tools or log-probabilities", loc[0])
    return oa.ApiError(422, f"{param or 'body'}: {first.get('msg', 'invalid')}", param)


def _base_url(request: Request, public_url: str | None) -> str:
    """Where citation links point: the configured public URL, else the address the connection
    reached (the socket's, not the Host header a client chose)."""
    if public_url:
        return public_url.rstrip("/") + "/"
    host, port = request.scope.get("server") or ("127.0.0.1", 80)
    host = f"[{host}]" if ":" in host else host
    return f"{request.url.scheme}://{host}:{port}/"


def create_app(assistant: Assistant, *, load_in_background: bool = True,
               on_load_error: Callable[[str], None] | None = None) -> FastAPI:
    """The ASGI app. Models load in a background thread so /healthz can say "loading"."""
    s = assistant.settings
    service = Service(assistant, on_load_error)

    async def lifespan(app: FastAPI):
        if load_in_background:
            threading.Thread(target=service.load, name="rag-load", daemon=True).start()
        else:
            service.load()
        yield

    app = FastAPI(title="rag", summary="Answers from local documents, every claim cited.", lifespan=lifespan)
    app.router.route_class = _Route
    app.state.service = service
    _error_handlers(app)
    _reading_routes(app, service, assistant)
    _answering_routes(app, service)
    _page_routes(app)
    posted = frozenset(r.path for r in app.routes if "POST" in (getattr(r, "methods", None) or ()))
    app.add_middleware(Guard, config=GuardConfig(allowed_hosts(s.public_url, s.allowed_hosts),
                                                  s.api_key, s.max_body_bytes, posted))
    # Added last, so outermost: preflights and error responses get CORS headers too.
    if s.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(s.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    return app


def _keyed(s) -> list:
    """The key is checked by the Guard; declaring it on a route puts it in the schema."""
    return [Depends(HTTPBearer(auto_error=False))] if s.api_key else []


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(oa.ApiError)
    async def api_error(request: Request, exc: oa.ApiError):
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        # 405 keeps its Allow header.
        return JSONResponse(oa.ApiError(exc.status_code, str(exc.detail)).body(), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        error = _validation_error(exc)
        return JSONResponse(error.body(), status_code=error.status)


def _reading_routes(app: FastAPI, service: Service, assistant: Assistant) -> None:
    """Health, the model list and the documents' sentences."""
    s = assistant.settings
    got = api.errors(401, 421) if s.api_key else api.errors(421)
    keyed = _keyed(s)

    @app.get("/healthz", response_model=api.HealthBody, response_model_exclude_none=True,
             responses={**api.errors(421), 500: {"model": api.HealthBody}, 503: {"model": api.HealthBody}})
    async def healthz(request: Request):
        """Ready or not; which model and how many sentences only with the key (when one is set)."""
        if service.load_error:
            return JSONResponse({"status": "error", "error": service.load_error}, status_code=500)
        if not service.ready.is_set():
            return JSONResponse({"status": "loading"}, status_code=503)
        if not authorized(dict(request.scope["headers"]), s.api_key):
            return {"status": "ok"}
        return {"status": "ok", "model": service.model, "sentences": len(assistant.store.sentences),
                "waiting": service.waiting}

    @app.get("/v1/models", response_model=api.ModelList, responses=got, dependencies=keyed)
    async def models():
        return {"object": "list", "data": [{"id": service.model, "object": "model", "created": 0, "owned_by": "rag"}]}

    @app.get("/v1/sentences", response_model=api.SentenceList, responses={**got, **api.errors(429, 503)},
             dependencies=keyed)
    async def sentences():
        """The documents as sentences, so a page can show and highlight what is cited."""
        service.check_available()
        store = await asyncio.to_thread(assistant.current_store)
        return {"sentences": [{"id": x.id, "doc": x.doc, "title": store.title_of(x.doc), "page": x.page,
                               "section": x.section, "paragraph": x.paragraph, "text": x.text}
                              for x in store.sentences]}


def _answering_routes(app: FastAPI, service: Service) -> None:
    """/v1/ask (rag's own JSON) and /v1/chat/completions (OpenAI's, streamed or not)."""
    s = service.assistant.settings
    Chat = api.chat_request_model(s.max_question_chars)
    Ask = api.ask_request_model(s.max_question_chars)
    posted = api.errors(400, 401, 413, 415, 421, 422, 429, 503) if s.api_key else \
        api.errors(400, 413, 415, 421, 422, 429, 503)
    keyed = _keyed(s)

    @app.post("/v1/ask", response_model=api.AnswerBody, responses={**posted, **api.errors(404, 499)},
              dependencies=keyed)
    async def ask(request: Request, body: Annotated[Ask, Body()]):
        """Answer one question: the same JSON as `rag ask --json`."""
        documents = oa.parse_documents(body.documents, "documents")
        try:
            answer = await service.answer(request, body.question, (), body.k, documents)
        except Cancelled:
            return _gone()
        return JSONResponse(answer.to_dict())

    @app.post("/v1/chat/completions", response_model=api.ChatCompletionBody,
              responses={**posted, **api.errors(404, 499),
                         200: {"content": {"text/event-stream": {"schema": api.SSE_EVENT}},
                               "description": "A chat completion; with stream, its chunks as server-sent events"}},
              dependencies=keyed)
    async def chat(request: Request, body: Annotated[Chat, Body()]):
        """OpenAI's chat completions, answered from the documents with citations."""
        req = oa.parse_chat(body.model_dump(exclude_none=True))
        base = _base_url(request, s.public_url)
        if not req.stream:
            try:
                answer = await service.answer(request, req.question, req.history, documents=req.documents)
            except Cancelled:
                return _gone()
            return JSONResponse(oa.completion(answer, service.model, base))
        await service.check(req.question, req.documents)  # errors get their status, not a 200 stream
        chunks = oa.Chunks(service.model)

        async def events():
            yield chunks.start()
            try:
                answer = await service.answer(request, req.question, req.history, documents=req.documents)
            except Cancelled:
                return
            except oa.ApiError as exc:  # the model server went away mid-request
                yield chunks.error(exc.message)
                yield chunks.done()
                return
            for piece in oa.pieces(answer.answer):
                yield chunks.content(piece)
            yield chunks.finish(answer, base)
            yield chunks.done()

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _page_routes(app: FastAPI) -> None:
    """The chat page and its script and style (files, so the CSP needs no inline code)."""
    web = resources.files("rag").joinpath("web")

    @app.get("/", response_class=HTMLResponse, responses=api.errors(421))
    async def page():
        """The chat page: ask, read the answer, click a citation to see its sentence."""
        return web.joinpath("index.html").read_text(encoding="utf-8")

    app.head("/", include_in_schema=False)(page)

    @app.api_route("/app.js", methods=["GET", "HEAD"], include_in_schema=False)
    async def script():
        return Response(web.joinpath("app.js").read_text(encoding="utf-8"), media_type="text/javascript")

    @app.api_route("/app.css", methods=["GET", "HEAD"], include_in_schema=False)
    async def style():
        return Response(web.joinpath("app.css").read_text(encoding="utf-8"), media_type="text/css")


def _gone() -> JSONResponse:
    return JSONResponse(oa.ApiError(499, "the client closed the connection").body(), status_code=499)
