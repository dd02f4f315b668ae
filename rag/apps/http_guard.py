"""What every request passes before the API sees it, as one ASGI middleware: the Host it names,
the API key, the body's type and size; and what every response carries: security headers.

Plain ASGI rather than Starlette's BaseHTTPMiddleware, so a body can be read (up to the limit)
before routing, a client that hangs up mid-body is dropped without a traceback, and streams
pass through untouched.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger("rag.apps.server")

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::", "")
# The page loads only its own script and style (rag/web/app.js, app.css), so nothing else is needed.
PAGE_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", PAGE_CSP.encode()),
]


def host_name(value: str) -> str:
    """The name in a Host header or URL authority, without port or IPv6 brackets, lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def allowed_hosts(public_url: str | None, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """Loopback names, the public URL's host and `extra` (`rag serve` adds the address it
    binds, unless a wildcard): a page on another site that resolves its own name to 127.0.0.1
    (DNS rebinding) sends its own name as Host, and is refused."""
    names = set(LOOPBACK) | {host_name(h) for h in extra if h not in WILDCARDS}
    if public_url:
        names.add((urlsplit(public_url).hostname or "").lower())
    return frozenset(n for n in names if n)


@dataclass(frozen=True)
class GuardConfig:
    hosts: frozenset[str]
    api_key: str | None
    max_body: int
    posted: frozenset[str]  # paths that take a POST body: any other path gets the router's 405


def authorized(headers: dict[bytes, bytes], api_key: str | None) -> bool:
    if not api_key:
        return True
    given = headers.get(b"authorization", b"")
    return hmac.compare_digest(given, f"Bearer {api_key}".encode())


def _error(status: int, message: str, kind: str = "invalid_request_error", param: str | None = None):
    body = json.dumps({"error": {"message": message, "type": kind, "param": param, "code": None}}).encode()
    return status, body


class Guard:
    def __init__(self, app, config: GuardConfig):
        self.app, self.config = app, config

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def secured(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in names]
            await send(message)

        headers = dict(scope.get("headers") or [])
        refused = self._refuse(scope, headers)
        if refused:
            return await self._reply(secured, *refused)
        if not self._takes_body(scope):
            return await self.app(scope, receive, secured)
        body = await self._read(scope, receive, headers, secured)
        if body is None:
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only the disconnect, if the client leaves

        await self.app(scope, replay, secured)

    def _refuse(self, scope, headers: dict[bytes, bytes]) -> tuple[int, bytes] | None:
        host = host_name(headers.get(b"host", b"").decode("latin-1"))
        if host not in self.config.hosts:
            return _error(421, f"this server does not answer for the host {host!r}; "
                               "start it with --public-url to name the one it is reached by")
        if scope["path"].startswith("/v1/") and scope["method"] != "OPTIONS" \
                and not authorized(headers, self.config.api_key):
            return _error(401, "missing or wrong API key: send Authorization: Bearer <key>", "authentication_error")
        if self._takes_body(scope):
            kind = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
            # A form or text/plain POST is what a foreign page can send without a preflight.
            if kind != "application/json":
                return _error(415, "send the body as JSON with Content-Type: application/json")
            declared = headers.get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.config.max_body:
                return _error(413, f"request body is {int(declared)} bytes; the limit is {self.config.max_body}")
        return None

    def _takes_body(self, scope) -> bool:
        return scope["method"] == "POST" and scope["path"] in self.config.posted

    async def _read(self, scope, receive, headers, send) -> bytes | None:
        body, limit = bytearray(), self.config.max_body
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                log.info("client left before sending its whole request body")
                return None
            body += message.get("body", b"")
            if len(body) > limit:
                await self._reply(send, *_error(413, f"request body is over the limit of {limit} bytes"))
                return None
            if not message.get("more_body"):
                return bytes(body)

    @staticmethod
    async def _reply(send, status: int, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
