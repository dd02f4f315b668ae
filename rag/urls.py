"""URLs as errors and logs may show them: an LLM server's and a database's alike."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def safe_url(url: str) -> str:
    """The URL without credentials or query string: what errors and logs may show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6: urlsplit drops the brackets the URL needs
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
