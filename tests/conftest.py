"""Shared fixtures: deterministic speech-like test signals that need no corpus."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

SR = 16000



@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Every test runs torch on one thread (restored afterwards): the tests run many
    tiny tensor operations, for which one thread is faster than two on a 2-core
    machine, and results do not depend on the thread count."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def speech_like(seconds: float = 3.0, sample_rate: int = SR, seed: int = 0) -> np.ndarray:
    """A deterministic, speech-like float64 signal: a glottal-pulse-like harmonic
    source with a gliding pitch (100-220 Hz), shaped by three moving formant
    resonances and a 4 Hz syllabic envelope with pauses. Peak about 0.5."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    f0 = 150 + 60 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    src = np.zeros(n)
    for k in range(1, 40):
        fk = k * f0
        src += np.where(fk < sample_rate / 2, np.cos(k * phase) / k**0.5, 0.0)
    src += 0.05 * rng.standard_normal(n)
    y = np.zeros(n)
    block = 320
    for start in range(0, n, block):
        seg = src[start : start + block]
        tt = start / sample_rate
        out = seg.copy()
        for fc, bw in ((500 + 200 * np.sin(3 * tt), 80), (1500 + 400 * np.cos(2 * tt), 120), (2500, 200)):
            r = np.exp(-np.pi * bw / sample_rate)
            th = 2 * np.pi * fc / sample_rate
            out = lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], out)
        y[start : start + block] = out
    env = np.clip(np.sin(2 * np.pi * 2.0 * t) ** 2 * 1.4 - 0.2, 0, 1)
    env[(t % 1.5) > 1.2] = 0.0  # pauses
    y = y * env
    return 0.5 * y / np.abs(y).max()


@pytest.fixture
def speech() -> np.ndarray:
    """3 s of speech-like float64 signal at 16 kHz (see :func:`speech_like`)."""
    return speech_like()


@pytest.fixture
def noise() -> np.ndarray:
    """3 s of white Gaussian noise, float64, RMS 0.1, seed 1."""
    return 0.1 * np.random.default_rng(1).standard_normal(3 * SR)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A tiny synthetic corpus (espeak-ng speech, synthetic noise) built once per session:
    6 train, 3 valid and 1 test item per SNR x noise type."""
    from sedemo import data

    cfg = data.CorpusConfig(n_train=6, n_valid=3, n_test_per_cell=1, synthetic_utterances_per_speaker=4)
    root = tmp_path_factory.mktemp("tiny_corpus")
    with pytest.warns(UserWarning, match="SYNTHETIC"):
        return data.build(root, source="synthetic", config=cfg, progress=False)


@pytest.fixture
def tiny_pretrained(monkeypatch):
    """Stand in a tiny GCRN (16 kHz, the book's STFT) for the pretrained checkpoint that the
    ``python -m sedemo enhance`` command loads by name."""
    from sedemo import models

    torch.manual_seed(0)
    model = models.build_model("gcrn", tiny=True, n_fft=320, hop=160).eval()
    monkeypatch.setattr(models, "load_pretrained", lambda name: model)
    return model


# What JupyterLab's kernel reports and jupytext then writes into a saved MyST chapter.
LAB_KERNEL_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                      "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                      "pygments_lexer": "ipython3"},
}


def jupyterlab_saved(text: str, config_dir=None) -> str:
    """``text`` (a MyST chapter) as jupytext writes it when a reader saves it in JupyterLab
    with an ipykernel Python 3 kernel, using the ``jupytext.toml`` of ``config_dir``."""
    import jupytext
    from jupytext.config import load_jupytext_configuration_file

    nb = jupytext.reads(text, fmt="md:myst")
    nb.metadata.update(LAB_KERNEL_METADATA)
    config = None
    if config_dir is not None and (config_dir / "jupytext.toml").exists():
        config = load_jupytext_configuration_file(str(config_dir / "jupytext.toml"))
    return jupytext.writes(nb, fmt="md:myst", config=config)


def load_script(name: str):
    """The module ``scripts/<name>.py`` (the scripts are not a package), for their tests."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def benchmark_module(name: str, module_name: str):
    """``benchmarks/<name>.py`` as a module registered as ``module_name`` for the ``with``
    block; its import-time settings (thread variables in ``os.environ``, ``sys.path``, the
    ``peers`` module it may import) are undone afterwards."""
    import importlib.util
    import os
    import sys
    from pathlib import Path

    environ, path = dict(os.environ), list(sys.path)
    spec = importlib.util.spec_from_file_location(
        module_name, Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        for key in (module_name, "peers"):
            sys.modules.pop(key, None)
        os.environ.clear()
        os.environ.update(environ)
        sys.path[:] = path


def headless_chromium(chromium: str, chromedriver: str, profile, window: str = "1280,1000", extra=(),
                      browser_log: bool = False, page_load_timeout: float = 60):
    """A Selenium driver for Debian's Chromium, headless, with the project's flags (no
    network side traffic, no first-run UI) and its own profile folder ``profile``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--window-size={window}", f"--user-data-dir={profile}", *extra):
        opts.add_argument(flag)
    if browser_log:
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=opts)
    driver.set_page_load_timeout(page_load_timeout)
    return driver
