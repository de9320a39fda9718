"""Tests of sedemo.evaluation.analysis (chapter 6): every measurement against an independent
float64 re-derivation (closed-form gradients, NumPy loops, scipy.stats fits)."""
from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from conftest import speech_like
from scipy import stats

from sedemo.evaluation import analysis
from sedemo.dsp import audio
from sedemo import losses, metrics
from sedemo.dsp.stft import STFTConfig, stft

SR = 16000
LN10 = math.log(10.0)


# ----------------------------------------------------------------------------
# Catalogue
# ----------------------------------------------------------------------------
def test_catalogue_covers_every_loss():
    cat = analysis.loss_catalogue()
    assert list(cat["name"]) == list(losses.LOSSES)
    assert set(analysis.LOSS_DOMAINS) == set(losses.LOSSES)
    assert (cat["formula"].str.len() > 4).all(), cat.loc[cat["formula"].str.len() <= 4, "name"].tolist()
    assert (cat["reference"].str.len() > 5).all(), cat.loc[cat["reference"].str.len() <= 5, "name"].tolist()
    row = cat.set_index("name")
    assert row.loc["mse", "formula"] == "mean_n (ŝ[n] − s[n])²"
    assert row.loc["si_sdr", "formula"].startswith("−10·log10")
    # wrappers are followed to the loss they wrap
    assert row.loc["compressed_complex", "formula"] == row.loc["compressed_complex_from_spectra", "formula"]
    assert "Braun" in row.loc["spectral_l1", "reference"]
    assert row.loc["embedding", "function"] == "embedding_loss"


# ----------------------------------------------------------------------------
# Gradients (C2)
# ----------------------------------------------------------------------------
def test_waveform_gradient_mse_mae_closed_form():
    rng = np.random.default_rng(0)
    s, e = rng.standard_normal(500), rng.standard_normal(500)
    np.testing.assert_allclose(analysis.waveform_gradient(losses.mse, e, s), 2 * (e - s) / 500, rtol=1e-12)
    np.testing.assert_allclose(analysis.waveform_gradient(losses.mae, e, s), np.sign(e - s) / 500, rtol=1e-12)
    batch = analysis.waveform_gradient(losses.mse, np.stack([e, s]), np.stack([s, s]))
    assert batch.shape == (2, 500)
    np.testing.assert_allclose(batch[0], 2 * (e - s) / 500 / 2, rtol=1e-12)  # mean over the batch
    np.testing.assert_array_equal(batch[1], 0.0)


def test_speech_absent_mask_flags_the_pause():
    speech = speech_like(1.0, seed=1)
    quiet = 1e-4 * np.random.default_rng(0).standard_normal(8000)  # 0.5 s, about -80 dBFS
    s = np.concatenate([speech, quiet, speech])
    mask = analysis.speech_absent_mask(s, SR)
    assert mask.shape == s.shape and mask.dtype == bool
    assert mask[16000:24000].all()  # the pause is frame-aligned (16000 = 50 x 320)
    # independent rule: frame power vs active level - 30 dB
    level, _ = audio.active_level(s, SR)
    frames = s[: len(s) // 320 * 320].reshape(-1, 320)
    with np.errstate(divide="ignore"):
        expected = 10 * np.log10((frames**2).mean(1)) < level - 30
    np.testing.assert_array_equal(mask[: frames.size].reshape(-1, 320)[:, 0], expected)
    assert not mask[:16000].all()


def test_gradient_share_is_energy_share_for_mse_and_count_share_for_mae():
    rng = np.random.default_rng(1)
    s = rng.standard_normal(1000)
    err = rng.standard_normal(1000) * np.where(np.arange(1000) < 300, 0.01, 1.0)
    mask = np.arange(1000) < 300
    g2 = analysis.waveform_gradient(losses.mse, s + err, s)
    g1 = analysis.waveform_gradient(losses.mae, s + err, s)
    assert analysis.gradient_share(g2, mask) == pytest.approx(np.sum(err[:300] ** 2) / np.sum(err**2), rel=1e-10)
    assert analysis.gradient_share(g1, mask) == pytest.approx(0.3, rel=1e-12)
    assert analysis.gradient_share(g2, mask) + analysis.gradient_share(g2, ~mask) == pytest.approx(1.0)


# ----------------------------------------------------------------------------
# Per-utterance gradient norms (C6)
# ----------------------------------------------------------------------------
def _batch(snrs=(-5, 0, 10, 20), n=4000, seed=2):
    rng = np.random.default_rng(seed)
    ref = np.stack([speech_like(n / SR, seed=k)[:n] for k in range(len(snrs))])
    noise = rng.standard_normal(ref.shape)
    scale = np.sqrt((ref**2).sum(1) / (noise**2).sum(1) * 10 ** (-np.asarray(snrs) / 10))
    return ref + noise * scale[:, None], ref


def test_utterance_gradient_norms_waveform_closed_form():
    est, ref = _batch()
    b = len(est)
    err = np.linalg.norm(est - ref, axis=1)
    log_norms = analysis.utterance_gradient_norms(functools.partial(losses.snr_loss, eps=0.0), est, ref)
    np.testing.assert_allclose(log_norms, 20 / LN10 / (b * err), rtol=1e-9)
    ratio_norms = analysis.utterance_gradient_norms(functools.partial(losses.ratio_sdr_loss, eps=0.0), est, ref)
    np.testing.assert_allclose(ratio_norms, 2 * err / (b * (ref**2).sum(1)), rtol=1e-9)


@pytest.mark.parametrize("taps", [1, 5])
def test_utterance_gradient_norms_shared_filter_closed_form(taps):
    est, ref = _batch()
    b, n = est.shape
    for loss, grad in [
        (functools.partial(losses.snr_loss, eps=0.0),
         lambda e, r: 20 / LN10 * (e - r) / np.sum((e - r) ** 2)),
        (functools.partial(losses.ratio_sdr_loss, eps=0.0), lambda e, r: 2 * (e - r) / np.sum(r**2)),
    ]:
        expected = []
        for e, r in zip(est, ref):
            g = grad(e, r) / b
            # dL/dh_k = sum_n g[n] * e[n - k] (causal FIR at the identity)
            dh = np.array([np.dot(g[k:], e[: n - k]) for k in range(taps)])
            expected.append(np.linalg.norm(dh))
        got = analysis.utterance_gradient_norms(loss, est, ref, taps=taps)
        np.testing.assert_allclose(got, expected, rtol=1e-8)


def test_log_form_shares_are_equal_ratio_form_follows_the_error():
    est, ref = _batch(snrs=(-5, 0, 5, 10, 20))
    log = analysis.utterance_gradient_norms(losses.snr_loss, est, ref, taps=1)
    ratio = analysis.utterance_gradient_norms(losses.ratio_sdr_loss, est, ref, taps=1)
    np.testing.assert_allclose(log / log.sum(), 0.2, atol=0.03)
    assert np.all(np.diff(ratio) < 0)  # worst utterance first, largest share
    assert ratio[0] / ratio.sum() > 0.6


def test_utterance_gradient_norms_rejects_bad_shapes():
    with pytest.raises(ValueError):
        analysis.utterance_gradient_norms(losses.snr_loss, np.zeros(10), np.zeros(10))


# ----------------------------------------------------------------------------
# Coefficient normalisation and fits (C4)
# ----------------------------------------------------------------------------
def _spec(seed=0):
    return stft(speech_like(1.0, seed=seed))


def test_normalised_coefficients_utterance_and_band_have_unit_power():
    S = _spec()
    F, T = S.shape
    u = analysis.normalised_coefficients(S, "utterance")
    assert u.shape == (2 * (F - 2) * T,)
    assert np.mean(u**2) == pytest.approx(1.0, rel=1e-9)
    b = analysis.normalised_coefficients(S, "band")
    per_bin = (b[: (F - 2) * T] ** 2 + b[(F - 2) * T:] ** 2).reshape(F - 2, T).mean(1) / 2
    np.testing.assert_allclose(per_bin, 1.0, rtol=1e-9)


def test_normalised_coefficients_local_matches_loops():
    rng = np.random.default_rng(3)
    S = rng.standard_normal((6, 5)) + 1j * rng.standard_normal((6, 5))
    got = analysis.normalised_coefficients(S, "local")
    P = np.abs(S) ** 2
    re, im = [], []
    for f in range(1, 5):
        for t in range(5):
            neigh = [P[min(max(f + df, 0), 5), min(max(t + dt, 0), 4)]
                     for df in (-1, 0, 1) for dt in (-1, 0, 1) if (df, dt) != (0, 0)]
            scale = math.sqrt(sum(neigh) / 8 / 2)
            re.append(S[f, t].real / scale)
            im.append(S[f, t].imag / scale)
    np.testing.assert_allclose(got, np.array(re + im), rtol=1e-12)


def test_normalised_coefficients_checks_input():
    with pytest.raises(ValueError):
        analysis.normalised_coefficients(np.ones((4, 4)), "band")
    with pytest.raises(ValueError):
        analysis.normalised_coefficients(_spec(), "global")


def test_gaussian_and_laplace_fits_match_scipy():
    x = np.random.default_rng(4).laplace(scale=0.7, size=20000)
    sigma, ll_g = analysis.fit_gaussian(x)
    b, ll_l = analysis.fit_laplace(x)
    assert ll_g == pytest.approx(np.mean(stats.norm.logpdf(x, scale=sigma)), rel=1e-10)
    assert ll_l == pytest.approx(np.mean(stats.laplace.logpdf(x, scale=b)), rel=1e-10)
    # ML: any other scale is worse
    assert np.mean(stats.laplace.logpdf(x, scale=1.05 * b)) < ll_l
    assert np.mean(stats.norm.logpdf(x, scale=0.95 * sigma)) < ll_g


@pytest.mark.parametrize("beta", [0.6, 1.0, 2.0])
def test_fit_gennorm_matches_scipy(beta):
    x = stats.gennorm.rvs(beta, scale=1.3, size=5000, random_state=5)
    b_hat, a_hat, ll = analysis.fit_gennorm(x)
    ref_beta, _, ref_scale = stats.gennorm.fit(x, floc=0)
    assert b_hat == pytest.approx(ref_beta, rel=2e-3)
    assert a_hat == pytest.approx(ref_scale, rel=2e-3)
    assert ll == pytest.approx(np.mean(stats.gennorm.logpdf(x, b_hat, scale=a_hat)), rel=1e-10)
    assert ll >= np.mean(stats.gennorm.logpdf(x, ref_beta, scale=ref_scale)) - 1e-7


def test_compare_fits_picks_the_right_family():
    rng = np.random.default_rng(6)
    lap = analysis.compare_fits(rng.laplace(size=50000))
    gau = analysis.compare_fits(rng.standard_normal(50000))
    # population values: Laplace data (b = 1): 0.5*log(4*pi) + 0.5 - (1 + log 2) = 0.0724 nats;
    # Gaussian data: 0.5*log(2*pi) + 0.5 - (1 + log(2*sqrt(2/pi))) = -0.0484 nats
    assert lap["delta_nll"] == pytest.approx(0.5 * math.log(4 * math.pi) + 0.5 - 1 - math.log(2), abs=0.01)
    assert gau["delta_nll"] == pytest.approx(0.5 * math.log(2 * math.pi) - 0.5 - math.log(2 * math.sqrt(2 / math.pi)),
                                             abs=0.01)
    assert lap["gennorm_beta"] == pytest.approx(1.0, abs=0.05)
    assert gau["gennorm_beta"] == pytest.approx(2.0, abs=0.1)
    assert lap["nll_gennorm"] <= min(lap["nll_gauss"], lap["nll_laplace"]) + 1e-9
    assert lap["delta_nll"] == pytest.approx(lap["nll_gauss"] - lap["nll_laplace"])


def test_qq_points_on_the_diagonal_for_the_true_family():
    x = np.random.default_rng(7).standard_normal(100000)
    theo, emp = analysis.qq_points(x, "gauss", n=50, tail=0.01)
    np.testing.assert_allclose(emp, theo, atol=0.05)
    with pytest.raises(ValueError):
        analysis.qq_points(x, "cauchy")


# ----------------------------------------------------------------------------
# Degradations and score tables (C5, C6)
# ----------------------------------------------------------------------------
def test_white_noise_at_snr_is_exact():
    s = speech_like(1.0)
    for snr_db in (-5, 0, 20):
        y = analysis.white_noise_at_snr(s, snr_db, rng=1)
        assert metrics.snr(estimate=y, reference=s) == pytest.approx(snr_db, abs=1e-9)


def test_lowpass_and_preemphasis_and_delay():
    t = np.arange(SR) / SR
    low, high = np.sin(2 * np.pi * 500 * t), np.sin(2 * np.pi * 6000 * t)
    mid = slice(2000, -2000)
    assert np.std(analysis.lowpass(low, 2000, SR)[mid]) == pytest.approx(np.std(low[mid]), rel=1e-3)
    assert np.std(analysis.lowpass(high, 2000, SR)[mid]) < 1e-3 * np.std(high[mid])
    x = np.random.default_rng(8).standard_normal(100)
    pe = analysis.preemphasis(x, 0.97)
    np.testing.assert_allclose(pe, np.concatenate([[x[0]], x[1:] - 0.97 * x[:-1]]), rtol=1e-12)
    d = analysis.delay(x, 3)
    np.testing.assert_array_equal(d, np.concatenate([np.zeros(3), x[:-3]]))
    np.testing.assert_array_equal(analysis.delay(x, 0), x)


def test_random_phase_keeps_length_and_roughly_the_magnitude():
    s = speech_like(1.0)
    r = analysis.resynthesised_with_random_phase(s, rng=0)
    assert r.shape == s.shape and r.dtype == np.float64
    assert abs(metrics.snr(estimate=r, reference=s)) < 6  # the waveform is unrelated
    cfg = STFTConfig()
    m1, m2 = np.abs(stft(s, cfg)), np.abs(stft(r, cfg))
    assert np.corrcoef(np.log(m1.ravel() + 1e-6), np.log(m2.ravel() + 1e-6))[0, 1] > 0.8


def test_score_table_and_loss_scorer_agree_with_metrics():
    s = speech_like(1.0)
    ests = {"noisy": analysis.white_noise_at_snr(s, 10, rng=2),
            "half": 0.5 * analysis.white_noise_at_snr(s, 25, rng=3) + 0.01}
    table = analysis.score_table(s, ests, {
        "si_sdr": lambda e, r: metrics.si_sdr(estimate=e, reference=r),
        "loss": analysis.as_loss_scorer(losses.si_sdr_loss, eps=0.0),
    })
    assert list(table.index) == ["noisy", "half"] and list(table.columns) == ["si_sdr", "loss"]
    np.testing.assert_allclose(table["loss"], -table["si_sdr"], rtol=1e-9)
    # torch state untouched: no grad mode leak
    assert torch.is_grad_enabled()


# ----------------------------------------------------------------------------
# Diagnostics of an enhanced signal (C2, C7)
# ----------------------------------------------------------------------------
def test_level_difference_is_the_gain_in_db():
    s = speech_like(1.0, seed=2)
    assert analysis.level_difference_db(0.5 * s, s) == pytest.approx(20 * math.log10(0.5), abs=1e-9)
    assert analysis.level_difference_db(s, s) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="one length"):
        analysis.level_difference_db(s[:-1], s)
    with pytest.raises(ValueError, match="NaN"):
        analysis.level_difference_db(np.full_like(s, np.nan), s)


def test_absent_level_measures_the_pause_relative_to_speech():
    speech = speech_like(1.0, seed=1)
    pause = np.zeros(8000)
    s = np.concatenate([speech, pause, speech])
    rng = np.random.default_rng(0)
    residual = 1e-3 * rng.standard_normal(len(s))
    est = s + residual
    absent = analysis.speech_absent_mask(s, SR)
    level, _ = audio.active_level(s, SR)
    assert absent[16000:24000].all()
    expected = 10 * np.log10(np.mean(est[absent] ** 2)) - level
    assert analysis.absent_level_db(est, s) == pytest.approx(expected, abs=1e-9)
    # in the pause the estimate is only the residual: 20 dB less residual, about 20 dB lower
    only_pause = np.where(absent, 0.0, s)
    lvl = analysis.absent_level_db(only_pause + residual, only_pause)
    assert analysis.absent_level_db(only_pause + 0.1 * residual, only_pause) == pytest.approx(lvl - 20, abs=1e-6)
    assert math.isnan(analysis.absent_level_db(speech_like(1.0, seed=3) * 0 + 1.0, np.ones(16000)))


def test_band_level_errors_flat_for_a_gain_and_tilted_by_a_lowpass():
    rng = np.random.default_rng(4)
    s = rng.standard_normal(32000)
    flat = analysis.band_level_errors(3.0 * s, s)
    assert list(flat) == ["band_err_0_1", "band_err_1_2", "band_err_2_4", "band_err_4_8"]
    assert max(abs(v) for v in flat.values()) < 1e-9  # a gain is no colouration
    tilted = analysis.band_level_errors(analysis.lowpass(s, 2000.0), s)
    # white noise keeps a quarter of its power below 2 kHz: the kept band is +6 dB after levelling
    assert tilted["band_err_4_8"] < -30 and tilted["band_err_0_1"] == pytest.approx(10 * np.log10(4), abs=0.5)
    # independent re-derivation of one band with scipy's Welch estimate
    from scipy import signal as sg
    f, pe = sg.welch(analysis.lowpass(s, 2000.0), fs=SR, nperseg=512)
    _, pr = sg.welch(s, fs=SR, nperseg=512)
    sel = (f >= 1000) & (f < 2000)
    ref = 10 * np.log10(pe[sel].sum() / pr[sel].sum()) - 10 * np.log10(pe.sum() / pr.sum())
    assert tilted["band_err_1_2"] == pytest.approx(ref, abs=1e-9)


def test_band_noise_reduction_reads_what_is_left_per_band():
    from sedemo.evaluation.analysis import band_noise_reduction

    rng = np.random.default_rng(0)
    s, n = 0.1 * rng.standard_normal(32000), 0.1 * rng.standard_normal(32000)
    half = band_noise_reduction(s + 0.5 * n, s, s + n)
    np.testing.assert_allclose(half["reduction_db"], 20 * np.log10(2), atol=1e-9)  # a gain of 1/2 everywhere
    N = np.fft.rfft(n)
    f = np.fft.rfftfreq(len(n), 1 / 16000)
    high = np.fft.irfft(np.where(f >= 4500, N, 0), len(n))  # only the noise above 4.5 kHz is left
    t = band_noise_reduction(s + high, s, s + n)
    assert list(t.index) == ["0-1 kHz", "1-2 kHz", "2-4 kHz", "4-8 kHz"]
    assert (t["reduction_db"].iloc[:3] > 30).all() and 0 < t["reduction_db"].iloc[3] < 2
    with pytest.raises(ValueError, match="one length"):
        band_noise_reduction(s[:10], s, s + n)
