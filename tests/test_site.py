"""Browser tests of the built website (``_build/html``) in headless Chromium.

Run by ``make test`` after the book build (``pytest -m browser``). Skipped when
Chromium/ChromeDriver are not installed or the site has not been built.
Every page: no JavaScript errors, no failed or external requests, every image
loaded, every audio element decodable; every static listening control changes
both its picture and its audio when moved.
"""
from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

SITE = Path(__file__).resolve().parents[1] / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian chromium + chromium-driver not installed"),
    pytest.mark.skipif(not (SITE / "index.html").exists(), reason="site not built (make book)"),
]


def _pages():
    if not SITE.exists():
        return []
    return sorted(str(p.relative_to(SITE)) for p in (SITE / "book").glob("*.html"))


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SITE))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from conftest import headless_chromium

    driver = headless_chromium(CHROMIUM, CHROMEDRIVER, tmp_path_factory.mktemp("chromium"), browser_log=True,
                               extra=("--disable-quic", "--autoplay-policy=no-user-gesture-required"))
    yield driver
    driver.quit()


RESOURCES_JS = """
return performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus || 0]);
"""
IMAGES_JS = """
return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80));
"""
AUDIO_JS = """
const done = arguments[arguments.length - 1];
const audios = Array.from(document.querySelectorAll('audio'));
Promise.all(audios.map(a => new Promise(res => {
  const src = a.currentSrc || a.src || (a.querySelector('source') || {}).src || '';
  if (!src) { res('no source'); return; }
  fetch(src).then(r => r.arrayBuffer()).then(buf => {
    const ctx = new OfflineAudioContext(1, 16000, 16000);
    return ctx.decodeAudioData(buf);
  }).then(b => res(b.duration > 0 ? null : 'empty audio'), e => res('undecodable: ' + e));
}))).then(r => done({count: audios.length, errors: r.filter(x => x)}));
"""


@pytest.mark.parametrize("page", _pages())
def test_page_loads_cleanly(server, browser, page):
    browser.get(f"{server}/{page}")
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, f"{page}: console errors {severe[:3]}"
    resources = browser.execute_script(RESOURCES_JS)
    external = [n for n, _ in resources if not n.startswith(server) and not n.startswith("data:")]
    assert not external, f"{page}: requests leave the site: {external[:3]}"
    failed = [n for n, status in resources if status >= 400]
    assert not failed, f"{page}: failed requests {failed[:3]}"
    broken = browser.execute_script(IMAGES_JS)
    assert not broken, f"{page}: images that did not load: {broken[:3]}"
    browser.set_script_timeout(60)
    report = browser.execute_async_script(AUDIO_JS)
    assert not report["errors"], f"{page}: audio problems {report['errors'][:3]}"


SWITCH_JS = """
const hash = s => { let h = 0; for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0; return s.length + ':' + h; };
const root = arguments[0], i = arguments[1];
const input = root.querySelector('.sedemo-switcher-input');
input.value = i;
input.dispatchEvent(new Event('input', {bubbles: true}));
input.dispatchEvent(new Event('change', {bubbles: true}));
const vis = Array.from(root.querySelectorAll('.sedemo-variant')).filter(v => !v.hidden);
if (vis.length !== 1) return null;
const img = vis[0].querySelector('img');
const au = vis[0].querySelector('audio');
const src = au ? (au.currentSrc || au.src || (au.querySelector('source') || {}).src) : null;
return [vis[0].dataset.index, img ? hash(img.src) : null, src ? hash(src) : null];
"""


@pytest.mark.parametrize("page", _pages())
def test_static_controls_switch_picture_and_audio(server, browser, page):
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/{page}")
    controls = browser.find_elements(By.CSS_SELECTOR, ".sedemo-switcher")
    if not controls:
        pytest.skip(f"{page} has no listening control")
    for root in controls:
        n = int(root.get_attribute("data-count"))
        assert n == len(root.find_elements(By.CSS_SELECTOR, ".sedemo-variant"))
        states = [browser.execute_script(SWITCH_JS, root, i) for i in range(n)]
        assert all(s is not None for s in states), f"{page}: not exactly one visible variant"
        assert [s[0] for s in states] == [str(i) for i in range(n)]
        for kind, k in (("picture", 1), ("audio", 2)):
            values = [s[k] for s in states]
            if any(v is not None for v in values):
                assert len(set(values)) == n, f"{page}: moving the control does not change the {kind}"


PAGE_BUDGET_MB = 5.0
SITE_BUDGET_MB = 150.0


def _page_weight(page: Path) -> int:
    """Bytes a reader downloads for ``page``: the HTML (with its embedded data URIs)
    plus the images it references from the site's own folders."""
    import re

    html = page.read_text(errors="replace")
    total = page.stat().st_size
    for src in set(re.findall(r'<img[^>]+src="([^"]+)"', html)):
        if src.startswith("data:"):
            continue
        target = (page.parent / src.split("#")[0].split("?")[0]).resolve()
        if target.is_file():
            total += target.stat().st_size
    return total


@pytest.mark.parametrize("page", _pages())
def test_page_weight_budget(page):
    mb = _page_weight(SITE / page) / 1e6
    assert mb < PAGE_BUDGET_MB, f"{page} weighs {mb:.1f} MB (budget {PAGE_BUDGET_MB} MB): shorten clips or figures"


def test_site_weight_budget():
    mb = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file()) / 1e6
    assert mb < SITE_BUDGET_MB, f"the site weighs {mb:.0f} MB (budget {SITE_BUDGET_MB:.0f} MB)"


SHOTS = SITE.parent / "screenshots"
RAW_MARKUP = ("```", ":::", "{admonition}", "{cite}", "{func}", "{mod}", "{ref}", "{class}", "$$", "\\frac",
              "<div", "&lt;", "nbsp;")
FIRST_SCREEN_JS = """
const main = document.querySelector('main') || document.body;
const h1 = main.querySelector('h1');
const empty = Array.from(main.querySelectorAll('.cell_output')).filter(o => !o.innerText.trim()
    && !o.querySelector('img, audio, svg, table, iframe, .sedemo-switcher'));
return {title: h1 ? h1.innerText : '', text: main.innerText, empty: empty.length,
        mathjax: main.querySelectorAll('mjx-container').length};
"""


@pytest.mark.parametrize("page", _pages())
def test_first_screen_is_rendered(server, browser, page):
    """A screenshot of each chapter's first screen (kept in ``_build/screenshots/`` to
    look at) shows rendered content: a title, text, no raw MyST/LaTeX markup, no empty
    output cells, and an image that is not blank."""
    import io

    import numpy as np
    from PIL import Image

    browser.get(f"{server}/{page}")
    browser.execute_script("window.scrollTo(0, 0)")
    SHOTS.mkdir(exist_ok=True)
    png = browser.get_screenshot_as_png()
    (SHOTS / (Path(page).stem + ".png")).write_bytes(png)
    state = browser.execute_script(FIRST_SCREEN_JS)
    assert state["title"].strip(), f"{page}: no rendered title"
    raw = [m for m in RAW_MARKUP if m in state["text"]]
    assert not raw, f"{page}: raw markup visible in the page text: {raw}"
    assert state["empty"] == 0, f"{page}: {state['empty']} empty output cell(s)"
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    assert pixels.std() > 10, f"{page}: the first screen is (nearly) blank"
    # math typeset where the page has TeX (the LaTeX sources themselves are hidden)
    if "\\(" in browser.page_source or "\\[" in browser.page_source:
        assert state["mathjax"] > 0, f"{page}: TeX on the page but nothing typeset by MathJax"
