"""OpenAI chat-completions shapes: parse a request into (question, history), and turn an
`Answer` into a response or stream chunks. Pure functions, so the table tests need no server.

Citations travel twice: inline `[S12]` markers in the content, and a `citations` list
(id, text, doc, score) on the message and on the final stream chunk, which OpenAI clients
keep as extra fields.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass

from ..types import MARKER, Answer


class ApiError(Exception):
    """An error the client caused: HTTP status plus an OpenAI-style error body."""

    def __init__(self, status: int, message: str, param: str | None = None, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.kind = status, message, param, kind

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": None}}


@dataclass(frozen=True)
class ChatRequest:
    question: str
    history: list[tuple[str, str]]  # earlier (user, assistant) turns
    stream: bool
    model: str | None
    documents: list[str] | None = None  # answer only from these documents (by name)


# Deeper than any real request; json's C parser recurses, and a deep body reached its limit
# (RecursionError, a 500) at about 1,000 levels.
MAX_DEPTH = 64
# Python refuses to parse integers longer than 4,300 digits (ValueError, a 500): no field here
# needs more than a few.
MAX_DIGITS = 100


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"a number with {len(text)} digits")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range")
    return value


def _constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _depth(value: object) -> int:
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json(body: bytes, limit: int) -> object:
    """A request body as JSON, or ApiError: 413 over `limit`, 400 for anything that is not
    plain JSON (bad UTF-8, NaN or Infinity, huge numbers, nesting deeper than MAX_DEPTH)."""
    if len(body) > limit:
        raise ApiError(413, f"request body is {len(body)} bytes; the limit is {limit}")
    try:
        data = json.loads(body, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise ApiError(400, f"request body is nested more than {MAX_DEPTH} levels deep") from None
    except (UnicodeDecodeError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    if _depth(data) > MAX_DEPTH:
        raise ApiError(400, f"request body is nested more than {MAX_DEPTH} levels deep")
    return data


def _text(content: object, where: str) -> str:
    """Message content: a string, or a list of parts of which the text parts count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if all(isinstance(p, str) for p in parts):
            return " ".join(parts)
    raise ApiError(422, f"{where}.content must be a string or a list of text parts", where)


def parse_chat(data: object) -> ChatRequest:
    """The question (the last user message), the earlier (user, assistant) turns and options
    of a chat-completions body that rag/apps/api_schema.py has validated; checked again here
    for callers that skip it. Trailing assistant turns are ignored: there is nothing to continue."""
    if not isinstance(data, dict):
        raise ApiError(422, "request body must be a JSON object")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(422, "messages must be a non-empty list", "messages")
    turns: list[tuple[str, str]] = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict) or m.get("role") not in {"system", "developer", "user", "assistant"}:
            raise ApiError(422, f"{where} needs a role of system, user or assistant", where)
        turns.append((m["role"], _text(m.get("content") or "", where)))
    last = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=None)
    if last is None:
        raise ApiError(422, "no message comes from the user", "messages")
    question = turns[last][1]
    if not question.strip():
        raise ApiError(422, "the last user message is empty", f"messages[{last}].content")
    # System prompts are ignored on purpose: answers come from the documents, not instructions.
    history: list[tuple[str, str]] = []
    pending: str | None = None
    for role, text in turns[:last]:
        if role == "user":
            pending = text
        elif role == "assistant" and pending is not None:
            history.append((pending, text))
            pending = None
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(422, "stream must be true or false", "stream")
    model = data.get("model")
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    documents = parse_documents(data["documents"] if "documents" in data else metadata.get("documents"), "documents")
    return ChatRequest(question, history, stream, model if isinstance(model, str) else None, documents)


def parse_documents(value: object, where: str) -> list[str] | None:
    """A list of document names, or one name; OpenAI's `metadata` holds strings only, so a
    comma-separated string is accepted there too."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(422, "documents must be a list of document names", where)
    return value or None


def citations(answer: Answer) -> list[dict]:
    confidence = _confidence(answer)
    return [{"id": c.id, "text": c.text, "doc": c.doc, "title": c.title, "page": c.page, "section": c.section,
             "score": round(c.score, 4), "source": c.source, "confidence": confidence} for c in answer.citations]


def annotations(answer: Answer, base_url: str) -> list[dict]:
    """OpenAI's own citation format, which chat front ends render as sources: one `url_citation`
    per cited sentence, spanning its `[S3]` marker in the content and linking to the sentence on
    this server's page (`/#S3` opens it highlighted)."""
    base = base_url.rstrip("/") + "/"
    found = {}
    for m in MARKER.finditer(answer.answer):
        found.setdefault(m.group(1), (m.start(), m.end()))
    out = []
    for c in answer.citations:
        start, end = found.get(c.id, (0, len(answer.answer)))  # an unmarked citation backs the whole answer
        out.append({"type": "url_citation", "url_citation": {
            "url": f"{base}#{c.id}", "title": f"[{c.id}] {c.text} ({c.where})", "start_index": start, "end_index": end}})
    return out


def _confidence(answer: Answer) -> float | None:
    return None if answer.confidence is None else round(answer.confidence, 4)


def completion(answer: Answer, model: str, base_url: str = "/") -> dict:
    cites = citations(answer)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": answer.answer, "citations": cites,
                        "annotations": annotations(answer, base_url),
                        "abstained": answer.abstained, "confidence": _confidence(answer), "reason": answer.reason},
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": int(answer.timings.get("prompt_tokens", 0)),
                  "completion_tokens": int(answer.timings.get("completion_tokens", 0)),
                  "total_tokens": int(answer.timings.get("prompt_tokens", 0) + answer.timings.get("completion_tokens", 0))},
        "citations": cites,
    }


class Chunks:
    """Server-sent events in OpenAI's chunk format, ending with `data: [DONE]`."""

    def __init__(self, model: str):
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.model = model
        self.created = int(time.time())

    def _event(self, delta: dict, finish: str | None = None, **extra) -> str:
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def start(self) -> str:
        return self._event({"role": "assistant", "content": ""})

    def content(self, text: str) -> str:
        return self._event({"content": text})

    def finish(self, answer: Answer, base_url: str = "/") -> str:
        cites = citations(answer)
        delta = {"citations": cites, "annotations": annotations(answer, base_url)}
        return self._event(delta, "stop", citations=cites, abstained=answer.abstained,
                           confidence=_confidence(answer), reason=answer.reason)

    def error(self, message: str) -> str:
        """After a 200 has been sent, the only way left to say the answer failed."""
        return f"data: {json.dumps(ApiError(503, message, kind='server_error').body())}\n\n"

    @staticmethod
    def done() -> str:
        return "data: [DONE]\n\n"


def pieces(text: str) -> list[str]:
    """The verified answer cut into word-sized pieces for streaming (markers kept whole)."""
    return [m.group() for m in re.finditer(rf"\s*{MARKER.pattern}|\s*\S+", text)] or [text]
