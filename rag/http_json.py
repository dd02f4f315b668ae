"""What an OpenAI-compatible server's reply means, as rag's errors: one reading for every
served backend (the LLM server, the embedding server)."""

from __future__ import annotations

from .errors import BackendUnavailable, ModelError


def json_reply(response, server: str, key_hint: str) -> dict:
    """The JSON object of an httpx `response`, or the error a user can act on: a refused key
    (ModelError naming `key_hint`), a busy or failing server (BackendUnavailable: worth retrying),
    a rejected request (ModelError with the server's own message)."""
    if response.status_code in (401, 403):
        raise ModelError(f"{server} refused the key (HTTP {response.status_code}): check {key_hint}")
    if response.status_code >= 500 or response.status_code == 429:
        raise BackendUnavailable(f"{server} answered HTTP {response.status_code}; retry shortly")
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400 or not isinstance(data, dict):
        message = (data or {}).get("error", {}) if isinstance(data, dict) else {}
        detail = message.get("message", "") if isinstance(message, dict) else str(message)
        raise ModelError(f"{server} rejected the request (HTTP "
                         f"{response.status_code}){': ' + detail[:200] if detail else ''}")
    return data
