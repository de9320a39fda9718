"""Shared fixtures: deterministic speech-like test signals that need no corpus."""
from __future__ import annotations

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
