"""The reader's JupyterLab, driven by headless Chromium (#18): the setup of ``make lab``
(JupyterLab, jupytext's notebook view of the ``.md`` chapters, the MyST renderer,
ipywidgets, live mode), chapter 1 opened, *Run All Cells* from the menu, then the SNR
slider moved with the keyboard as a reader would: the picture, the audio and the
numbers of the live control must change, the book's markup must render (no raw
``{admonition}`` text), and the repository's chapter must stay unchanged.

Run with the other browser tests (``pytest -m browser``). Skipped when Chromium, the
lab packages of ``requirements-lab.txt`` or the corpus are missing. The chapter runs on a
copy in a temporary folder, so nothing is written next to the committed chapters.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "01_noisy_speech.md"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
LAB = all(find_spec(m) for m in ("jupyterlab", "jupytext", "jupyterlab_myst", "ipywidgets"))


def _corpus() -> Path | None:
    from sedemo.data import default_root

    root = default_root()
    return root if (root / "manifest.csv").exists() else None


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian chromium + chromium-driver not installed"),
    pytest.mark.skipif(not LAB, reason="lab packages not installed: pip install -r requirements-lab.txt"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server configured as ``make lab`` does, on a copy of chapter 1."""
    corpus = _corpus()
    if corpus is None:
        pytest.skip("corpus not built (make data)")
    work = tmp_path_factory.mktemp("lab")
    notebooks, config = work / "book", work / "config"
    notebooks.mkdir()
    shutil.copy2(CHAPTER, notebooks / CHAPTER.name)
    shutil.copy2(CHAPTER.parent / "jupytext.toml", notebooks / "jupytext.toml")
    # every cell rendered (no windowing: the test reads every prompt and output), no news popup
    settings = work / "settings"
    for plugin, values in (("@jupyterlab/notebook-extension/tracker", {"windowingMode": "none"}),
                           ("@jupyterlab/apputils-extension/notification", {"fetchNews": "false"})):
        target = settings / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    bindir = Path(sys.executable).parent
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), SEDEMO_STATIC="0", SEDEMO_DATA=str(corpus),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"), JUPYTER_DATA_DIR=str(work / "data"),
               IPYTHONDIR=str(work / "ipython"))
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(Path(sys.prefix) / "share" / "jupyter"),
                                                       env.get("JUPYTER_PATH", "")) if p)
    subprocess.run([str(bindir / "jupytext-config"), "set-default-viewer"], env=env, check=True,
                   capture_output=True)
    port, token = _free_port(), hashlib.sha1(os.urandom(16)).hexdigest()
    log = open(work / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}", "--allow-root",
         "--LabApp.news_url=None", f"--LabApp.user_settings_dir={settings}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=notebooks)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(work / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield {"url": url, "token": token, "dir": notebooks, "log": work / "lab.log"}
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from conftest import headless_chromium

    driver = headless_chromium(CHROMIUM, CHROMEDRIVER, tmp_path_factory.mktemp("chromium-lab"), window="1400,1000",
                               page_load_timeout=120)
    yield driver
    driver.quit()


# The live control's state: the slider's label and the HTML view's picture, audio and numbers.
STATE_JS = """
const view = Array.from(document.querySelectorAll('.jp-Notebook .widget-html'))
  .find(v => v.querySelector('img.sedemo-figure'));
if (!view) return null;
const img = view.querySelector('img.sedemo-figure');
const key = src => src.length + ':' + src.slice(-64);  // data URIs: length and tail tell them apart
const audio = Array.from(view.querySelectorAll('audio'))
  .map(a => key(a.currentSrc || a.src || (a.querySelector('source') || {}).src || ''));
const label = document.querySelector('.jp-Notebook .widget-slider .widget-readout');
return {img: key(img.src), loaded: img.complete && img.naturalWidth > 0,
        audio: audio, text: view.innerText, readout: label ? label.innerText : null};
"""

# Every code cell has run: each input prompt shows an execution count, none "[*]" or "[ ]".
DONE_JS = """
const prompts = Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt'))
  .map(p => p.innerText.trim());
if (!prompts.length || prompts.some(p => !/^\\[\\d+\\]:$/.test(p))) return null;
return {count: prompts.length};
"""


def _wait(fn, timeout, what, poll=0.5):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = fn()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_chapter_runs_in_jupyterlab_and_its_slider_changes_picture_and_audio(lab, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    before = hashlib.sha256(CHAPTER.read_bytes()).hexdigest()
    browser.get(f"{lab['url']}/lab/tree/{CHAPTER.name}?token={lab['token']}")
    # jupytext opens the .md chapter as a notebook with a Python kernel
    _wait(lambda: browser.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell"), 120, "the notebook view")
    # the MyST renderer: the key-points admonition is rendered, not shown as raw markup
    _wait(lambda: browser.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel .myst-admonition-tip"),
          60, "a rendered admonition")
    raw = browser.execute_script(
        "return Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-MarkdownCell')).map(e => e.innerText)"
        ".filter(t => t.includes('{admonition}') || t.includes(':class: tip')).length")
    assert raw == 0, "MyST markup shown as raw text: the MyST renderer is not active"

    # Run > Run All Cells, from the menu as a reader would
    browser.find_element(By.XPATH, "//div[contains(@class,'lm-MenuBar-itemLabel') and text()='Run']").click()
    _wait(lambda: browser.find_elements(By.XPATH, "//div[contains(@class,'lm-Menu-itemLabel') and "
                                                  "text()='Run All Cells']"), 10, "the Run menu")[0].click()
    state = _wait(lambda: browser.execute_script(STATE_JS), 600, "the live SNR control")
    _wait(lambda: (browser.execute_script(STATE_JS) or {}).get("loaded"), 60, "the control's picture")
    errors = browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    tracebacks = [e.text[:300] for e in errors if "Traceback" in e.text or "Error" in e.text.split("\n")[-1]]
    assert not tracebacks, f"a cell raised: {tracebacks}"
    state = browser.execute_script(STATE_JS)
    assert state["audio"], "the live control shows no audio player"

    # let Run All Cells finish first: a widget's callback waits in the kernel's queue behind
    # the cells still to run, so on a loaded machine the slider would race the rest of the chapter
    done = _wait(lambda: browser.execute_script(DONE_JS), 900, "Run All Cells to finish")
    assert done["count"] > 5
    state = browser.execute_script(STATE_JS)
    # move the slider one step to the right with the keyboard (noUiSlider's handle)
    handle = browser.find_element(By.CSS_SELECTOR, ".jp-Notebook .widget-slider .noUi-handle")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", handle)
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    after = _wait(lambda: (lambda s: s if s and s["img"] != state["img"] and s["loaded"] else None)(
        browser.execute_script(STATE_JS)), 60, "the picture to change after moving the slider")
    assert after["readout"] != state["readout"], "the slider's value did not change"
    assert after["audio"] != state["audio"], "the audio did not change with the slider"
    assert after["text"] != state["text"], "the numbers did not change with the slider"
    # every code cell ran (no "[*]" or empty prompts left) and none raised
    done = _wait(lambda: browser.execute_script(DONE_JS), 900, "the cells to stay finished")
    assert done["count"] > 5
    errors = browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    tracebacks = [e.text[:300] for e in errors if "Traceback" in e.text or "Error" in e.text.split("\n")[-1]]
    assert not tracebacks, f"a cell raised: {tracebacks}"
    if os.environ.get("SEDEMO_LAB_SCREENSHOT"):
        browser.save_screenshot(os.environ["SEDEMO_LAB_SCREENSHOT"])
    # File > Save: jupytext writes the chapter back without outputs and byte-identical (the
    # committed chapters are kept in the form it writes), so a reader's run never dirties git
    saved = lab["dir"] / CHAPTER.name
    mtime = saved.stat().st_mtime_ns
    browser.find_element(By.XPATH, "//div[contains(@class,'lm-MenuBar-itemLabel') and text()='File']").click()
    _wait(lambda: browser.find_elements(By.XPATH, "//div[contains(@class,'lm-Menu-itemLabel') and "
                                                  "starts-with(text(),'Save') and not(contains(text(),'As')) and "
                                                  "not(contains(text(),'All'))]"), 10, "the File menu")[0].click()
    _wait(lambda: saved.stat().st_mtime_ns != mtime, 30, "the save")
    time.sleep(1)  # the contents manager writes atomically; let it finish
    assert saved.read_bytes() == CHAPTER.read_bytes(), "saving in JupyterLab changed the chapter"
    assert hashlib.sha256(CHAPTER.read_bytes()).hexdigest() == before
