"""Browser tests of the "Try it live" page (book/08_live.md) in headless Chromium.

The built site (``_build/html``, with the assets of ``scripts/build_live_assets.sh``) is
served over HTTP on 127.0.0.1 (file:// blocks the WebAssembly fetches). Checked:
``sedemoLive.enhance`` on a test clip against the Python stream of the same model
(SI-SDR > 30 dB); the microphone path, fed from a WAV by Chromium's fake capture device,
gives finite, non-silent output and a time per hop; nothing is fetched from another
origin; nothing heavy is fetched before Start. Skipped without Chromium/ChromeDriver or
without the built page.
"""
from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

SITE = Path(__file__).resolve().parents[1] / "_build" / "html"
LIVE = SITE / "_static" / "live"
PAGE = "book/08_live.html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# beyond conftest.headless_chromium's flags
EXTRA_FLAGS = ("--disable-quic", "--autoplay-policy=no-user-gesture-required")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian chromium + chromium-driver not installed"),
    pytest.mark.skipif(not (SITE / PAGE).exists() or not (LIVE / "model" / "model.onnx").exists(),
                       reason="live page or its assets not built (make book)"),
]


@pytest.fixture(scope="module")
def server():
    class Quiet(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                          ".onnx": "application/octet-stream"}

        def log_message(self, *args, **kwargs):
            pass

    handler = functools.partial(Quiet, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _chromium(tmp_path_factory, *extra):
    from conftest import headless_chromium

    driver = headless_chromium(CHROMIUM, CHROMEDRIVER, tmp_path_factory.mktemp("chromium"), browser_log=True,
                               extra=(*EXTRA_FLAGS, *extra))
    driver.set_script_timeout(180)
    return driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = _chromium(tmp_path_factory)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def clip():
    import soundfile as sf

    x, rate = sf.read(LIVE / "clips" / "clip0.wav", dtype="float32")
    assert rate == 16000 and x.ndim == 1
    return x


def _python_stream(x: np.ndarray) -> np.ndarray:
    """The Python streaming output of the same model, aligned as `python -m sedemo enhance`."""
    from sedemo import models
    from sedemo.streaming import stream_file

    source = json.loads((LIVE / "model" / "model.json").read_text())["source"]  # "pretrained <name>": what the page runs
    name = source.removeprefix("pretrained ")
    return np.asarray(stream_file(models.load_pretrained(name).eval(), x), dtype=np.float32)


def _si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    est, ref = est.astype(np.float64), ref.astype(np.float64)
    target = ref * (est @ ref) / (ref @ ref)
    return float(10 * np.log10((target @ target) / ((est - target) @ (est - target))))


ENHANCE_JS = """
const done = arguments[arguments.length - 1];
const x = Float32Array.from(arguments[0]);
const t0 = performance.now();
sedemoLive.enhance(x).then(y => done({y: Array.from(y), ms: performance.now() - t0}),
                           e => done({error: String(e)}));
"""
CALL_JS = """
const done = arguments[arguments.length - 1];
const [name, ...args] = arguments[0];
Promise.resolve(sedemoLive[name](...args)).then(r => done({result: r === undefined ? null : r}),
                                                e => done({error: String(e)}));
"""


def _call(driver, name, *args):
    r = driver.execute_async_script(CALL_JS, [name, *args])
    assert "error" not in r, f"sedemoLive.{name}: {r['error']}"
    return r["result"]


def _severe(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_nothing_heavy_before_start(server, browser):
    browser.get(f"{server}/{PAGE}")
    time.sleep(1.0)
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    heavy = [u for u in urls if u.endswith((".wasm", ".onnx", ".wav")) or "/ort/" in u or "/model/" in u]
    assert not heavy, f"heavy assets loaded before Start: {heavy}"
    assert browser.execute_script("return typeof window.sedemoLive.enhance") == "function"
    assert not _severe(browser)


def test_enhance_matches_python_stream(server, browser, clip):
    browser.get(f"{server}/{PAGE}")
    r = browser.execute_async_script(ENHANCE_JS, clip.tolist())
    assert "error" not in r, r.get("error")
    y = np.asarray(r["y"], dtype=np.float32)
    assert y.shape == clip.shape and np.isfinite(y).all()
    ref = _python_stream(clip)
    sdr = _si_sdr(y, ref)
    print(f"\nsedemoLive.enhance vs Python stream: SI-SDR {sdr:.1f} dB, max |diff| "
          f"{np.abs(y - ref).max():.2e}, {r['ms']:.0f} ms for {len(clip) / 16000:.1f} s")
    assert sdr > 30.0, f"browser output differs from the Python stream: SI-SDR {sdr:.1f} dB"
    assert not _severe(browser)


def test_requests_stay_on_the_origin(server, browser):
    browser.get(f"{server}/{PAGE}")
    _call(browser, "start")
    _call(browser, "playClip", 0)
    time.sleep(1.0)
    urls = _call(browser, "resources")
    assert any(u.endswith(".wasm") for u in urls), f"the wasm runtime was not fetched: {urls}"
    assert any(u.endswith(".onnx") for u in urls)
    outside = [u for u in urls if not u.startswith(server + "/") and not u.startswith(("data:", "blob:"))]
    assert not outside, f"requests leave the site: {outside}"
    _call(browser, "stop")


def test_microphone_path(server, tmp_path_factory):
    wav = LIVE / "clips" / "clip0.wav"
    driver = _chromium(tmp_path_factory, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                       f"--use-file-for-fake-audio-capture={wav}")
    try:
        driver.get(f"{server}/{PAGE}")
        _call(driver, "startMic")
        time.sleep(4.0)
        stats = _call(driver, "stats")
        status = driver.execute_script("return document.getElementById('sl-status').textContent")
        shown = driver.execute_script("return document.getElementById('sl-ms').textContent")
        _call(driver, "stop")
        print(f"\nmicrophone path: {json.dumps(stats)}; status {status!r}; shown {shown!r}")
        assert "microphone" in status.lower(), status
        assert stats["hops"] >= 100, f"too few hops processed in 4 s: {stats}"
        assert stats["nonFinite"] == 0
        assert stats["outRms"] > 1e-4, f"silent output: {stats}"
        assert 0 < stats["msPerHop"] < 100
        assert "ms mean" in shown
        assert not _severe(driver)
    finally:
        driver.quit()


def test_clips_work_without_audio_worklet(server, tmp_path_factory):
    """A browser without AudioWorklet: the page says so, the microphone is off, and a test
    clip is still enhanced (whole, then played)."""
    driver = _chromium(tmp_path_factory)
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": "delete window.AudioWorkletNode;"})
        driver.get(f"{server}/{PAGE}")
        notes = driver.execute_script("return document.getElementById('sl-notes').innerText")
        assert "no AudioWorklet" in notes, notes
        _call(driver, "playClip", 0)
        status = driver.execute_script("return document.getElementById('sl-status').textContent")
        assert "(enhanced)" in status, status
        assert driver.execute_script("return document.getElementById('sl-mic').disabled")
        assert not _severe(driver)
    finally:
        driver.quit()
