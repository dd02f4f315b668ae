"""The real llama.cpp backend: it must decode (a -march=native build segfaults here)."""

import ctypes
import sys

import pytest

from rag.errors import ModelError
from rag.generation import prefix_cache
from rag.generation.generate import LlamaGenerator, chat_opening, check_gguf
from rag.settings import Settings


@pytest.fixture(scope="module")
def generator(assistant):
    return assistant.generator


def test_really_decodes_tokens(generator):
    out = generator.generate("The capital of France is", max_tokens=5)
    assert out.completion_tokens >= 1 and out.text.strip()


@pytest.mark.skipif(sys.platform == "win32", reason="no C library to open by name there")
def test_quiet_logs_are_dropped_in_c_not_python():
    """A Python log callback takes the GIL for each of a load's ~1,400 lines: a model loading
    beside a thread that runs Python took 5.0 s instead of 1.3 s."""
    import llama_cpp

    from rag.generation.generate import _drop_log_lines

    callback = _drop_log_lines(llama_cpp.llama_log_callback)
    address = ctypes.cast(callback, ctypes.c_void_p).value
    assert address == ctypes.cast(ctypes.CDLL(None).getpid, ctypes.c_void_p).value
    callback(2, b"a log line\n", None)  # takes the callback's arguments and returns


LOAD_LOG = """
import ctypes, json, sys
import llama_cpp
lines = []

@llama_cpp.llama_log_callback
def keep(level, text, user_data):
    lines.append(text.decode("utf-8", "replace"))

llama_cpp.llama_log_set(keep, ctypes.c_void_p(0))
params = llama_cpp.llama_model_default_params()
params.vocab_only = True
vocab = llama_cpp.llama_model_get_vocab(llama_cpp.llama_model_load_from_file(sys.argv[1].encode(), params))
text = lambda i: llama_cpp.llama_vocab_get_text(vocab, i).decode()
eog = [text(i) for i in range(llama_cpp.llama_vocab_n_tokens(vocab)) if llama_cpp.llama_vocab_is_eog(vocab, i)]
print(json.dumps({"log": [l for l in lines if " kv " in l], "eot": text(llama_cpp.llama_vocab_eot(vocab)), "eog": eog}))
"""


def test_patched_load_logs_and_finds_special_tokens_as_before(generator):
    """patches/llama.cpp changes how fast a GGUF loads, not what the load says or finds: the
    metadata log still shows 40 characters of each array (now formatted from 16 elements, not
    262k), and the special-token scan (now comparing sizes first) finds gemma's end tokens."""
    import json
    import subprocess

    out = subprocess.run([sys.executable, "-c", LOAD_LOG, str(generator.path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    values = {line.split()[4]: line.split(" = ", 1)[1].rstrip("\n") for line in found["log"]}
    assert values["tokenizer.ggml.tokens"] == '["<pad>", "<eos>", "<bos>", "<unk>", ...'
    assert values["tokenizer.ggml.scores"] == "[-1000.000000, -1000.000000, -1000.00..."
    assert values["tokenizer.ggml.token_type"].startswith("[3, 3, 3, 3, 3, 4, ")
    assert all(len(v) <= 40 for v in values.values())
    assert found["eot"] == "<end_of_turn>"
    assert {"<eos>", "<end_of_turn>"} <= set(found["eog"]) and len(found["eog"]) == 3


def test_prefix_state_survives_the_process_through_a_file(generator, tmp_path):
    """The few-shot prefix's KV state read back from disk decodes exactly as the evaluated one;
    any other prefix, or a damaged file, is a miss and never a wrong state."""
    llm = generator.llm
    prefix = "Paris is the capital of France. Rome is the capital of Italy. Madrid is the capital of"
    tokens = llm.tokenize(prefix.encode(), add_bos=True, special=False)
    path = prefix_cache.state_path(tmp_path, generator.llm, generator.n_ctx, tokens)
    assert not prefix_cache.restore(llm, path, tokens)  # nothing saved yet
    llm.reset()
    llm.eval(tokens)
    prefix_cache.save(llm, path, tokens)
    evaluated = generator.generate(prefix + " Spain. Berlin is", max_tokens=6).text
    assert prefix_cache.restore(llm, path, tokens) and llm.n_tokens == len(tokens)
    restored = generator.generate(prefix + " Spain. Berlin is", max_tokens=6).text
    assert restored == evaluated and restored.strip()
    assert not prefix_cache.restore(llm, path, tokens[:-1])
    assert prefix_cache.state_path(tmp_path, generator.llm, generator.n_ctx, tokens[:-1]) != path
    path.write_bytes(b"not a llama.cpp state")
    assert not prefix_cache.restore(llm, path, tokens)
    assert generator.generate(prefix + " Spain. Berlin is", max_tokens=6).text == evaluated


def test_marker_can_only_name_context_ids(generator):
    prompt = "Sentences:\n[S1] Paris is in France.\n[S2] Rome is in Italy.\nQuestion: Where is Rome?\nAnswer: ["
    out = generator.generate(prompt, allowed_ids=["S5", "S17"], max_tokens=6)
    assert out.text.startswith(("S5]", "S17]"))


@pytest.mark.parametrize("value, repack", [(None, False), ("0", False), ("", False), ("1", True)])
def test_repacking_is_off_unless_the_environment_asks(monkeypatch, value, repack):
    if value is None:
        monkeypatch.delenv("RAG_REPACK_WEIGHTS", raising=False)
    else:
        monkeypatch.setenv("RAG_REPACK_WEIGHTS", value)
    assert Settings().repack_weights is repack


@pytest.mark.parametrize("repack", [False, True])
def test_weight_repacking_follows_the_setting(settings, generator, repack, tmp_path):
    import llama_cpp

    gen = LlamaGenerator(settings.with_(repack_weights=repack))
    # What llama.cpp was handed for this load, and llama.cpp's own default left as it was
    assert bool(gen.llm.model_params.use_extra_bufts) is repack
    assert llama_cpp.llama_model_default_params().use_extra_bufts
    assert gen.generate("The capital of France is", max_tokens=3).completion_tokens >= 1
    # Other kernels round otherwise: a saved prefix state is never shared between the two
    tokens = gen.llm.tokenize(b"Paris is", add_bos=True, special=False)
    same = prefix_cache.state_path(tmp_path, gen.llm, gen.n_ctx, tokens) == \
        prefix_cache.state_path(tmp_path, generator.llm, generator.n_ctx, tokens)
    assert same is not repack


def test_two_generations_in_a_row_both_answer(assistant):
    # gemma-3 uses sliding-window attention, where prefix-cache reuse has had bugs upstream: two
    # untyped questions, so the model really decodes twice on the reused prefix.
    first = assistant.ask("What does the mutual defense clause oblige?")
    second = assistant.ask("Which chambers of parliament approved the treaty?")
    assert first.timings["completion_tokens"] > 0 and second.timings["completion_tokens"] > 0
    assert "militar" in first.answer
    assert "State Duma" in second.answer and "Federation Council" in second.answer


@pytest.mark.parametrize(
    "content, message",
    [(None, "not found"), (b"not a model at all", "not a GGUF"), (b"GGUF\x03\x00\x00\x00truncated", "could not load")],
)
def test_bad_model_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "model.gguf"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        LlamaGenerator(Settings(model_path=path, index_dir=tmp_path))


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises(ModelError, match="not a file"):
        check_gguf(tmp_path)


@pytest.mark.parametrize(
    "sizes, limit, kept",
    [
        ([10, 10, 10], 30, [0, 1, 2]),  # within the limit: nothing goes
        ([10, 10, 10], 25, [1, 2]),  # the oldest goes first
        ([10, 10, 10], 5, []),
        ([30, 1, 1], 10, [1, 2]),  # one big old file makes the room
    ],
)
def test_saved_states_are_pruned_oldest_first(tmp_path, sizes, limit, kept):
    import os

    for i, size in enumerate(sizes):
        path = tmp_path / f"{i}.kv"
        path.write_bytes(b"x" * size)
        os.utime(path, (1000 + i, 1000 + i))
    prefix_cache.prune(tmp_path, limit)
    assert sorted(int(p.stem) for p in tmp_path.glob("*.kv")) == kept


@pytest.mark.parametrize("render, prefix, opening", [
    (lambda t: f"<sys>be brief</sys><user>{t}</user><assistant>", "Read these:", "<sys>be brief</sys><user>Read these:"),
    (lambda t: t, "Read these:", "Read these:"),  # no template text at all
    (lambda t: "<user>" + t.strip() + "</user>", " Read", "<user>Read"),
    # A template that does not keep the turn as written: no opening to evaluate ahead of time.
    (lambda t: "<user>" + t.upper() + "</user>", "Read", ""),
])
def test_chat_opening(render, prefix, opening):
    assert chat_opening(render, prefix) == opening
