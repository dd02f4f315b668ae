"""Fixtures: the real models (session-scoped, loaded once) and a scripted fake generator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.generation.generate import BaseGenerator, Generation
from rag.pipeline import Assistant
from rag.settings import BUNDLED_CORPUS, Settings

ARTICLE = BUNDLED_CORPUS
# The suite's shared pipeline is the fast tier, by name: the default tier (an instruction-tuned
# reader, seconds an answer) would make every real-model test several times slower. Everything that builds
# Settings() or starts `rag` without a model (CliRunner, subprocesses) gets it too; the default
# itself is tested by name in tests/test_default_tier.py (RAG_MODEL removed there).
FAST_TIER = "gemma-3-270m"
os.environ["RAG_MODEL"] = FAST_TIER


class ScriptedGenerator(BaseGenerator):
    """Deterministic stand-in for llama.cpp: returns the scripted replies in order, and
    records the prompts it was given. For unit tests of parsing, citation and abstention."""

    name = "scripted"
    chat = False

    def __init__(self, *replies: str, copy_spans: bool = False):
        self.replies = list(replies)
        self.prompts: list[str] = []
        # Declares the span capability only when a test asks for it; the replies are then what
        # a backend returned for `copy_from` (the pipeline must still check they are spans).
        self.copy_spans = copy_spans
        self.copied_from: list[str | None] = []

    def generate(self, prompt, *, allowed_ids=(), copy_from=None, max_tokens=48, stop=(), on_token=None):
        self.prompts.append(prompt)
        self.copied_from.append(copy_from)
        text = self.replies.pop(0) if self.replies else ""
        if on_token and text:
            on_token(text)
        return Generation(text, len(prompt.split()), len(text.split()), 0.0, 0.0)


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("index")


@pytest.fixture(scope="session")
def settings(index_dir) -> Settings:
    return Settings(index_dir=index_dir, model_path=Path(FAST_TIER))


@pytest.fixture(scope="session")
def assistant(settings) -> Assistant:
    """The real pipeline: MiniLM embedder, FAISS index, gemma-3-270m GGUF."""
    return Assistant(settings)


@pytest.fixture(scope="session")
def embedder(assistant):
    return assistant.embedder


@pytest.fixture
def scripted(assistant):
    """An Assistant sharing the real embedder and index but with a scripted generator."""

    def make(*replies: str, copy_spans: bool = False, reranker=None, notify=None,
             **settings) -> tuple[Assistant, ScriptedGenerator]:
        gen = ScriptedGenerator(*replies, copy_spans=copy_spans)
        # Scripted tests check parsing and grounding; confidence abstention is tested on its own.
        settings = {"min_confidence": 0.0, **settings}
        fake = Assistant(assistant.settings.with_(**settings), generator=gen, embedder=assistant.embedder,
                         reranker=reranker, retriever=assistant.retriever, notify=notify)
        return fake, gen

    return make


@pytest.fixture(scope="session")
def bundled_questions() -> list[dict]:
    from rag.settings import PROJECT_ROOT
    from rag.tools.evaluate import load_questions

    return load_questions(PROJECT_ROOT / "eval" / "questions.jsonl")


@pytest.fixture(scope="session")
def embedding_texts(assistant, bundled_questions) -> list[str]:
    """What every embedding runtime is held to the reference on: the article, the eval questions
    and the edge cases."""
    return [s.text for s in assistant.store.sentences] + [q["question"] for q in bundled_questions] + [
        "José and Vardø, 1066?", "x", "a " * 400]  # accents, one token, past the 256-token limit


@pytest.fixture(scope="session")
def bundled_predictions(assistant, bundled_questions) -> list[dict]:
    """The bundled eval set answered in-process on the FAISS index: what a served backend
    (tests/generation/test_served.py, tests/stores/test_pgstore.py) must agree with."""
    from rag.tools import evaluate

    return evaluate.run(assistant, bundled_questions)


# Agreement runs between backends take minutes on 2 cores (one hit pytest-timeout's 600 s on a
# loaded machine): the suite runs every other bundled question; `make test-full` runs them all.
FULL = os.environ.get("RAG_FULL_AGREEMENT") == "1"


def sample(questions: list[dict]) -> list[dict]:
    return questions if FULL else questions[::2]


def agreement(here: list[dict], there: list[dict]) -> tuple[float, float]:
    """Shares of questions with the same answer and citations, and with the same citations."""
    cited = lambda p: [c["id"] for c in p["citations"]]  # noqa: E731
    same = sum(a["answer"] == b["answer"] and cited(a) == cited(b) for a, b in zip(here, there))
    same_citations = sum(cited(a) == cited(b) for a, b in zip(here, there))
    return same / len(here), same_citations / len(here)
