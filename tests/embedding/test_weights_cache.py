import os

import numpy as np
import pytest

from rag.embedding import weights_cache

ARRAYS = {
    "w": np.arange(12, dtype=np.float32).reshape(3, 4),
    "b": np.array([0.5, -1.0, 2.0], dtype=np.float32),
    "ids": np.arange(5, dtype=np.int64),
    "odd": np.ones((7, 3), dtype=np.float32),  # 84 bytes: the next array starts on a padded offset
}


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"weights v1")
    return path


def counted_build():
    calls = []

    def build():
        calls.append(1)
        return {k: v.copy() for k, v in ARRAYS.items()}

    return build, calls


def test_second_load_maps_what_the_first_built(source, tmp_path):
    build, calls = counted_build()
    first = weights_cache.load(source, "layout-a", tmp_path / "cache", build)
    again = weights_cache.load(source, "layout-a", tmp_path / "cache", build)
    assert len(calls) == 1
    for name, expected in ARRAYS.items():
        assert np.array_equal(first[name], expected)
        assert np.array_equal(again[name], expected) and again[name].dtype == expected.dtype
        assert not again[name].flags.writeable  # mapped read-only: nobody edits the cache in place
        assert again[name].ctypes.data % weights_cache.ALIGN == 0 or again[name].nbytes == 0


@pytest.mark.parametrize("change", ["rewritten source", "other layout", "no cache folder"])
def test_a_different_source_or_layout_is_a_miss(source, tmp_path, change):
    build, calls = counted_build()
    weights_cache.load(source, "layout-a", tmp_path / "cache", build)
    if change == "rewritten source":
        source.write_bytes(b"weights v2, longer")
        os.utime(source, ns=(1, 1))
    layout = "layout-b" if change == "other layout" else "layout-a"
    cache = None if change == "no cache folder" else tmp_path / "cache"
    assert np.array_equal(weights_cache.load(source, layout, cache, build)["w"], ARRAYS["w"])
    assert len(calls) == 2


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "other key"])
def test_a_damaged_file_is_rebuilt_never_read(source, tmp_path, damage):
    build, calls = counted_build()
    cache = tmp_path / "cache"
    weights_cache.load(source, "layout-a", cache, build)
    path = weights_cache.cache_path(cache, source, "layout-a")
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[:-100])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * len(data))
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a whole file, written for another source
        weights_cache.write(path, "someone else's key", ARRAYS)
    assert np.array_equal(weights_cache.load(source, "layout-a", cache, build)["odd"], ARRAYS["odd"])
    assert len(calls) == 2
    weights_cache.load(source, "layout-a", cache, build)  # and the rebuilt file serves the next one
    assert len(calls) == 2


def test_a_cache_that_cannot_be_written_still_gives_the_arrays(source, tmp_path):
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("x")
    build, calls = counted_build()
    assert np.array_equal(weights_cache.load(source, "layout-a", blocked, build)["ids"], ARRAYS["ids"])
    assert not list(tmp_path.glob("**/*.tmp"))  # no half-written file left behind
