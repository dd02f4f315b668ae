"""The web page in headless Chromium: ask, watch the answer stream in, click a citation."""

import os
import shutil

import pytest

from ..server_fixture import running

CHROMIUM = os.environ.get("RAG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (CI's .ci/run does)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                          "--disable-background-networking", "--no-first-run"])
        yield browser
        browser.close()


def test_ask_stream_and_click_a_citation(browser, assistant, tmp_path):
    with running(assistant) as (url, _):
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#article span.s#S3")  # the article is shown beside the chat
        assert "russia-north-korea-partnership.txt" in page.inner_text("#article h2.docname")
        page.fill("#question", "When did Putin give final approval to the treaty?")
        page.press("#question", "Enter")
        # The answer area appears at once (it is .pending only while it streams, which a quick
        # answer can finish before a poll sees it: CI once missed it).
        page.wait_for_selector(".a")
        page.wait_for_selector(".a:not(.pending) button.cite", timeout=60_000)
        assert "November 9" in page.inner_text(".a")
        button = page.locator(".a button.cite").first
        cited = button.get_attribute("data-id")
        button.click()
        page.wait_for_selector(f"span.s.hl#{cited}")
        assert page.locator("span.s.hl").count() == 1
        assert "November 9" in page.inner_text(f"span#{cited}")
        assert "russia-north-korea-partnership.txt" in page.inner_text(".sources .where")  # names the document
        page.screenshot(path=str(tmp_path / "page.png"))
        # An untyped question: the answer the model copies streams into the page.
        page.fill("#question", "What does the mutual defense clause oblige?")
        page.press("#question", "Enter")
        page.wait_for_selector(".a >> nth=1")
        page.wait_for_selector(".a:not(.pending) >> nth=1", timeout=60_000)
        assert "militar" in page.locator(".a").nth(1).inner_text()


def test_a_citation_link_opens_the_page_at_its_sentence(browser, assistant):
    with running(assistant) as (url, _):
        page = browser.new_page()
        for link in (f"{url}#S12", f"{url}?cite=S12"):
            page.goto(link)
            page.wait_for_selector("span.s.hl#S12")
            assert page.locator("span.s.hl").count() == 1
