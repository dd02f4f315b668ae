"""The default reader, as a user who passes no --model gets it, in each front end: `make test`
installs it by name (`rag models install`), and the suite's RAG_MODEL (tests/conftest.py) is
removed here."""

import json

import httpx
import pytest
from typer.testing import CliRunner

from rag.apps.cli import app
from rag.generation import models
from rag.pipeline import Assistant
from rag.settings import Settings

from .server_fixture import running

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture
def no_model_named(monkeypatch):
    monkeypatch.delenv("RAG_MODEL", raising=False)
    monkeypatch.delenv("RAG_LLM_URL", raising=False)


def test_the_default_is_the_instruction_tuned_reader_chosen_in_models_md():
    # models.md's table chose it: right on new questions and documents, not only on the tuned set
    assert models.tier(models.DEFAULT_TIER).instruct


def test_no_model_named_resolves_to_the_installed_default(no_model_named):
    default = models.tier(models.DEFAULT_TIER)
    if not models.is_installed(default):
        pytest.fail(f"{default.name} is not installed: `make test` runs `rag models install` first")
    assert models.resolve(None) == default.path()


def test_ask_without_a_model_reads_with_the_default(no_model_named, assistant):
    result = runner.invoke(app, ["ask", "--json", "--index-dir", str(assistant.settings.index_dir),
                                 "When did Putin give final approval to the treaty?"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    # "read" is the instruction-tuned reader's outcome; gemma's rule-based spans are "span*"
    assert answer["outcome"] == "read" and answer["timings"]["completion_tokens"] > 0
    assert "November 9" in answer["answer"] and [c["id"] for c in answer["citations"]] == ["S3"]


def test_an_uninstalled_default_says_how_to_install_it(no_model_named, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    result = runner.invoke(app, ["ask", "When?"])
    assert result.exit_code == 1
    assert f"rag models install {models.DEFAULT_TIER}" in result.output
    assert "Traceback" not in result.output


def test_chat_without_a_model_reads_and_follows_up_with_the_default(no_model_named, assistant):
    result = runner.invoke(app, ["chat", "--plain", "--index-dir", str(assistant.settings.index_dir)],
                           input="Where did Putin sign the agreement?\nWhen did he give it final approval?\n/quit\n")
    assert result.exit_code == 0, result.output
    first, second = result.stdout.split("> When did he")
    assert "Pyongyang [S2]" in first
    assert "November 9 [S3]" in second  # "he" resolved to Putin before retrieval


def test_the_server_streams_the_default_readers_answer_with_its_citation(no_model_named, assistant):
    default = Assistant(Settings(index_dir=assistant.settings.index_dir), embedder=assistant.embedder,
                        retriever=assistant.retriever)
    assert default.generator.path == models.tier(models.DEFAULT_TIER).path()
    body = {"stream": True, "messages": [{"role": "user", "content": "When did Putin give final approval to the treaty?"}]}
    with running(default) as (url, _):
        r = httpx.post(url + "/v1/chat/completions", json=body, timeout=120)
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
    cited = [c["id"] for e in events for c in e["choices"][0]["delta"].get("citations") or []]
    assert r.status_code == 200 and r.text.rstrip().endswith("data: [DONE]")
    assert len(events) > 3 and content.startswith("November 9 [S3]") and cited == ["S3"]
