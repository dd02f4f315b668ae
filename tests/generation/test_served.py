"""Generation on llama.cpp's real HTTP server (`--llm-url`): what it declares, that spans and
citations keep their guarantees, that it agrees with the in-process backend, and that a server
that stops and comes back costs one clear error, never a traceback."""

from __future__ import annotations

import json
import re
import time

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from rag import prompts
from rag.apps.cli import app
from rag.apps.server import create_app
from rag.errors import BackendUnavailable
from rag.generation import served
from rag.grounding import span
from rag.pipeline import Assistant
from rag.tools import evaluate

from ..conftest import agreement, sample
from ..llm_server_fixture import LlamaServer, PlainOpenAI

pytest.importorskip("xllamacpp", reason="llama.cpp's server comes from the xllamacpp wheel (dev extra)")

APPROVAL = "before Putin provided his final approval on November 9"


@pytest.fixture(scope="module")
def llama():
    server = LlamaServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def remote(llama, assistant):
    """An Assistant generating on the server, sharing the session's embedder and index."""
    helper = Assistant(assistant.settings.with_(llm_url=llama.url), embedder=assistant.embedder,
                       retriever=assistant.retriever)
    return helper


def test_declares_what_llama_cpp_server_can_do(remote, assistant):
    gen = remote.generator
    assert isinstance(gen, served.ServedGenerator)
    # llama.cpp shows its ChatML fallback for a GGUF with no template: gemma is no chat reader.
    assert gen.copy_spans and not gen.chat and not gen.choose and gen.n_ctx == 2048
    assert gen.name == "gemma-3-270m-q4_k_m"
    prompt = "Sentence: The treaty was signed in June.\nQuestion: When was it signed?\nAnswer:"
    assert gen.count_tokens(prompt) == assistant.generator.count_tokens(prompt)


def test_span_is_copied_from_the_sentence(remote):
    sentence = "The Russian State Duma approved the treaty in late October, before Putin signed it on November 9."
    prompt = span.render(remote.settings.prompts_dir, "When did Putin sign the treaty?", sentence)
    pieces: list[str] = []
    gen = remote.generator.generate(prompt, copy_from=prompts.as_data(sentence), max_tokens=32, stop=["\n"],
                                    on_token=pieces.append)
    assert gen.text.strip() and "".join(pieces) == gen.text
    assert span.locate(gen.text.strip(), sentence) is not None


def test_the_server_tells_word_edges_as_the_in_process_model_does(remote, assistant):
    text = " It is in PSPACE and co-NP, 19 June 2024."
    ids, edges = remote.generator.word_tokens(text)
    local = assistant.generator._span_constraint(text[1:])  # it puts the answer's leading space back
    assert ids == local.source and edges == (list(local.starts[0]), list(local.ends[0]))
    assert not all(edges[0])  # some token continues a word: no span may begin there


def test_citation_markers_name_only_shown_ids(remote):
    prompt = prompts.render(remote.settings.prompts_dir, "answer", "Who signed it?",
                            [("S4", "Putin signed the treaty."), ("S9", "Kim signed it too.")]) + "S4]"
    gen = remote.generator.generate(prompt, allowed_ids=["S4", "S9"], max_tokens=40, stop=["\n"])
    assert set(re.findall(r"\[([^\]]*)\]", gen.text)) <= {"S4", "S9"}


def test_query_likelihood_matches_in_process(remote, assistant):
    sentences = [s.text for s in assistant.store.sentences[:6] if APPROVAL not in s.text][:2] + [
        next(s.text for s in assistant.store.sentences if APPROVAL in s.text)]
    question = "When did Putin give final approval to the treaty?"
    local = assistant.reranker.score(question, sentences)
    far = remote.reranker.score(question, sentences)
    assert max(range(3), key=far.__getitem__) == max(range(3), key=local.__getitem__) == 2
    assert all(abs(a - b) < 0.2 for a, b in zip(local, far)), (local, far)


def test_bundled_eval_agrees_with_in_process(remote, assistant, bundled_questions, bundled_predictions, capsys):
    """Same model, temperature 0: answers and citations agree on at least 85 % of the set (93 % measured on
    all 58, stop 11; the floor leaves the sample four questions of room)."""
    questions = sample(bundled_questions)
    there = evaluate.run(remote, questions)
    same, same_citations = agreement([bundled_predictions[bundled_questions.index(q)] for q in questions], there)
    valid = {s.id for s in assistant.store.sentences}
    for p in there:
        assert all(c["id"] in valid for c in p["citations"])
        assert p["abstained"] or p["citations"], p
        assert not re.search(r"\[S\d+\]", re.sub(r"\[(S\d+)\]", lambda m: "" if m[1] in valid else m[0], p["answer"]))
    metrics = evaluate.score(questions, there)
    with capsys.disabled():
        print(f"\n--llm-url agreement with in-process on {len(there)} bundled questions: answers and citations "
              f"{same:.3f}, citations {same_citations:.3f} (answer accuracy {metrics['answer_accuracy']:.3f}, "
              f"citation precision {metrics['citation_precision']:.3f})")
    assert same >= 0.85


def test_cli_ask_through_the_server(llama, settings):
    result = CliRunner().invoke(app, ["ask", "--llm-url", llama.url, "--index-dir", str(settings.index_dir), "--json",
                                      "When did Putin give final approval to the treaty?"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert not answer["abstained"] and "November 9" in answer["answer"]
    assert any(APPROVAL in c["text"] for c in answer["citations"])


def test_cli_ask_through_the_server_generates_an_untyped_answer(llama, settings):
    result = CliRunner().invoke(app, ["ask", "--llm-url", llama.url, "--index-dir", str(settings.index_dir), "--json",
                                      "What does the mutual defense clause oblige?"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["timings"]["completion_tokens"] > 0 and answer["outcome"] == "span"
    assert "militar" in answer["answer"] and answer["citations"]


@pytest.mark.parametrize("command", ["ask", "eval"])
def test_cli_names_a_model_the_plain_server_does_not_serve(llama, settings, command):
    """`--llm-model` names the server's model; one it does not list is a one-line error, exit 1."""
    server = PlainOpenAI(llama.url, chat=False)
    try:
        args = [command, "--llm-url", server.url, "--llm-model", "no-such-model", "--index-dir", str(settings.index_dir)]
        result = CliRunner().invoke(app, args + (["Who signed the treaty?"] if command == "ask" else []))
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()  # eval may first say it builds its set's index
        assert "does not serve 'no-such-model'; it lists: " in lines[-1], result.output
        assert [line for line in lines if "error" in line] == lines[-1:] and "Traceback" not in result.output
    finally:
        server.stop()


def test_server_down_then_back(llama, assistant):
    """The LLM server stops mid-run: the CLI says so on one line (no key, no traceback), the API
    answers 503 in OpenAI's error shape, and the first request after it returns succeeds."""
    runner = CliRunner()
    question = "What is the treaty's central provision?"  # the model copies the span: no typed shortcut
    remote = Assistant(assistant.settings.with_(llm_url=llama.url, llm_api_key="sk-never-shown"),
                       embedder=assistant.embedder, retriever=assistant.retriever)
    with TestClient(create_app(remote, load_in_background=False), base_url="http://localhost") as client:
        assert client.post("/v1/ask", json={"question": question}).status_code == 200
        llama.stop()
        try:
            down = client.post("/v1/ask", json={"question": question})
            assert down.status_code == 503
            error = down.json()["error"]
            assert error["type"] == "server_error" and "not answering" in error["message"]
            assert "sk-never-shown" not in down.text
            result = runner.invoke(app, ["ask", "--llm-url", llama.url, "--llm-api-key", "sk-never-shown",
                                         "--index-dir", str(assistant.settings.index_dir), question])
            assert result.exit_code == 1
            lines = result.output.strip().splitlines()
            assert len(lines) == 1 and "not answering" in lines[0], result.output
            assert "Traceback" not in result.output and "sk-never-shown" not in result.output
        finally:
            llama.start()
        back = client.post("/v1/ask", json={"question": question})
        assert back.status_code == 200 and back.json()["citations"]


def test_serve_starts_before_the_llm_server(llama, assistant):
    """A worker that starts while the LLM server is down answers 503, then works once it is up."""
    llama.stop()
    try:
        remote = Assistant(assistant.settings.with_(llm_url=llama.url), embedder=assistant.embedder,
                           retriever=assistant.retriever)
        with pytest.raises(BackendUnavailable):
            remote.generator
        client = TestClient(create_app(remote, load_in_background=False), base_url="http://localhost")
        with client:
            assert client.post("/v1/ask", json={"question": "Who signed the treaty?"}).status_code == 503
            llama.start()
            for _ in range(100):  # the retry loads in the background
                response = client.post("/v1/ask", json={"question": "Who signed the treaty?"})
                if response.status_code == 200:
                    break
                time.sleep(0.2)
            assert response.status_code == 200, response.text
    finally:
        if llama.proc is None:
            llama.start()


def test_plain_openai_server_degrades_as_stated(llama, assistant):
    """A server without llama.cpp's extensions, serving a base model: no grammar, no token
    counts, no reranking (said once on stderr); the model phrases answers and each claim is
    verified before it is shown."""
    server = PlainOpenAI(llama.url, chat=False)
    try:
        notes: list[str] = []
        remote = Assistant(assistant.settings.with_(llm_url=server.url), embedder=assistant.embedder,
                           notify=notes.append, retriever=assistant.retriever)
        gen = remote.generator
        assert not gen.copy_spans and gen.n_ctx is None and gen.count_tokens("a prompt") is None
        assert not gen.chat and not gen.choose
        valid = {s.id for s in assistant.store.sentences}
        answered = 0
        for question in ("What is the treaty's central provision?", "Which bodies of the Russian parliament approved it?"):
            answer = remote.ask(question)
            assert answer.abstained or answer.citations
            assert all(c.id in valid for c in answer.citations)
            assert answer.outcome != "span"  # nothing claims to be a copied span
            answered += not answer.abstained
        assert answered, "every answer abstained: nothing was checked"
        assert len([n for n in notes if "reranking is off" in n]) == 1, notes
    finally:
        server.stop()


def test_serve_workers_share_the_llm_server(llama, settings):
    """`rag serve --workers 2 --llm-url`: two processes on one port, answering concurrently."""
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from ..llm_server_fixture import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--port", str(port), "--workers", "2",
                             "--llm-url", llama.url, "--index-dir", str(settings.index_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, ok = time.monotonic() + 180, 0
        while ok < 6 and time.monotonic() < deadline:  # both workers loaded: several ok in a row
            assert proc.poll() is None, proc.stderr.read()
            try:
                ok = ok + 1 if httpx.get(base + "/healthz", timeout=2).status_code == 200 else 0
            except httpx.HTTPError:
                ok = 0
            time.sleep(0.3)
        assert ok >= 6, f"rag serve --workers 2 was not ready within 180 s: {proc.stderr.read1(4000)!r}"
        import psutil

        workers = [c for c in psutil.Process(proc.pid).children(recursive=True) if "spawn_main" in " ".join(c.cmdline())]
        assert len(workers) == 2, [c.cmdline() for c in psutil.Process(proc.pid).children(recursive=True)]
        questions = ["What is the treaty's central provision?", "When did Putin give final approval to the treaty?"] * 2
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda q: httpx.post(base + "/v1/ask", json={"question": q}, timeout=120), questions))
        assert [a.status_code for a in answers] == [200] * 4
        assert all(a.json()["citations"] for a in answers)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("mode", ["span", "free", "quote"])
def test_a_poisoned_sentence_read_through_the_server_is_quoted_never_obeyed(llama, assistant, tmp_path, mode):
    """The served backend reads the same poisoned sentence as tests/test_injection_corpus.py."""
    from ..test_injection_corpus import ABOUT_POISON, POISON

    from rag.settings import BUNDLED_CORPUS, Settings

    (tmp_path / "article.txt").write_text(BUNDLED_CORPUS.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "note.txt").write_text(POISON + "\n", encoding="utf-8")
    remote = Assistant(Settings(index_dir=tmp_path / "index", llm_url=llama.url, answer_mode=mode, min_confidence=0.0),
                       embedder=assistant.embedder)
    remote.index([tmp_path / "article.txt", tmp_path / "note.txt"])
    answer = remote.ask(ABOUT_POISON)
    assert answer.citations and answer.citations[0].text == POISON
    assert answer.outcome == "quote_instruction" and answer.answer.startswith("The article says:")


def test_bench_measures_serving_through_the_llm_server(llama, settings):
    from rag.tools import bench_serve

    result = bench_serve.run(settings.index_dir, ["When did Putin give final approval to the treaty?",
                                                  "What does the mutual defense clause oblige?"],
                             llama.url, workers=2, levels=(1, 2), per_client=1, log=lambda _: None)
    for name in ("in_process", "llm_url_2_workers"):
        for level in ("clients_1", "clients_2"):
            assert result[name][level]["answers_per_s"] > 0, result
