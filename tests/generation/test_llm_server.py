"""What `rag llm-server` hands llama.cpp's server (xllamacpp), without starting it."""

from pathlib import Path

import pytest

from rag.generation import llm_server, models
from rag.settings import Settings


@pytest.mark.parametrize("value, no_extra_bufts", [(None, True), ("0", True), ("1", False)])
def test_weights_are_repacked_only_when_the_environment_asks(monkeypatch, value, no_extra_bufts):
    xllamacpp = pytest.importorskip("xllamacpp")
    if value is None:
        monkeypatch.delenv("RAG_REPACK_WEIGHTS", raising=False)
    else:
        monkeypatch.setenv("RAG_REPACK_WEIGHTS", value)
    params = llm_server.server_params(xllamacpp.CommonParams(), None, host="127.0.0.1", port=0, parallel=2,
                                      n_ctx=1024, threads=None, verbose=False, embedding=False)
    assert params.no_extra_bufts is no_extra_bufts
    # the suite's tier (RAG_MODEL), two slots of 1024 tokens
    assert Path(params.model.path) == models.resolve(Settings().model_path)
    assert (params.n_parallel, params.n_ctx) == (2, 2048)
