import pytest

from rag.apps.cli import make_assistant
from rag.generation import preload
from rag.settings import Settings


@pytest.fixture
def started(monkeypatch):
    seen = []
    monkeypatch.setattr(preload, "start", seen.append)
    return seen


@pytest.mark.parametrize("argv, speculates", [
    (["ask", "When was it signed?"], True),
    (["ask", "When?", "--index-dir", "idx", "--k", "3", "--json", "--doc", "a.pdf"], True),
    (["ask", "When?", "--model", "other.gguf"], False),
    (["ask", "When?", "--model=other.gguf"], False),
    (["ask", "When?", "--llm-url", "http://127.0.0.1:8080/v1"], False),
    (["ask", "When?", "-v"], False),  # --verbose loads with llama.cpp's logs on: another key
    (["ask", "--help"], False),  # help must stay instant
    (["chat"], True),
    (["chat", "--plain", "--doc", "a.pdf"], True),
    (["chat", "--model", "other.gguf"], False),
    (["index", "docs/"], False),
    ([], False),
])
def test_which_command_lines_start_loading_before_parsing(started, argv, speculates):
    assert preload.speculate(argv) == speculates
    assert bool(started) == speculates


def test_the_parsed_ask_finds_the_speculated_model(started, monkeypatch, tmp_path):
    """Loaded under the key `rag ask` then asks for, or it would load the model twice."""
    monkeypatch.delenv("RAG_MODEL", raising=False)
    monkeypatch.delenv("RAG_LLM_URL", raising=False)
    preload.speculate(["ask", "When?", "--index-dir", str(tmp_path)])
    # what cli.ask passes when only --index-dir was given
    make_assistant(tmp_path, None, None, False, preload_model=True, min_confidence=None, llm_url=None,
                   llm_api_key=None, store=None, answer_mode=None)
    speculated, parsed = started
    assert preload._key(speculated) == preload._key(parsed)
    assert preload._key(Settings().with_(model_path=tmp_path / "other.gguf")) != preload._key(speculated)
