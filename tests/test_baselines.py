"""Tests of the classical baselines: noise tracking, improvement, causality."""
from __future__ import annotations

import numpy as np
import pytest

from sedemo.evaluation import baselines
from sedemo import metrics


def test_noise_tracker_follows_stationary_noise():
    rng = np.random.default_rng(0)
    power = rng.exponential(scale=2.0, size=(50, 600))  # |Y|^2 of white noise, mean 2
    est = baselines.noise_psd(power)
    assert np.median(est[:, 200:]) == pytest.approx(2.0, rel=0.5)


def test_running_minimum_is_causal():
    rng = np.random.default_rng(1)
    power = rng.exponential(size=(4, 300))
    changed = power.copy()
    changed[:, 200:] = 1e-6  # the future drops: the past estimate must not see it
    a, b = baselines.noise_psd(power), baselines.noise_psd(changed)
    np.testing.assert_array_equal(a[:, :200], b[:, :200])


@pytest.mark.parametrize("name", ["wiener", "spectral_subtraction", "noisereduce"])
def test_baselines_improve_white_noise(speech, noise, name):
    noisy = speech + 0.5 * noise  # about 0 dB
    est = baselines.BASELINES[name](noisy)
    assert est.shape == noisy.shape and np.isfinite(est).all()
    gain = metrics.si_sdr(estimate=est, reference=speech) - metrics.si_sdr(estimate=noisy, reference=speech)
    assert gain > 2.0, f"{name} improved SI-SDR by only {gain:.2f} dB"


def test_stereo_is_refused(speech):
    with pytest.raises(ValueError, match="mono"):
        baselines.wiener(np.stack([speech, speech]))
