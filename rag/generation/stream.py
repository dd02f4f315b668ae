"""A reply as it streams in, whichever backend writes it (in-process llama.cpp, its server, a
plain OpenAI server): each piece passed on as it comes, kept, and timed from the request."""

from __future__ import annotations

import time


class Stream:
    def __init__(self, on_token=None):
        self.on_token = on_token
        self.pieces: list[str] = []
        self.t0 = time.perf_counter()
        self._ttft: float | None = None

    def add(self, piece: str) -> None:
        """One chunk's text; a chunk without any still marks when the first one came."""
        if self._ttft is None:
            self._ttft = time.perf_counter() - self.t0
        if piece:
            self.pieces.append(piece)
            if self.on_token:
                self.on_token(piece)

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def times(self) -> tuple[float, float]:
        """Time to the first chunk and in all (a reply that sent none: its whole time for both)."""
        seconds = time.perf_counter() - self.t0
        return (self._ttft if self._ttft is not None else seconds), seconds
