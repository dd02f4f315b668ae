"""Every command through Typer's CliRunner, on exit code and output, with the real models."""

import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from rag.apps.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def idx(settings, assistant):
    assistant.retriever  # make sure the session index exists
    return ["--index-dir", str(settings.index_dir)]


def test_help_is_fast_and_imports_no_models():
    code = "import sys; from rag.apps.cli import app; sys.argv=['rag','--help']\ntry: app()\nexcept SystemExit: pass\n" \
           "print('HEAVY' if {'torch','llama_cpp','sentence_transformers','numpy'} & set(sys.modules) else 'LIGHT')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "ask" in out and out.strip().endswith("LIGHT")


def test_ask_json_prints_exactly_one_object(idx):
    result = runner.invoke(app, ["ask", "--json", "When did Putin give final approval to the treaty?", *idx])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"question", "answer", "abstained", "citations", "retrieved", "latency_s"} <= set(data)
    assert "November 9" in data["answer"]
    assert any("final approval on November 9" in c["text"] for c in data["citations"])
    assert all({"id", "text", "score"} <= set(r) for r in data["retrieved"])
    import rag.apps.cli

    assert rag.apps.cli._left_to_exit == []  # only `rag` itself (main) leaves its model to the OS


def test_ask_json_for_an_untyped_question_reports_the_generation(idx):
    result = runner.invoke(app, ["ask", "--json", "What does the mutual defense clause oblige?", *idx])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["outcome"] == "span" and data["timings"]["completion_tokens"] > 0
    assert "militar" in data["answer"] and data["citations"]


def test_ask_prints_answer_then_cited_sentences(idx):
    result = runner.invoke(app, ["ask", "Which article of the United Nations Charter does the provision align with?", *idx])
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert "51" in lines[0]
    assert any(line.startswith("[S9] ") for line in lines[1:])


def test_ask_verbose_shows_why_the_sentence_was_chosen(idx):
    result = runner.invoke(app, ["ask", "--verbose", "Who signed the agreement?", *idx])
    assert result.exit_code == 0, result.output
    assert "reason: " in result.stderr and "rerank_s=" in result.stderr
    assert "reranked (question log-likelihood per token): S" in result.stderr


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_is_a_one_line_error(idx, question):
    result = runner.invoke(app, ["ask", question, *idx])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: the question is empty"


def test_missing_model_is_a_one_line_error(idx, tmp_path):
    result = runner.invoke(app, ["ask", "Who signed it?", "--model", str(tmp_path / "none.gguf"), *idx])
    assert result.exit_code == 1
    assert "model file not found" in result.stderr and "Traceback" not in result.output


def test_index_missing_document(tmp_path):
    result = runner.invoke(app, ["index", str(tmp_path / "nope.txt"), "--index-dir", str(tmp_path / "i")])
    assert result.exit_code == 1
    assert "document not found" in result.stderr


def test_index_builds_scratch_index(tmp_path):
    doc = tmp_path / "a.txt"
    doc.write_text("The bridge opened in May 2015. It was designed by Maria Lopez.")
    result = runner.invoke(app, ["index", str(doc), "--index-dir", str(tmp_path / "i")])
    assert result.exit_code == 0, result.output
    assert "2 sentences" in result.stdout
    assert (tmp_path / "i" / "manifest.json").exists()


def test_index_progress_shows_counts_and_time_left(tmp_path):
    doc = tmp_path / "reports.txt"
    doc.write_text(" ".join(f"Report {i} says the bridge carried {i * 7} cars in May." for i in range(600)))
    result = runner.invoke(app, ["index", str(doc), "--index-dir", str(tmp_path / "i")])
    assert result.exit_code == 0, result.output
    assert re.search(r"embedding sentences: \d+/600, \d+ s left at \d+/s", result.stderr), result.stderr
    assert "embedding sentences: 600/600" in result.stderr


def test_eval_on_a_subset_writes_predictions(idx, tmp_path):
    lines = [line for line in open("eval/questions.jsonl", encoding="utf-8")]
    subset = tmp_path / "subset.jsonl"
    subset.write_text(lines[0] + lines[7] + lines[-1], encoding="utf-8")  # two answerable, one injection
    out = tmp_path / "preds.jsonl"
    result = runner.invoke(app, ["eval", "--questions", str(subset), "--out", str(out), "--json", *idx])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["questions"] == 3 and metrics["answerable"] == 2
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q01", "q08", json.loads(lines[-1])["id"]]
    for row in rows:
        assert {"id", "question", "answer", "abstained", "citations", "retrieved", "latency_s"} <= set(row)
    assert rows[-1]["abstained"] is True
    assert metrics["abstain_unanswerable"] == 1.0


def test_eval_corpus_flag_indexes_those_documents(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "doc.txt").write_text("The ferry to Hella leaves every morning at seven.\n", encoding="utf-8")
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "question": "Where does the ferry go every morning?", "answers": ["Hella"], '
                         '"support": ["ferry to Hella"]}\n', encoding="utf-8")
    result = runner.invoke(app, ["eval", "--questions", str(questions), "--corpus", str(tmp_path / "doc.txt"),
                                 "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["questions"] == 1 and metrics["citation_precision"] == 1.0  # cited the new document


@pytest.mark.parametrize("args, check", [
    (["--answer-mode", "quote"], lambda d: d["answer"].startswith("The article says:") and d["outcome"] == "quote"),
    (["--doc", "russia-north-korea-partnership.txt"],
     lambda d: d["citations"] and all(p["doc"] == "russia-north-korea-partnership.txt" for p in d["retrieved"])),
])
def test_ask_options_succeed(idx, args, check):
    result = runner.invoke(app, ["ask", "--json", *args, "Which chambers of parliament approved the treaty?", *idx])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert check(data), data["answer"]
    assert "State Duma" in data["citations"][0]["text"]


def test_eval_indexes_the_corpus_a_question_file_names_once(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "doc.txt").write_text(
        "The lighthouse at Vardø was built in 1896 by the engineer Åsa Lind.\n\n"
        "Its lamp could be seen from 30 kilometres away.\n", encoding="utf-8")
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"corpus": "doc.txt"}\n'
                         '{"id": "a", "question": "When was the lighthouse at Vardo built?", "answers": ["1896"], '
                         '"support": ["built in 1896"]}\n'
                         '{"id": "b", "question": "Who painted the lighthouse in 1920?", "answers": []}\n',
                         encoding="utf-8")
    result = runner.invoke(app, ["eval", "--questions", str(questions), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["answer_accuracy"] == 1.0 and metrics["abstain_unanswerable"] == 1.0
    assert metrics["outcomes"]["span_typed"]["right"] == 1 and metrics["outcomes"]["unknown_terms"]["n"] == 1
    manifests = list((tmp_path / "cache" / "rag" / "eval-indexes").glob("*/manifest.json"))
    assert len(manifests) == 1
    built = manifests[0].read_text()
    assert runner.invoke(app, ["eval", "--questions", str(questions), "--json"]).exit_code == 0
    assert manifests[0].read_text() == built  # reused, not rebuilt


def test_bad_answer_mode_is_one_line(idx):
    result = runner.invoke(app, ["ask", "When?", "--answer-mode", "poem", *idx])
    assert result.exit_code != 0 and "span, free or quote" in result.output and "Traceback" not in result.output


def test_eval_malformed_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\nnot json\n')
    result = runner.invoke(app, ["eval", "--questions", str(bad)])
    assert result.exit_code == 1
    assert ":2: not valid JSON" in result.stderr


def test_serve_exits_with_one_line_when_the_model_cannot_load(idx, tmp_path):
    result = runner.invoke(app, ["serve", "--port", "0", "--model", str(tmp_path / "missing.gguf"), *idx])
    assert result.exit_code == 1
    assert "error: model file not found" in result.output and "Traceback" not in result.output


def test_serve_help_names_its_options():
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert all(opt in result.output for opt in ("--host", "--port", "--api-key", "--cors-origin", "--max-body-bytes",
                                                "--api-key-file", "--public-url", "--allow-host"))


@pytest.mark.parametrize("args, message", [
    (["--api-key-file", "{tmp}/missing-key"], "cannot read the API key file"),
    (["--api-key-file", "{tmp}/empty-key"], "is empty"),
    (["--public-url", "ftp://rag.example.org/"], "--public-url must be an http(s) URL"),
    (["--public-url", "rag.example.org"], "--public-url must be an http(s) URL"),
])
def test_serve_rejects_bad_key_files_and_urls_in_one_line(idx, tmp_path, args, message):
    (tmp_path / "empty-key").write_text("\n")
    result = runner.invoke(app, ["serve", "--port", "0", *[a.format(tmp=tmp_path) for a in args], *idx])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output and len(result.output.splitlines()) == 1


def test_bench_json_measures_every_part(idx, monkeypatch):
    import rag.stores.store
    import rag.tools.bench

    monkeypatch.setattr(rag.stores.store, "APPROX_THRESHOLD", 500)  # exercise the HNSW path and its recall check
    monkeypatch.setattr(rag.tools.bench, "UPDATE_DOCUMENTS", 20)  # every part, at sizes that take seconds
    monkeypatch.setattr(rag.tools.bench, "EMBED_TEXTS", 300)
    result = runner.invoke(app, ["bench", "--json", "--repeat", "1", "--sizes", "900", "--questions", "8",
                                 "--vector-sizes", "4000", *idx])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["cold"]["help_s"]["median"] > 0 and data["cold"]["process_to_first_answer_s"]["n"] == 1
    assert data["cold"]["reranked_first_time_s"]["n"] == data["cold"]["reranked_sentences_seen_s"]["n"] == 1
    assert {"embed_s", "dense_s", "bm25_s", "fuse_s", "ttft_s", "decode_tok_per_s", "answer_s"} <= set(data["warm"])
    # Speeds are the bench's to report (medians and ratios on a quiet machine), not a test's to bound.
    assert data["overhead"]["ratio_vs_raw"] > 0 and data["prefix"]["speedup"] > 0
    assert data["overhead"]["raw_tok_per_s"]["median"] > 0
    assert data["rerank"]["fresh_s"]["n"] == 8 and data["rerank"]["speedup"] > 0
    embedding = data["embedding"]
    assert embedding["bound_gflops"] > 0 and embedding["tokens_per_text"] > 5
    assert embedding["numpy"]["ratio_to_bound"] > 0 and embedding["sentence-transformers"]["texts_per_s"] > 0
    assert 0 < embedding["onnxruntime"]["ratio_to_bound"] <= 1.2 and embedding["onnxruntime"]["setup_s"] > 0
    assert embedding["gemm"]["ort_int8_1_thread_gflops"] > 0
    vectors = data["vector_stores"]["n_4000"]
    assert vectors["faiss_hnsw"]["ef_512"]["recall_at_10"] >= vectors["faiss_hnsw"]["ef_64"]["recall_at_10"] - 0.05
    assert {"ivf_flat", "ivf_pq"} <= set(vectors) and vectors["ivf_flat"]["nprobe_64"]["recall_at_10"] > 0.5
    row = data["scale"]["900"]
    assert row["sentences_per_s"] > 0
    assert row["index"] == "IndexHNSWFlat" and 0.5 <= row["recall_at_10_vs_exact"] <= 1.0


@pytest.mark.parametrize("option", ["--sizes", "--vector-sizes"])
def test_bench_rejects_bad_sizes(idx, option):
    result = runner.invoke(app, ["bench", option, "ten", *idx])
    assert result.exit_code != 0 and option in result.output
