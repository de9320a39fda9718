"""Tests of sedemo.metrics: independent re-derivations, agreement with the
reference packages, known properties, and every error message."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pesq as pesq_package
import pystoi
import pytest
import torch
from scipy.linalg import solve_toeplitz

from sedemo import metrics as M

SR = 16000


# ----------------------------------------------------------------------------
# Independent float64 re-derivations (different code paths on purpose)
# ----------------------------------------------------------------------------
def ref_snr(est, ref):
    return 10 * np.log10(np.dot(ref, ref) / np.dot(ref - est, ref - est))


def ref_alpha(est, ref):
    # least-squares gain of the reference that best explains the estimate
    return np.linalg.lstsq(ref[:, None], est, rcond=None)[0][0]


def ref_si_sdr(est, ref):
    est, ref = est - np.mean(est), ref - np.mean(ref)
    a = ref_alpha(est, ref)
    return 10 * np.log10(np.linalg.norm(a * ref) ** 2 / np.linalg.norm(a * ref - est) ** 2)


def ref_sd_sdr(est, ref):
    est, ref = est - np.mean(est), ref - np.mean(ref)
    a = ref_alpha(est, ref)
    return 10 * np.log10(np.linalg.norm(a * ref) ** 2 / np.linalg.norm(ref - est) ** 2)


def ref_seg_snr(est, ref, sr=SR, frame_ms=30.0, hop_ms=7.5, lo=-10.0, hi=35.0):
    n, h = round(frame_ms * sr / 1000), round(hop_ms * sr / 1000)
    w = np.hanning(n + 2)[1:-1]  # MATLAB hanning(n): no zero end points
    vals = []
    start = 0
    while start + n <= len(ref):
        s = w * ref[start : start + n]
        e = w * (ref[start : start + n] - est[start : start + n])
        es, ee = np.dot(s, s), np.dot(e, e)
        if ee == 0:
            v = hi
        elif es == 0:
            v = lo
        else:
            v = min(max(10 * np.log10(es / ee), lo), hi)
        vals.append(v)
        start += h
    return float(np.mean(vals))


@pytest.fixture
def random_pair():
    rng = np.random.default_rng(7)
    ref = rng.standard_normal(SR) + 0.3
    return ref + 0.4 * rng.standard_normal(SR) - 0.1, ref


@pytest.fixture
def speech_pair(speech, noise):
    return 0.8 * speech + 0.3 * noise, speech


PAIRS = ["random_pair", "speech_pair"]


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize(
    "metric, reference_impl",
    [(M.snr, ref_snr), (M.si_sdr, ref_si_sdr), (M.sd_sdr, ref_sd_sdr), (M.seg_snr, ref_seg_snr)],
)
def test_energy_metrics_match_rederivation(pair, metric, reference_impl, request):
    est, ref = request.getfixturevalue(pair)
    got = metric(estimate=est, reference=ref)
    assert isinstance(got, float)
    assert got == pytest.approx(reference_impl(est, ref), rel=1e-9, abs=1e-12)


def test_seg_snr_matches_rederivation_other_settings(speech_pair):
    est, ref = speech_pair
    kw = dict(frame_ms=20.0, hop_ms=10.0, min_db=-20.0, max_db=40.0)
    got = M.seg_snr(estimate=est, reference=ref, sample_rate=SR, **kw)
    want = ref_seg_snr(est, ref, SR, 20.0, 10.0, -20.0, 40.0)
    assert got == pytest.approx(want, rel=1e-9)


# ----------------------------------------------------------------------------
# Reference packages, torch vs NumPy
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["wb", "nb"])
def test_pesq_equals_package(speech, noise, mode):
    est = speech + 0.05 * noise
    want = pesq_package.pesq(SR, speech, est, mode)
    assert M.pesq(estimate=est, reference=speech, sample_rate=SR, mode=mode) == want
    got_t = M.pesq(estimate=torch.from_numpy(est), reference=torch.from_numpy(speech),
                   sample_rate=SR, mode=mode)
    assert got_t == want


def test_pesq_nb_at_8k(speech):
    x = speech[::2]  # crude decimation is fine: only agreement with the package is tested
    est = x + 0.01 * np.random.default_rng(3).standard_normal(x.shape[0])
    assert M.pesq(estimate=est, reference=x, sample_rate=8000, mode="nb") == \
        pesq_package.pesq(8000, x, est, "nb")


@pytest.mark.parametrize("extended", [False, True])
def test_stoi_equals_pystoi(speech, noise, extended):
    est = speech + 0.2 * noise
    want = pystoi.stoi(speech, est, SR, extended=extended)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 3-s clip must not warn
        got = M.stoi(estimate=est, reference=speech, sample_rate=SR, extended=extended)
        got_t = M.stoi(estimate=torch.from_numpy(est), reference=torch.from_numpy(speech),
                       sample_rate=SR, extended=extended)
    # ESTOI adds machine-epsilon random noise inside pystoi: compare to 1e-9
    assert got == pytest.approx(want, rel=1e-9)
    assert got_t == pytest.approx(got, rel=1e-9)
    assert 0.0 < got < 1.0


@pytest.mark.parametrize("name", ["snr", "si_sdr", "sd_sdr", "seg_snr", "cepstral_distance"])
def test_torch_and_numpy_identical(speech_pair, name):
    est, ref = speech_pair
    f = getattr(M, name)
    want = f(estimate=est, reference=ref)
    assert f(estimate=torch.from_numpy(est), reference=torch.from_numpy(ref)) == want
    # float32 in NumPy and torch give the same (float64) computation
    e32, r32 = est.astype(np.float32), ref.astype(np.float32)
    assert f(estimate=torch.from_numpy(e32), reference=torch.from_numpy(r32)) == \
        f(estimate=e32, reference=r32)
    # a tensor that requires grad is fine too, and so is bfloat16
    t = torch.from_numpy(est).requires_grad_(True)
    assert f(estimate=t, reference=ref) == want
    assert np.isfinite(f(estimate=torch.from_numpy(est).bfloat16(), reference=ref))


# ----------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------
def test_si_sdr_scale_invariant_snr_and_sd_sdr_not(speech_pair):
    est, ref = speech_pair
    base = {f: getattr(M, f)(estimate=est, reference=ref) for f in ("si_sdr", "sd_sdr", "snr")}
    for g in (0.1, 10.0, -3.0):
        assert M.si_sdr(estimate=g * est, reference=ref) == pytest.approx(base["si_sdr"], rel=1e-9)
        assert abs(M.snr(estimate=g * est, reference=ref) - base["snr"]) > 1.0
        assert abs(M.sd_sdr(estimate=g * est, reference=ref) - base["sd_sdr"]) > 1.0


@pytest.mark.parametrize("g", [0.5, 2.0, 0.9])
def test_sd_sdr_of_a_pure_gain(speech, g):
    # SD-SDR(g s) = 20 log10(|g| / |1 - g|); SI-SDR is +inf-like, SNR = -20 log10|1 - g|
    assert M.sd_sdr(estimate=g * speech, reference=speech) == pytest.approx(
        20 * np.log10(g / abs(1 - g)), rel=1e-9, abs=1e-9)
    assert M.snr(estimate=g * speech, reference=speech) == pytest.approx(
        -20 * np.log10(abs(1 - g)), rel=1e-9)
    assert M.si_sdr(estimate=g * speech, reference=speech) > 100


@pytest.mark.parametrize("target_db", [-5.0, 0.0, 10.0, 20.0])
def test_si_sdr_of_reference_plus_white_noise(speech, target_db):
    n = np.random.default_rng(11).standard_normal(speech.shape[0])
    n *= np.sqrt(np.sum(speech**2) / np.sum(n**2) / 10 ** (target_db / 10))
    assert M.snr(estimate=speech + n, reference=speech) == pytest.approx(target_db, abs=1e-9)
    assert M.si_sdr(estimate=speech + n, reference=speech) == pytest.approx(target_db, abs=0.2)


@pytest.mark.parametrize("r", [1e-3, 0.1, 1.0, 7.0])
def test_si_sdr_orthogonal_error_is_exact(speech, r):
    """ŝ = s + e with e ⟂ s (after mean removal) and ||e||² = r ||s||²: α = 1, so
    SI-SDR = -10 log10 r exactly (Le Roux et al. 2019)."""
    s0 = speech - speech.mean()
    e = np.random.default_rng(5).standard_normal(speech.shape[0])
    e -= e.mean()
    e -= np.dot(e, s0) / np.dot(s0, s0) * s0
    e *= np.sqrt(r * np.dot(s0, s0) / np.dot(e, e))
    assert M.si_sdr(estimate=speech + e, reference=speech) == pytest.approx(-10 * np.log10(r), rel=1e-9, abs=1e-9)
    # a DC offset on top changes nothing (zero-mean convention) ...
    assert M.si_sdr(estimate=speech + e + 0.3, reference=speech) == pytest.approx(-10 * np.log10(r), rel=1e-9, abs=1e-9)
    # ... but SNR counts it as noise
    assert M.snr(estimate=speech + e + 0.3, reference=speech) < M.snr(estimate=speech + e, reference=speech)


def test_perfect_estimate(speech):
    assert M.snr(estimate=speech, reference=speech) == math.inf
    assert M.si_sdr(estimate=speech, reference=speech) > 100
    assert M.sd_sdr(estimate=speech, reference=speech) > 100
    assert M.seg_snr(estimate=speech, reference=speech) == 35.0
    assert M.cepstral_distance(estimate=speech, reference=speech) == pytest.approx(0.0, abs=1e-9)
    assert M.pesq(estimate=speech, reference=speech, sample_rate=SR, mode="wb") > 4.4
    assert M.stoi(estimate=speech, reference=speech, sample_rate=SR) > 0.99
    assert M.stoi(estimate=speech, reference=speech, sample_rate=SR, extended=True) > 0.99


def test_metrics_worse_for_noisier_estimate(speech, noise):
    light = dict(estimate=speech + 0.05 * noise, reference=speech)
    heavy = dict(estimate=speech + 0.5 * noise, reference=speech)
    assert M.cepstral_distance(**heavy) > M.cepstral_distance(**light) > 0.0
    for name in ("snr", "si_sdr", "sd_sdr", "seg_snr"):
        assert getattr(M, name)(**heavy) < getattr(M, name)(**light)
    assert M.stoi(**heavy, sample_rate=SR) < M.stoi(**light, sample_rate=SR)
    assert M.pesq(**heavy, sample_rate=SR) < M.pesq(**light, sample_rate=SR)


def test_cepstral_distance_range_and_gain_invariance(speech, noise):
    assert M.cepstral_distance(estimate=3.0 * speech, reference=speech) == pytest.approx(0.0, abs=1e-6)
    v = M.cepstral_distance(estimate=noise, reference=speech)
    assert 0.0 < v <= 10.0
    # order 10 at 8 kHz is the default; an explicit order is accepted
    assert M.cepstral_distance(estimate=speech + 0.1 * noise, reference=speech, order=10) > 0


def test_lpc_against_toeplitz_solver_and_fft_cepstrum(speech):
    """The private LPC pieces against independent routes: normal equations solved by
    scipy, and the cepstrum of 1/A from the FFT of log|1/A(e^jω)|."""
    p, n = 16, 480
    frame = speech[1800 : 1800 + n] * np.hanning(n + 2)[1:-1]
    r = np.array([np.dot(frame[: n - k], frame[k:]) for k in range(p + 1)])
    a = M._levinson(r[None, :], p)[0]
    assert a[0] == 1.0
    np.testing.assert_allclose(-a[1:], solve_toeplitz(r[:p], r[1 : p + 1]), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(M._autocorrelation(frame[None, :], p)[0], r, rtol=1e-12)
    c = M._lpc_cepstrum(a[None, :])[0]
    nfft = 1 << 14
    log_mag = -np.log(np.abs(np.fft.fft(a, nfft)))  # log|1/A|
    real_cep = np.fft.ifft(log_mag).real  # = c_k / 2 for k >= 1 (minimum phase)
    np.testing.assert_allclose(c, 2 * real_cep[1 : p + 1], rtol=1e-6, atol=1e-9)


def test_lpc_degenerate_frames():
    a = M._levinson(np.zeros((1, 5)), 4)  # all-zero frame -> flat model
    np.testing.assert_array_equal(a, [[1, 0, 0, 0, 0]])
    t = np.arange(480)
    x = np.cos(0.3 * t)[None, :]  # perfectly predictable: must stay finite
    a = M._levinson(M._autocorrelation(x, 16), 16)
    assert np.all(np.isfinite(a))


def test_seg_snr_clipping(speech, noise):
    # every frame far below min_db -> exactly min_db
    assert M.seg_snr(estimate=speech + 1000 * noise, reference=speech) == -10.0
    # perfect -> exactly max_db, whatever max_db is
    assert M.seg_snr(estimate=speech, reference=speech, max_db=100.0) == 100.0
    # bounds are respected in between
    v = M.seg_snr(estimate=speech + 0.3 * noise, reference=speech, min_db=-5.0, max_db=20.0)
    assert -5.0 < v < 20.0
    # lowering min_db can only lower the mean (silent reference frames sit at min_db)
    lo = M.seg_snr(estimate=speech + 0.3 * noise, reference=speech, min_db=-30.0)
    assert lo < M.seg_snr(estimate=speech + 0.3 * noise, reference=speech)


def test_all_zero_estimate_conventions(noise, speech):
    ref = noise  # no silent frames
    zero = np.zeros_like(ref)
    assert M.snr(estimate=zero, reference=ref) == 0.0
    assert M.si_sdr(estimate=zero, reference=ref) == -math.inf
    assert M.sd_sdr(estimate=zero, reference=ref) == -math.inf
    assert M.seg_snr(estimate=zero, reference=ref) == pytest.approx(0.0, abs=1e-12)
    assert 0.0 <= M.cepstral_distance(estimate=zero, reference=ref) <= 10.0
    with pytest.raises(ValueError, match="all zeros"):
        M.pesq(estimate=np.zeros_like(speech), reference=speech, sample_rate=SR)


def test_score(speech, noise):
    est = speech + 0.1 * noise
    res = M.score(estimate=est, reference=speech)
    assert set(res) == set(M.METRICS)
    assert all(isinstance(v, float) for v in res.values())
    assert res["si_sdr"] == M.si_sdr(estimate=est, reference=speech)
    assert res["cd"] == M.cepstral_distance(estimate=est, reference=speech)
    assert res["pesq_nb"] == pesq_package.pesq(SR, speech, est, "nb")
    assert res["stoi"] == pystoi.stoi(speech, est, SR)
    for key, info in M.METRICS.items():
        lo, hi = info.range
        assert lo <= res[key] <= hi, key
        assert info.higher_is_better == (key != "cd")
    with pytest.raises(ValueError, match="16000"):
        M.score(estimate=est[::2], reference=speech[::2], sample_rate=8000)
    assert M.score(estimate=est, reference=speech, which=["si_sdr"]) == {"si_sdr": res["si_sdr"]}
    with pytest.raises(ValueError, match="choose from"):
        M.score(estimate=est, reference=speech, which=["mos"])
    assert M.METRICS["si_sdr"].label == "SI-SDR (dB)" and M.METRICS["pesq_wb"].label == "PESQ-WB"


# ----------------------------------------------------------------------------
# Errors and warnings
# ----------------------------------------------------------------------------
def _call(name, est, ref):
    kw = dict(estimate=est, reference=ref)
    if name in ("pesq", "stoi"):
        kw["sample_rate"] = SR
    return getattr(M, name)(**kw)


ALL = ["snr", "si_sdr", "sd_sdr", "seg_snr", "pesq", "stoi", "cepstral_distance", "score"]


@pytest.mark.parametrize("name", ALL)
def test_error_mismatched_lengths(speech, name):
    with pytest.raises(ValueError, match=r"same length.*47000.*48000.*trim"):
        _call(name, speech[:47000], speech)


@pytest.mark.parametrize("name", ALL)
def test_error_silent_reference(speech, name):
    with pytest.raises(ValueError, match="reference is silent"):
        _call(name, speech, np.zeros_like(speech))
    with pytest.raises(ValueError, match="reference is silent"):
        _call(name, speech, np.full_like(speech, 1e-9))


@pytest.mark.parametrize("name", ALL)
def test_error_nan_and_inf(speech, name):
    bad = speech.copy()
    bad[100] = np.nan
    with pytest.raises(ValueError, match="estimate contains 1 NaN"):
        _call(name, bad, speech)
    bad[100] = np.inf
    with pytest.raises(ValueError, match="reference contains 1 NaN or infinite"):
        _call(name, speech, bad)


@pytest.mark.parametrize("name", ALL)
def test_error_stereo(speech, name):
    stereo = np.stack([speech, speech])
    with pytest.raises(ValueError, match=r"mono 1-D.*\(2, 48000\).*mean\(axis=0\)"):
        _call(name, stereo, stereo)
    with pytest.raises(ValueError, match="mono 1-D"):
        _call(name, torch.from_numpy(speech)[None, :], speech)


def test_error_constant_reference_for_zero_mean_metrics(speech):
    with pytest.raises(ValueError, match="constant"):
        M.si_sdr(estimate=speech, reference=np.ones_like(speech))
    assert M.snr(estimate=np.ones_like(speech), reference=np.ones_like(speech)) == math.inf


@pytest.mark.parametrize("rate", [44100, 48000, 22050])
def test_pesq_error_unsupported_rate(speech, rate):
    with pytest.raises(ValueError, match=rf"16000 Hz.*sedemo\.dsp\.audio\.resample\(x, {rate}, 16000\)"):
        M.pesq(estimate=speech, reference=speech, sample_rate=rate)
    with pytest.raises(ValueError, match=r"8000 or 16000 Hz.*resample"):
        M.pesq(estimate=speech, reference=speech, sample_rate=rate, mode="nb")


def test_pesq_error_wb_at_8k_and_bad_mode(speech):
    with pytest.raises(ValueError, match=r"needs a sample rate of 16000.*mode='nb'"):
        M.pesq(estimate=speech, reference=speech, sample_rate=8000, mode="wb")
    with pytest.raises(ValueError, match="mode must be 'wb'"):
        M.pesq(estimate=speech, reference=speech, sample_rate=SR, mode="WB")


def test_pesq_package_error_becomes_value_error(speech):
    with pytest.raises(ValueError, match=r"too short.*0\.25 s"):
        M.pesq(estimate=speech[:2000], reference=speech[:2000], sample_rate=SR)


@pytest.mark.parametrize("rate, exc", [(16000.0, TypeError), ("16k", TypeError), (True, TypeError),
                                       (0, ValueError), (-16000, ValueError)])
def test_error_bad_sample_rate(speech, rate, exc):
    for f in (M.pesq, M.stoi, M.seg_snr, M.cepstral_distance):
        with pytest.raises(exc, match="sample_rate must be a positive int"):
            f(estimate=speech, reference=speech, sample_rate=rate)


def test_keyword_only_and_misc_errors(speech):
    with pytest.raises(TypeError):
        M.snr(speech, speech)  # estimate/reference are keyword-only
    with pytest.raises(TypeError, match="complex"):
        M.snr(estimate=speech.astype(complex), reference=speech)
    with pytest.raises(ValueError, match="shorter than one analysis frame"):
        M.seg_snr(estimate=speech[2000:2300], reference=speech[2000:2300])
    with pytest.raises(ValueError, match="min_db < max_db"):
        M.seg_snr(estimate=speech, reference=speech, min_db=10.0, max_db=0.0)
    with pytest.raises(ValueError, match="order must be a positive int"):
        M.cepstral_distance(estimate=speech, reference=speech, order=0)


@pytest.mark.parametrize("extended", [False, True])
def test_stoi_short_clip_warns(speech, noise, extended):
    # 0.4 s holds fewer than 30 frames of 25.6 ms: not one 384-ms segment
    n = int(0.4 * SR)
    ref, est = speech[:n], speech[:n] + 0.1 * noise[:n]
    with pytest.warns(UserWarning, match=r"too short for a reliable value.*NOT a measurement"):
        got = M.stoi(estimate=est, reference=ref, sample_rate=SR, extended=extended)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert got == pystoi.stoi(ref, est, SR, extended=extended) == 1e-5


# ----------------------------------------------------------------------------
# The input gate (issue 17): integers, short clips, extreme levels
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_integer_and_boolean_samples_are_refused(speech, noise, name):
    """Regression: an int16 estimate against a float reference gave SNR -90 dB instead of +9 dB."""
    est = speech + 0.35 * noise
    pcm = np.round(est * 32767).astype(np.int16)
    with pytest.raises(ValueError, match=r"estimate holds integer samples \(int16\).*/ 32768"):
        _call(name, pcm, speech)
    with pytest.raises(TypeError, match=r"reference holds integer samples \(int32\)"):
        _call(name, est, torch.from_numpy(pcm.astype(np.int32)))
    with pytest.raises(ValueError, match=r"estimate holds booleans"):
        _call(name, est > 0, speech)
    assert M.snr(estimate=pcm / 32768, reference=speech) == pytest.approx(M.snr(estimate=est, reference=speech), abs=0.01)


def test_channels_last_is_named(speech):
    stereo = np.stack([speech, speech], axis=1)
    with pytest.raises(ValueError, match=r"snr: estimate has shape \(48000, 2\).*channels last.*mean\(axis=1\)"):
        M.snr(estimate=stereo, reference=speech)


@pytest.mark.parametrize("extended", [False, True])
def test_stoi_clip_shorter_than_a_frame_names_the_minimum(speech, extended):
    """Regression: pystoi raised numpy's AxisError on clips shorter than one frame."""
    x = speech[6000:]  # speech, not a pause
    for n, rate, minimum in ((409, SR, 410), (204, 8000, 205), (256, 10000, 257)):
        with pytest.raises(ValueError, match=rf"stoi: the signals are too short, {n} samples.*at least {minimum} samples"):
            M.stoi(estimate=x[:n], reference=x[:n], sample_rate=rate, extended=extended)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert M.stoi(estimate=x[:minimum], reference=x[:minimum], sample_rate=rate) == 1e-5


def test_short_clips_name_their_minimum(speech):
    with pytest.raises(ValueError, match=r"pesq: the signals are too short, 3999 samples.*at least 4000 samples \(0\.25 s"):
        M.pesq(estimate=speech[:3999], reference=speech[:3999], sample_rate=SR)
    with pytest.raises(ValueError, match=r"si_sdr: the signals are too short, 1 samples.*at least 2 samples"):
        M.si_sdr(estimate=speech[100:101], reference=speech[100:101])


@pytest.mark.parametrize("gain", [1e200, 1e-200, 3e30, -1e155])
def test_level_blind_metrics_work_at_any_level(speech, noise, gain):
    """Regression: 1e200 gave NaN (SI-SDR, STOI), nonsense (CD 1.43 instead of 0.68) or
    'math domain error' (SNR); the level-blind metrics now give the same value."""
    est = speech + 0.35 * noise
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings either
        assert M.si_sdr(estimate=gain * est, reference=speech) == pytest.approx(
            M.si_sdr(estimate=est, reference=speech), rel=1e-9)
        assert M.cepstral_distance(estimate=gain * est, reference=speech) == pytest.approx(
            M.cepstral_distance(estimate=est, reference=speech), rel=1e-9)
        assert M.stoi(estimate=gain * est, reference=speech, sample_rate=SR) == pytest.approx(
            M.stoi(estimate=est, reference=speech, sample_rate=SR), abs=1e-6)
        for f in (M.snr, M.sd_sdr, M.si_sdr):  # a common level changes nothing
            assert f(estimate=2.0**660 * est, reference=2.0**660 * speech) == f(estimate=est, reference=speech)


def test_level_dependent_metrics_refuse_levels_1e144_apart(speech, noise):
    est = speech + 0.35 * noise
    for f in (M.snr, M.sd_sdr):
        with pytest.raises(ValueError, match=r"estimate peaks at \d\.\d+e\+199 and the reference at 0\.5.*1e144"):
            f(estimate=1e200 * est, reference=speech)
    assert M.snr(estimate=1e100 * est, reference=speech) == pytest.approx(
        -2000.0 + 20 * np.log10(np.linalg.norm(speech) / np.linalg.norm(est)), abs=1e-6)
    assert M.pesq(estimate=1e200 * est, reference=speech, sample_rate=SR) == pytest.approx(
        M.pesq(estimate=est, reference=speech, sample_rate=SR), abs=0.01)
