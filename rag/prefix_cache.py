"""The few-shot prefix's llama.cpp KV state, kept on disk between processes.

Every prompt starts with the same few-shot examples. Evaluating them costs ~1.5 s of a cold
`rag ask` here (256 tokens at ~165 tok/s on two cores) and gives the same KV values every
time, so the first process saves them and later ones read them back in milliseconds.

The file's name is a hash of everything the state depends on: the model file (path, size,
modification time), llama-cpp-python's version, the context size and the prefix's tokens. A
missing, stale or unreadable file is only a miss: the prefix is evaluated as before.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
from pathlib import Path


def state_path(directory: Path, model: Path, n_ctx: int, tokens: list[int]) -> Path:
    import llama_cpp

    stat = model.stat()
    key = hashlib.sha256()
    key.update(f"{model.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{llama_cpp.__version__}|{n_ctx}|".encode())
    key.update(",".join(map(str, tokens)).encode())
    return directory / f"{key.hexdigest()[:32]}.kv"


def restore(llm, path: Path, tokens: list[int]) -> bool:
    """Load the saved state into sequence 0 of `llm`; True only when it holds exactly `tokens`."""
    import llama_cpp

    if not path.is_file():
        return False
    llm.reset()
    llm._ctx.kv_cache_clear()
    read = (llama_cpp.llama_token * len(tokens))()
    count = ctypes.c_size_t(0)
    size = llama_cpp.llama_state_seq_load_file(llm._ctx.ctx, str(path).encode(), 0, read, len(tokens),
                                               ctypes.byref(count))
    if not size or count.value != len(tokens) or list(read) != tokens:
        llm._ctx.kv_cache_clear()
        return False
    # llama-cpp-python reuses the longest cached token prefix of the next prompt: tell it what
    # the context now holds, and that no logits are live (the next decode makes them).
    llm.input_ids[: len(tokens)] = tokens
    llm.n_tokens = len(tokens)
    llm._requires_eval = True
    return True


def save(llm, path: Path, tokens: list[int]) -> None:
    """Write sequence 0's state (which must hold exactly `tokens`) via a temporary file, so a
    reader never sees half of one. Failing to write only costs the next process its shortcut."""
    import llama_cpp

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".prefix-", suffix=".kv")
        os.close(fd)
        ids = (llama_cpp.llama_token * len(tokens))(*tokens)
        if llama_cpp.llama_state_seq_save_file(llm._ctx.ctx, tmp.encode(), 0, ids, len(tokens)):
            os.replace(tmp, path)
        else:
            os.unlink(tmp)
    except OSError:
        pass
