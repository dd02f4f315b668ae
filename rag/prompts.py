"""Prompt templates live as files in prompts/; this module only fills them in."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from .errors import RagError


@lru_cache(maxsize=8)
def load_template(prompts_dir: Path, name: str) -> str:
    path = prompts_dir / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        raise RagError(f"prompt template {path} is missing") from None


def as_data(text: str) -> str:
    """Flatten text so it cannot fake the prompt's structure (new blocks, markers, answers)."""
    text = re.sub(r"\s+", " ", text).strip()
    return text.replace("[", "(").replace("]", ")")


def render(prompts_dir: Path, name: str, question: str, evidence: list[tuple[str, str]]) -> str:
    context = "\n".join(f"[{sid}] {as_data(text)}" for sid, text in evidence)
    # str.replace, not str.format: braces in documents or questions are data.
    template = load_template(prompts_dir, name).rstrip("\n")
    return template.replace("{context}", context).replace("{question}", as_data(question))


def fixed_prefix(prompts_dir: Path, name: str) -> str:
    """The part of a template before the first slot: the same for every question, so its
    llama.cpp KV state can be computed once and reused."""
    template = load_template(prompts_dir, name)
    return template[: template.index("{context}")] if "{context}" in template else ""
