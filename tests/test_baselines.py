"""Tests of the classical baselines: noise tracking, improvement, causality, the LSA gain,
the tuning script."""
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


@pytest.mark.parametrize("name", ["wiener", "mmse_lsa", "spectral_subtraction", "noisereduce"])
def test_baselines_improve_white_noise(speech, noise, name):
    noisy = speech + 0.5 * noise  # about 0 dB
    est = baselines.BASELINES[name](noisy)
    assert est.shape == noisy.shape and np.isfinite(est).all()
    gain = metrics.si_sdr(estimate=est, reference=speech) - metrics.si_sdr(estimate=noisy, reference=speech)
    assert gain > 2.0, f"{name} improved SI-SDR by only {gain:.2f} dB"


def test_stereo_is_refused(speech):
    with pytest.raises(ValueError, match="mono"):
        baselines.wiener(np.stack([speech, speech]))


def test_noise_tracker_does_not_start_on_the_stft_padding():
    """Regression: the minimum search started on the zero-padded first frame, so the
    noise was underestimated for the first 1.5 s (-2.9 dB on white noise; -6.9 dB on the
    validation mixtures). Now within 1.5 dB of the true power from the start."""
    from sedemo.dsp import stft

    n = 0.1 * np.random.default_rng(0).standard_normal(3 * 16000)
    power = np.abs(stft.stft(n)) ** 2
    est = baselines.noise_psd(power)
    true = power[:, 1:].mean()
    early = 10 * np.log10(est[:, 1:150].mean() / true)
    late = 10 * np.log10(est[:, 150:].mean() / true)
    assert abs(early) < 1.5 and abs(late) < 1.5
    assert abs(early - late) < 1.0
    # the padding frame takes the first full frame's periodogram (times the bias)
    np.testing.assert_allclose(est[:, 0], 1.5 * power[:, 1])
    # a one-frame input works
    assert baselines.noise_psd(power[:, :1]).shape == (power.shape[0], 1)


# --- MMSE-LSA -----------------------------------------------------------------------

def _lsa_gain_by_integration(xi: float, gamma: float) -> float:
    """The LSA gain re-derived in float64 from its definition, with E1 integrated numerically."""
    from scipy.integrate import quad

    v = xi * gamma / (1 + xi)
    e1, _ = quad(lambda t: np.exp(-t) / t, v, np.inf, epsabs=0, epsrel=1e-12, limit=200)
    return xi / (1 + xi) * np.exp(0.5 * e1)


@pytest.mark.parametrize("xi, gamma", [(0.1, 0.5), (1.0, 1.0), (3.0, 10.0), (0.01, 50.0), (10.0, 0.2),
                                       (0.003, 2.0)])
def test_lsa_gain_matches_its_definition(xi, gamma):
    assert baselines.lsa_gain(xi, gamma) == pytest.approx(_lsa_gain_by_integration(xi, gamma), rel=1e-8)


def test_lsa_gain_limits():
    # large v = xi*gamma/(1+xi): E1(v) -> 0, the gain tends to the Wiener gain xi/(1+xi)
    xi = np.array([0.1, 1.0, 10.0])
    np.testing.assert_allclose(baselines.lsa_gain(xi, 1e4 * (1 + xi) / xi), xi / (1 + xi), rtol=1e-12)
    # above the Wiener gain (exp(E1/2) > 1; equal in float64 once E1(v) underflows) and
    # not increasing in gamma at fixed xi
    xi, gamma = np.meshgrid(np.logspace(-3, 2, 30), np.logspace(-2, 2, 40), indexing="ij")
    g, w = baselines.lsa_gain(xi, gamma), xi / (1 + xi)
    assert np.all(g >= w) and np.all(g[w * gamma < 10] > w[w * gamma < 10])
    assert np.all(np.diff(g, axis=1) <= 0)


def test_mmse_lsa_reduces_stationary_noise(speech, noise):
    noisy = speech + 0.5 * noise
    est = baselines.mmse_lsa(noisy)
    assert est.dtype == np.float32 and est.shape == noisy.shape
    gain = metrics.si_sdr(estimate=est, reference=speech) - metrics.si_sdr(estimate=noisy, reference=speech)
    t = np.arange(len(noisy)) / 16000
    pause = ((t % 1.5) > 1.25) & ((t % 1.5) < 1.45) & (t > 1)  # the fixture's pauses, after the tracker settles
    drop = 10 * np.log10(np.mean(est[pause] ** 2) / np.mean(noisy[pause] ** 2))
    assert gain > 4.0 and drop < -6.0, (gain, drop)
    assert np.all(baselines.mmse_lsa(np.zeros(4000)) == 0)


@pytest.mark.parametrize("name", ["wiener", "mmse_lsa"])
@pytest.mark.parametrize("tracker", baselines.TRACKERS)
def test_decision_directed_enhancers_are_causal(speech, noise, name, tracker):
    """Change the input from sample t0 on: nothing before t0 - n_fft + 1 may move (an output
    sample comes from the frames that cover it, the last of which ends n_fft - 1 later)."""
    from sedemo.dsp import stft

    noisy = speech + 0.5 * noise
    changed = noisy.copy()
    t0 = 30000
    changed[t0:] = 0.3 * np.random.default_rng(5).standard_normal(len(noisy) - t0)
    fn = baselines.BASELINES[name]
    a, b = fn(noisy, tracker=tracker), fn(changed, tracker=tracker)
    past = t0 - stft.DEFAULT.n_fft + 1
    np.testing.assert_array_equal(a[:past], b[:past])
    assert np.abs(a[t0:] - b[t0:]).max() > 1e-3  # the change is seen where it happens


@pytest.mark.parametrize("tracker", baselines.TRACKERS)
def test_lsa_gains_stay_between_the_floor_and_one(speech, noise, tracker):
    from sedemo.dsp import stft

    power = np.abs(stft.stft(speech + 0.5 * noise)) ** 2
    power[:, 100:110] *= 1e-4  # bins far below the noise estimate: the raw LSA gain exceeds 1 there
    lam = baselines._noise(power, stft.DEFAULT, tracker)
    for floor_db in (-10.0, -25.0):
        g = baselines._dd_gains(power, lam, 0.9, "lsa", 10 ** (floor_db / 20), 10 ** (-25 / 10))
        assert g.min() == pytest.approx(10 ** (floor_db / 20)) and g.max() <= 1.0
        assert g[:, 100:110].max() == 1.0


def test_unknown_tracker_is_refused(speech):
    with pytest.raises(ValueError, match="choose"):
        baselines.mmse_lsa(speech, tracker="nope")


def test_mcra_tracker_follows_stationary_noise_and_is_causal():
    rng = np.random.default_rng(0)
    power = rng.exponential(scale=2.0, size=(50, 600))
    est = baselines.noise_psd_mcra(power)
    assert np.median(est[:, 200:]) == pytest.approx(2.0, rel=0.25)
    changed = power.copy()
    changed[:, 200:] = 1e3  # a loud future must not reach the past
    np.testing.assert_array_equal(est[:, :200], baselines.noise_psd_mcra(changed)[:, :200])


# --- the tuning script ----------------------------------------------------------------

def _tuning_script():
    from conftest import load_script

    return load_script("tune_baselines")


def test_tuning_script_runs_on_validation_only_and_resumes(tiny_corpus, tmp_path, monkeypatch):
    import json

    from sedemo.data import corpus as corpus_mod

    script = _tuning_script()
    splits = []
    original = corpus_mod.Corpus.items
    monkeypatch.setattr(corpus_mod.Corpus, "items", lambda self, split, *a, **k: splits.append(split)
                        or original(self, split, *a, **k))
    out = tmp_path / "tuning.json"
    argv = ["--corpus", str(tiny_corpus.root), "--n-items", "2", "--held-out", "1", "--alphas", "0.9", "0.98",
            "--floors", "-20", "--trackers", "minimum", "--out", str(out)]
    result = script.main(argv)
    assert set(splits) == {"valid"}  # the test split is never read
    saved = json.loads(out.read_text())
    assert saved["split"] == "valid" and saved["n_items"] == 2 and len(saved["settings"]) == 4
    assert saved["command"] == "python scripts/tune_baselines.py " + " ".join(argv)
    for method in ("wiener", "mmse_lsa"):
        chosen = saved["chosen"][method]
        runs = [v for v in saved["settings"].values() if v["method"] == method]
        assert chosen["objective"] == max(r["objective"] for r in runs)
        assert chosen["alpha"] in (0.9, 0.98)
    assert saved["held_out"]["n_items"] == 1 and "noisy" in saved["held_out"]["systems"]
    assert not set(saved["held_out"]["items"]) & set(saved["items"])
    assert result["settings"] == saved["settings"]

    # rerun: the grid's settings are read back, only the held-out check runs again
    calls = []
    for name, fn in list(script.METHODS.items()):
        monkeypatch.setitem(script.METHODS, name, lambda x, _fn=fn, **k: calls.append(1) or _fn(x, **k))
    again = script.main(argv)
    assert len(calls) == 2 and again["settings"] == saved["settings"]


def test_defaults_are_the_settings_chosen_on_validation():
    """The committed tuning result and the functions' defaults agree."""
    import inspect
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "sedemo" / "results" / "baselines" / "tuning.json"
    if not path.exists():
        pytest.skip("sedemo/results/baselines/tuning.json not committed")
    chosen = json.loads(path.read_text())["chosen"]
    for name in ("wiener", "mmse_lsa"):
        params = inspect.signature(baselines.BASELINES[name]).parameters
        for key in ("alpha", "gain_floor_db", "tracker"):
            assert params[key].default == chosen[name][key], (name, key)
