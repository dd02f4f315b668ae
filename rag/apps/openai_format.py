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

from ..answer import Answer


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


def parse_json(body: bytes, limit: int) -> object:
    if len(body) > limit:
        raise ApiError(413, f"request body is {len(body)} bytes; the limit is {limit}")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None


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
    if not isinstance(data, dict):
        raise ApiError(422, "request body must be a JSON object")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(422, "messages must be a non-empty list", "messages")
    turns: list[tuple[str, str]] = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict) or m.get("role") not in {"system", "developer", "user", "assistant", "tool"}:
            raise ApiError(422, f"{where} needs a role of system, user or assistant", where)
        turns.append((m["role"], _text(m.get("content") or "", where)))
    if turns[-1][0] != "user":
        raise ApiError(422, "the last message must come from the user", f"messages[{len(turns) - 1}]")
    question = turns[-1][1]
    if not question.strip():
        raise ApiError(422, "the last user message is empty", f"messages[{len(turns) - 1}].content")
    # System prompts are ignored on purpose: answers come from the documents, not instructions.
    history: list[tuple[str, str]] = []
    pending: str | None = None
    for role, text in turns[:-1]:
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
    for m in re.finditer(r"\[(S\d+)\]", answer.answer):
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
        return f"data: {json.dumps(ApiError(500, message, kind='server_error').body())}\n\n"

    @staticmethod
    def done() -> str:
        return "data: [DONE]\n\n"


def pieces(text: str) -> list[str]:
    """The verified answer cut into word-sized pieces for streaming (markers kept whole)."""
    return re.findall(r"\s*\[S\d+\]|\s*\S+", text) or [text]
