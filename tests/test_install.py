"""rag installed as a tool: a wheel in a fresh virtualenv, run from a directory that is not
the checkout, writes nothing inside the installed package and keeps its index per user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_answers_from_any_directory(tmp_path):
    dist = tmp_path / "dist"
    # setuptools copies into build/lib and keeps what is there: a module moved or a package left
    # out of pyproject.toml would still ship from an earlier build.
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist),
                    str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob("rag-*.whl"))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # The dependencies (torch, llama.cpp, the models) come from this environment by a plain path
    # line: its .pth files, the editable `rag` among them, are not processed from there.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    located = subprocess.run([str(python), "-c", "import rag; print(rag.__file__)"], check=True,
                             capture_output=True, text=True, cwd=tmp_path).stdout
    assert located.startswith(str(site)), located

    package = site / "rag"
    before = files_under(package)
    assert "prompts/answer.txt" in before and "prompts/span.txt" in before
    work = tmp_path / "work"
    work.mkdir()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "RAG_INDEX_DIR"} | {"XDG_DATA_HOME": str(data)}
    result = subprocess.run([str(venv / "bin" / "rag"), "ask", "--json", "When did Putin give final approval to the treaty?"],
                            cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert "November 9" in answer["answer"] and answer["citations"]
    # the installed package's prompts and model really generate (the question above is picked by pattern)
    result = subprocess.run([str(venv / "bin" / "rag"), "ask", "--json", "What does the mutual defense clause oblige?"],
                            cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["timings"]["completion_tokens"] > 0 and "militar" in answer["answer"]
    assert (data / "rag" / "index" / "manifest.json").exists()
    assert files_under(package) == before  # nothing written inside the installed package
    assert not any(work.iterdir())  # nor in the working directory
