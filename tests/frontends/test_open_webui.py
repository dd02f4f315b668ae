"""A real chat front end shows rag's cited sentences: Open WebUI, connected to `rag serve` as an
OpenAI server, renders each url_citation annotation as a source whose content is the sentence.

Opt-in (Open WebUI is about 3 GB): `make test-frontends` installs it into its own virtualenv and
runs this with `-m frontend`; `make test` leaves it out."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.server_fixture import running

pytestmark = pytest.mark.frontend

OPEN_WEBUI = os.environ.get("RAG_OPEN_WEBUI") or shutil.which("open-webui")
CHROMIUM = os.environ.get("RAG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
QUESTION = "When did Putin give final approval to the treaty?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_open_webui_shows_the_cited_sentence_as_a_source(assistant, tmp_path):
    if not OPEN_WEBUI or not Path(OPEN_WEBUI).exists():
        pytest.skip("Open WebUI is not installed: `make test-frontends` installs it (about 3 GB)")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium`")
    sync_api = pytest.importorskip("playwright.sync_api")
    sentence = assistant.store.by_id["S3"].text
    with running(assistant) as (url, _):
        port = free_port()
        env = {**os.environ, "OFFLINE_MODE": "true", "HF_HUB_OFFLINE": "1", "WEBUI_AUTH": "false",
               "ENABLE_OLLAMA_API": "false", "BYPASS_EMBEDDING_AND_RETRIEVAL": "true",
               "ENABLE_VERSION_UPDATE_CHECK": "false", "OPENAI_API_BASE_URL": f"{url}/v1",
               "OPENAI_API_KEY": "unused", "DATA_DIR": str(tmp_path / "open-webui")}
        log = (tmp_path / "open-webui.log").open("w")
        webui = subprocess.Popen([OPEN_WEBUI, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                 stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            home = f"http://127.0.0.1:{port}/"
            deadline = time.monotonic() + 300
            while True:  # its first start migrates a database and loads its own modules
                try:
                    if httpx.get(home, timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert webui.poll() is None and time.monotonic() < deadline, (tmp_path / "open-webui.log").read_text()[-3000:]
                time.sleep(2)
            with sync_api.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(home, wait_until="load", timeout=60_000)
                page.wait_for_selector("#chat-input", timeout=120_000)
                page.keyboard.press("Escape")  # the "what's new" dialog of a first start
                page.click("#chat-input")
                page.keyboard.type(QUESTION)
                page.keyboard.press("Enter")
                page.get_by_text("1 Source").first.wait_for(timeout=120_000)
                assert "November 9" in page.inner_text("body")
                page.get_by_text("1 Source").first.click()
                page.get_by_text(f"{url}/#S3").first.click()  # the source opens with its content
                page.get_by_text(sentence[:60]).first.wait_for(timeout=30_000)
                shots = Path(os.environ.get("RAG_SCREENSHOT_DIR") or tmp_path)
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / "open-webui.png"))
                browser.close()
        finally:
            webui.terminate()
            try:
                webui.wait(timeout=30)
            except subprocess.TimeoutExpired:
                webui.kill()
            log.close()
