"""`rag models` through Typer's CliRunner: the listing, and errors as one line with exit 1."""

import json

import pytest
from typer.testing import CliRunner

from rag.apps.cli import app
from rag.generation import models

runner = CliRunner()


def test_models_lists_every_tier_with_its_state():
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert set(rows) == set(models.TIERS)
    assert rows[models.DEFAULT_TIER]["default"] and rows[models.DEFAULT_TIER]["installed"]
    for name, row in rows.items():
        assert row["installed"] == (models.is_installed(models.tier(name)) or bool(models.tier(name).package))


def test_models_plain_listing_says_how_to_install():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "rag models install NAME" in result.output


@pytest.mark.parametrize("args, message", [
    (["models", "install", "gpt-9"], "no model is named 'gpt-9'"),
    (["models", "remove", "gpt-9"], "no model is named 'gpt-9'"),
])
def test_models_errors_are_one_line(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_ask_with_an_uninstalled_tier_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    result = runner.invoke(app, ["ask", "--model", "qwen2.5-coder-1.5b-instruct", "When?"])
    assert result.exit_code == 1
    assert "rag models install qwen2.5-coder-1.5b-instruct" in result.output


def test_install_without_a_name_installs_the_default(monkeypatch):
    """What `make run` relies on to fetch whichever tier is the default, named in one place."""
    installed = []
    monkeypatch.setattr(models, "install", lambda t, notify=None: installed.append(t.name) or t.path())
    result = runner.invoke(app, ["models", "install"])
    assert result.exit_code == 0, result.output
    assert installed == [models.DEFAULT_TIER]
