"""`ssi explore` end to end in headless Chromium, on the shipped default model: type a prompt, ask why a
token is predicted, open the top component's page, ablate it and see the logit change, reload the
shared URL; then Ctrl-C stops the server cleanly. Screenshots go to $SSI_SCREENSHOTS when set (the
ones in docs/images/ were made this way).

Skipped where Chromium is not installed, unless SSI_REQUIRE_BROWSER=1 (CI installs it and sets it).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.explore.cdp import Browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None and os.environ.get("SSI_REQUIRE_BROWSER") != "1",
                                 reason="Chromium is not installed (Debian: apt-get install chromium)")]
PROMPT = "Once upon a time, Lily found a red ball in the park. She gave the ball to"


@pytest.fixture
def server(tmp_path):
    """(URL, process) of `ssi explore` on the shipped default model, on a free port."""
    proc = subprocess.Popen([sys.executable, "-m", "simplestories_interp", "explore", "--port", "0",
                             "--n-stories", "20", "--cache", str(tmp_path / "cache"), "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    url, deadline = None, time.time() + 120
    while url is None and time.time() < deadline:
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        url = match.group(1) if match else None
        assert line or proc.poll() is None, proc.stderr.read()
    assert url, "no URL printed"
    yield url, proc
    if proc.poll() is None:
        proc.kill()


def _shot(browser: Browser, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("SSI_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    browser.screenshot(folder / name)


def test_prompt_why_component_ablate_and_share(server, tmp_path):
    url, proc = server
    browser = Browser(CHROMIUM, tmp_path / "profile")
    try:
        browser.goto(url)
        browser.wait("document.body.dataset.ready === '1'")
        browser.js(f"document.getElementById('prompt').value = {PROMPT!r}; document.getElementById('run').click()")
        n = browser.wait("document.querySelectorAll('.tok').length")
        assert n > 15 and browser.js("document.getElementById('error').textContent") == ""
        # Why is the top prediction predicted after the last token?
        browser.js(f"document.querySelectorAll('.tok')[{n - 1}].click()")
        browser.wait("document.querySelectorAll('#attribution a.comp').length >= 10")
        before = float(browser.js("document.getElementById('logit').dataset.value"))
        top = browser.js("document.querySelector('#attribution a.comp').textContent")
        assert re.fullmatch(r"L\d+[HN]\d+", top)
        _shot(browser, "explore-why.png", tmp_path)
        # The top component's page, then ablate it from there.
        browser.js("document.querySelector('#attribution a.comp').click()")
        kind = "head" if "H" in top else "neuron"
        browser.wait(f"(document.querySelector('#component h2') || {{}}).textContent === '{top} ({kind})'", timeout=120)
        assert browser.js("document.querySelector('#component .role').textContent")
        _shot(browser, "explore-component.png", tmp_path)
        browser.js("document.getElementById('ablate-open').click()")
        browser.wait("document.getElementById('logit').textContent.includes('ablated')")
        after = float(browser.js("document.getElementById('logit').dataset.value"))
        assert after != before
        _shot(browser, "explore-ablated.png", tmp_path)
        # A head's page: its statistics, and its attention on the prompt drawn by circuitsvis.
        head = "[...document.querySelectorAll('#attribution a.comp')].find(a => a.textContent.includes('H'))"
        browser.js(f"({head}) ? ({head}).click() : openComponent('L1H0')")  # a head in the list, else L1H0
        browser.wait("(document.querySelector('#component h2') || {textContent: ''}).textContent.endsWith('(head)')")
        browser.wait("document.querySelector('#component [id^=circuitsvis-]').childElementCount > 0")
        assert browser.js("document.getElementById('error').textContent") == ""
        assert "class " in browser.js("document.querySelector('#component .role').textContent")
        _shot(browser, "explore-head.png", tmp_path)
        # The URL records the finding: a fresh load shows the same ablated logit.
        shared = browser.js("location.href")
        assert f"ablate={top}" in shared
        browser.goto("about:blank")
        browser.goto(shared)
        browser.wait("document.body.dataset.ready === '1'")
        assert float(browser.wait("document.getElementById('logit').dataset.value")) == after
    finally:
        browser.close()
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert proc.wait(timeout=30) == 0 and "Traceback" not in proc.stderr.read()
