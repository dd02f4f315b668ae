"""The HTTP API's request and response bodies as pydantic models: FastAPI validates requests
with them and publishes them in /openapi.json, so the schema is the contract (a request the
schema accepts is answered; one it rejects gets a 4xx naming the field).

Question-length caps come from the settings at app creation (`chat_request_model`), so the
schema states the limit the server enforces.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

# Text that survives cleaning (pipeline.clean_question turns control characters into spaces
# and trims): at least one character that is neither white space nor a control character.
HAS_TEXT = r"[^\s\x00-\x1f\x7f]"
# OpenAI's optional fields that change nothing here are accepted, not echoed: clients send them.
_OPEN = ConfigDict(extra="allow", strict=True)  # strict: false is not 0, "1" is not 1, as in JSON Schema


class TextPart(BaseModel):
    model_config = _OPEN
    type: Literal["text"]
    text: str


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: Optional[str] = None
    code: Optional[str] = None


class ErrorBody(BaseModel):
    """Every error, whatever its status: OpenAI's shape."""
    error: ErrorDetail


def _bool_only(value: Any) -> Any:
    # Literal[False] compares by ==, so 0 would pass as false.
    if value is not None and not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _integral(value: Any) -> Any:
    # JSON Schema counts 27.0 as an integer; strict pydantic would not.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _int(**bounds) -> Any:
    """An optional integer within `bounds` (the bounds first, or the schema loses them)."""
    return Optional[Annotated[int, Field(**bounds), BeforeValidator(_integral)]]


def _question(max_chars: int) -> Any:
    return Annotated[str, Field(min_length=1, max_length=max_chars, pattern=HAS_TEXT)]


def chat_request_model(max_chars: int) -> type[BaseModel]:
    """The chat-completions body. Only the last user message is the question (capped at
    `max_chars`); earlier turns resolve follow-ups only (rag/retrieval/followup.py), and system
    prompts are read as nothing: answers come from the documents."""
    question = _question(max_chars)
    user = create_model(
        "UserMessage", __config__=_OPEN,
        role=(Literal["user"], ...),
        # One text part at most: the cap is on the whole question, which a schema cannot add up
        # over several parts; images and other parts are not read.
        content=(Union[question, Annotated[list[create_model("UserTextPart", __config__=_OPEN,
                                                             type=(Literal["text"], ...), text=(question, ...))],
                                           Field(min_length=1, max_length=1)]], ...),
        name=(Optional[str], None))
    other = create_model(
        "OtherMessage", __config__=_OPEN,
        role=(Literal["system", "developer", "assistant"], ...),
        content=(Union[str, list[TextPart], None], None),
        name=(Optional[str], None))
    messages = Annotated[list[Union[user, other]], Field(
        min_length=1, json_schema_extra={"contains": {"type": "object", "properties": {"role": {"const": "user"}},
                                                      "required": ["role"]}})]
    unit = Annotated[Optional[float], Field(ge=0, le=1)]
    penalty = Annotated[Optional[float], Field(ge=-2, le=2)]
    return create_model(
        "ChatCompletionRequest", __config__=_OPEN,
        messages=(messages, ...),
        model=(Optional[str], None),
        stream=(Optional[bool], False),
        # Decoding is greedy (answers are copied from sentences), so these are checked, not used.
        temperature=(Annotated[Optional[float], Field(ge=0, le=2)], None),
        top_p=(unit, None),
        presence_penalty=(penalty, None),
        frequency_penalty=(penalty, None),
        max_tokens=(_int(ge=1), None),
        max_completion_tokens=(_int(ge=1), None),
        seed=(_int(), None),
        stop=(Union[str, list[str], None], None),
        user=(Optional[str], None),
        # Unsupported: one answer per request, no tools, no log-probabilities (400 naming the field).
        n=(_int(ge=1, le=1), None),
        tools=(Annotated[Optional[list[Any]], Field(max_length=0)], None),
        functions=(Annotated[Optional[list[Any]], Field(max_length=0)], None),
        tool_choice=(Optional[Literal["none"]], None),
        logprobs=(Annotated[Optional[Literal[False]], BeforeValidator(_bool_only)], None),
        top_logprobs=(_int(ge=0, le=0), None),
        documents=(Union[list[str], str, None], None),
        metadata=(Optional[dict[str, str]], None),
    )


def ask_request_model(max_chars: int) -> type[BaseModel]:
    return create_model(
        "AskRequest", __config__=_OPEN,
        question=(_question(max_chars), ...),
        k=(_int(ge=1, le=50), None),
        documents=(Union[list[str], str, None], None))


# One server-sent event of a streamed completion (OpenAPI 3.1: the schema describes each event).
SSE_EVENT = {"type": "object", "required": ["data"], "properties": {
    "data": {"type": "string", "description": "a chat.completion.chunk as JSON, or [DONE] at the end"}}}

# The OpenAI fields that ask for what this server does not do: their errors are 400, not 422.
UNSUPPORTED = ("n", "tools", "functions", "tool_choice", "logprobs", "top_logprobs")


class CitationBody(BaseModel):
    model_config = _OPEN
    id: str
    text: str
    doc: str
    title: Optional[str] = None
    page: Optional[int] = None
    section: Optional[str] = None
    score: float
    source: str


class AnswerBody(BaseModel):
    """`/v1/ask`'s reply: the same JSON as `rag ask --json`."""
    model_config = _OPEN
    question: str
    answer: str
    abstained: bool
    citations: list[CitationBody]
    retrieved: list[dict[str, Any]]
    latency_s: float
    reason: str
    confidence: Optional[float]
    outcome: str


class ChatMessageBody(BaseModel):
    model_config = _OPEN
    role: Literal["assistant"]
    content: str
    citations: list[CitationBody]
    annotations: list[dict[str, Any]]
    abstained: bool
    confidence: Optional[float]
    reason: str


class ChoiceBody(BaseModel):
    index: int
    message: ChatMessageBody
    finish_reason: str


class ChatCompletionBody(BaseModel):
    """Non-streamed reply; with `"stream": true` the same in `chat.completion.chunk` events."""
    model_config = _OPEN
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChoiceBody]
    usage: dict[str, int]


class HealthBody(BaseModel):
    """`status` alone, unless the request carries the API key (or none is configured)."""
    status: Literal["ok", "loading", "error"]
    model: Optional[str] = None
    sentences: Optional[int] = None
    waiting: Optional[int] = None
    error: Optional[str] = None


class ModelBody(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelBody]


class SentenceBody(BaseModel):
    id: str
    doc: str
    title: Optional[str]
    page: Optional[int]
    section: Optional[str]
    paragraph: Optional[int]
    text: str


class SentenceList(BaseModel):
    sentences: list[SentenceBody]


def errors(*statuses: int) -> dict[int, dict]:
    """OpenAPI `responses` entries for these error statuses, all with ErrorBody."""
    what = {400: "Malformed JSON, or a feature this server does not offer (n > 1, tools, logprobs)",
            401: "Missing or wrong API key", 404: "No indexed document has that name",
            413: "Request body over the limit", 415: "Body not sent as application/json",
            421: "Host header not one this server answers for", 422: "Body does not match the schema",
            429: "Too many requests already waiting for the model", 499: "The client closed the connection",
            503: "Models still loading, or the inference server unreachable"}
    return {s: {"model": ErrorBody, "description": what[s]} for s in statuses}
