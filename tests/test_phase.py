"""sedemo.dsp.phase: properties of phase, phase derivatives, the histogram KL and the
neighbour predictability, each checked on signals whose answer is known."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sedemo.dsp import phase
from sedemo.dsp.stft import DEFAULT, STFTConfig, istft, stft

SR = 16000


def tone(f0, seconds=1.0, sr=SR, phi=0.3):
    n = np.arange(int(seconds * sr))
    return np.cos(2 * np.pi * f0 * n / sr + phi)


def random_spectrum(shape=(2, 33, 40), seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


# ------------------------------------------------------------------ wrapped / unwrapped
def test_wrapped_phase_range_and_types():
    X = random_spectrum()
    X[0, 0, :4] = [-1 + 0j, -1 - 0j, 1, 0]  # angles π, -π, 0 and the undefined 0
    th = phase.wrapped_phase(X)
    assert isinstance(th, np.ndarray) and th.shape == X.shape
    assert th.min() >= -np.pi and th.max() < np.pi
    assert th[0, 0, 0] == -np.pi and th[0, 0, 1] == -np.pi and th[0, 0, 3] == 0.0
    np.testing.assert_allclose(np.exp(1j * th), np.exp(1j * np.angle(X)), atol=1e-12)
    tt = phase.wrapped_phase(torch.from_numpy(X).to(torch.complex64))
    assert isinstance(tt, torch.Tensor) and tt.dtype == torch.float32
    # float32 has its own nearest value of π: the range is [-π, π) in float32
    assert tt.min() >= torch.tensor(-math.pi, dtype=torch.float32)
    assert tt.max() < torch.tensor(math.pi, dtype=torch.float32)
    with pytest.raises(TypeError, match="complex"):
        phase.wrapped_phase(np.abs(X))


def test_unwrap_matches_numpy():
    X = random_spectrum((3, 17, 50), seed=3)
    np.testing.assert_allclose(phase.unwrap_time(X), np.unwrap(np.angle(X), axis=-1), atol=1e-12)
    # a phase that grows steadily by 2.5 rad per frame (below π: unambiguous)
    ramp = np.exp(1j * 2.5 * np.arange(30))[None, :]
    np.testing.assert_allclose(phase.unwrap_time(ramp)[0], 2.5 * np.arange(30), atol=1e-9)
    t = phase.unwrap_time(torch.from_numpy(X))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), np.unwrap(np.angle(X), axis=-1), atol=1e-12)


@pytest.mark.parametrize("cfg, k", [(STFTConfig(n_fft=320, hop=40), 3),   # advance 3π/4 < π: true slope
                                    (DEFAULT, 8),                           # advance 8π: aliased to 0
                                    (STFTConfig(n_fft=512, hop=128), 5)])   # advance 5π/2: aliased to π/2
def test_unwrap_of_pure_tone_is_linear_with_expected_slope(cfg, k):
    f0 = k * cfg.sample_rate / cfg.n_fft  # exactly on the centre of bin k
    X = stft(tone(f0), cfg)
    edge = cfg.n_fft // cfg.hop + 1
    u = phase.unwrap_time(X)[k, edge:-edge]  # skip the zero-padded edge frames
    slope, intercept = np.polyfit(np.arange(u.size), u, 1)
    expected = phase.expected_advance(cfg, wrapped=True)[k]
    # straight up to the tiny leakage of the tone's negative-frequency image
    assert slope == pytest.approx(expected, abs=1e-4)
    assert np.abs(u - (slope * np.arange(u.size) + intercept)).max() < 0.02
    if 2 * np.pi * k * cfg.hop / cfg.n_fft < np.pi:
        assert slope == pytest.approx(phase.expected_advance(cfg)[k], abs=1e-4)
    # phase-vocoder unwrapping knows the advance: the true slope 2π k hop / n_fft
    v = phase.unwrap_time(X, cfg)[k, edge:-edge]
    slope, intercept = np.polyfit(np.arange(v.size), v, 1)
    assert slope == pytest.approx(phase.expected_advance(cfg)[k], abs=1e-4)
    assert np.abs(v - (slope * np.arange(v.size) + intercept)).max() < 0.02


def test_phase_vocoder_unwrap_of_off_centre_tone_and_demodulate():
    cfg = DEFAULT
    f0 = 1234.5
    X = stft(tone(f0), cfg)
    for k in (24, 25):  # 1200 and 1250 Hz: within 50 Hz of f0
        v = phase.unwrap_time(X, cfg)[k, 4:-4]
        slope = np.polyfit(np.arange(v.size), v, 1)[0]
        assert slope == pytest.approx(2 * np.pi * f0 * cfg.hop / cfg.sample_rate, abs=1e-3)
    lin = phase.expected_advance(cfg)[:, None] * np.arange(X.shape[-1])
    near = slice(20, 30)  # bins with energy (elsewhere steps of exactly ±π are ambiguous)
    np.testing.assert_allclose((phase.unwrap_time(X, cfg) - lin)[near],
                               phase.unwrap_time(phase.demodulate(X, cfg))[near], atol=1e-6)


def test_expected_advance_default_is_pi_k():
    adv = phase.expected_advance(DEFAULT)
    np.testing.assert_allclose(adv, np.pi * np.arange(DEFAULT.n_freqs))
    w = phase.expected_advance(DEFAULT, wrapped=True)
    np.testing.assert_allclose(w[::2], 0.0, atol=1e-9)
    np.testing.assert_allclose(w[1::2], -np.pi, atol=1e-9)


def test_demodulate_makes_bin_centred_tone_constant():
    cfg = DEFAULT
    k = 21  # odd bin: the raw phase flips by π every frame
    X = stft(tone(k * cfg.sample_rate / cfg.n_fft), cfg)
    raw = np.angle(X[k, 4:-4])
    assert np.abs(np.diff(np.unwrap(raw))).min() > 3.0
    d = np.angle(phase.demodulate(X, cfg)[k, 4:-4])
    assert np.abs(np.exp(1j * d) - np.exp(1j * d[0])).max() < 1e-9


# ------------------------------------------------------------------ phase derivatives
@pytest.mark.parametrize("f0", [1234.5, 777.0, 3010.0])
def test_instantaneous_frequency_recovers_off_centre_tone(f0):
    cfg = DEFAULT
    x = tone(f0)
    X = stft(x, cfg)
    inst = phase.instantaneous_frequency(X, cfg, absolute=True)
    assert inst.shape == (cfg.n_freqs, X.shape[-1] - 1)
    freqs = cfg.frequencies()
    near = np.flatnonzero(np.abs(freqs - f0) < 0.9 * cfg.sample_rate / (2 * cfg.hop))
    assert near.size >= 1
    frames = slice(4, -4)
    for k in near:
        assert np.abs(inst[k, frames] - f0).max() < 3.0, (k, freqs[k])
    dev = phase.instantaneous_frequency(X, cfg)
    np.testing.assert_allclose(dev + freqs[:, None], inst, atol=1e-9)
    # float32 / torch path
    t = phase.instantaneous_frequency(torch.from_numpy(X.astype(np.complex64)), cfg, absolute=True)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    assert np.abs(t.numpy()[near][:, frames] - f0).max() < 3.0


def test_instantaneous_frequency_aliases_beyond_half_hop_rate():
    cfg = DEFAULT
    X = stft(tone(1000.0), cfg)  # bin 20 exactly
    dev = phase.instantaneous_frequency(X, cfg)
    np.testing.assert_allclose(dev[20, 4:-4], 0.0, atol=1e-3)
    assert np.all(np.abs(dev) <= cfg.sample_rate / (2 * cfg.hop) + 1e-6)  # within [-50, 50] Hz


@pytest.mark.parametrize("d", [1000, 1077, 2345])
def test_group_delay_of_delayed_impulse(d):
    cfg = DEFAULT
    x = np.zeros(4000)
    x[d] = 1.0
    X = stft(x, cfg)
    gd_abs = phase.group_delay(X, cfg, absolute=True)
    gd = phase.group_delay(X, cfg)
    assert gd.shape == (cfg.n_freqs - 1, X.shape[-1])
    checked = 0
    for t in range(X.shape[-1]):
        start = t * cfg.hop - (cfg.n_fft - cfg.hop)
        n0 = d - start
        if not (5 <= n0 <= cfg.n_fft - 5):  # the impulse is well inside the window
            continue
        np.testing.assert_allclose(gd_abs[:, t], d, atol=1e-6)
        np.testing.assert_allclose(gd[:, t], n0 - cfg.n_fft / 2, atol=1e-6)
        checked += 1
    assert checked == 2  # 50 % overlap: every sample is in two frames


def test_derivatives_check_config():
    X = stft(tone(500.0), STFTConfig(n_fft=512, hop=256))
    with pytest.raises(ValueError, match="n_fft"):
        phase.instantaneous_frequency(X, DEFAULT)
    with pytest.raises(ValueError, match="n_fft"):
        phase.group_delay(X, DEFAULT)


# ------------------------------------------------------------------ histograms and KL
def test_kl_uniform_phase_is_near_zero_and_constant_phase_is_log_bins():
    rng = np.random.default_rng(0)
    n = 200_000
    X = np.exp(1j * rng.uniform(-np.pi, np.pi, n)) * rng.rayleigh(size=n)
    kl = phase.phase_histogram_kl(X, bins=64)
    assert 0 <= kl < 5 * 63 / (2 * n)  # a few times the finite-sample bias
    assert phase.phase_histogram_kl(X, bins=64, weight_by_magnitude=True) < 0.002
    const = np.full(1000, 2.0 * np.exp(1j * 0.7))
    assert phase.phase_histogram_kl(const, bins=64) == pytest.approx(np.log(64))
    peaked = np.exp(1j * rng.vonmises(0.0, 4.0, n))
    assert phase.phase_histogram_kl(peaked) > 0.5


def test_kl_real_feature_and_mask():
    rng = np.random.default_rng(1)
    u = rng.uniform(-3, 3, 100_000)
    assert phase.phase_histogram_kl(u, value_range=(-3, 3)) < 0.002
    lap = rng.laplace(size=100_000)
    assert phase.phase_histogram_kl(lap) > 0.5  # peaked over its central 99 %
    X = np.exp(1j * rng.uniform(-np.pi, np.pi, (10, 5000)))
    X[:5] = 1.0  # constant phase in the first rows
    mask = np.zeros(X.shape, bool)
    mask[5:] = True
    assert phase.phase_histogram_kl(X, mask=mask) < 0.005  # bias 63 / (2 * 25000) = 0.0013
    assert phase.phase_histogram_kl(X, mask=~mask) == pytest.approx(np.log(64))
    p, edges = phase.histogram(X, 16)
    assert p.shape == (16,) and edges.shape == (17,) and p.sum() == pytest.approx(1.0)
    assert edges[0] == pytest.approx(-np.pi) and edges[-1] == pytest.approx(np.pi)
    with pytest.raises(TypeError):
        phase.phase_histogram_kl(u, weight_by_magnitude=True)


# ------------------------------------------------------------------ predictability
def _reference_r2(v, offsets, mask=None):
    """Independent float64 least squares with explicit loops over the bins."""
    n_f, n_t = v.shape
    rows, ys = [], []
    for k in range(1, n_f - 1):
        for t in range(1, n_t - 1):
            if mask is not None and not mask[k, t]:
                continue
            rows.append([v[k + df, t + dt] for df, dt in offsets] + [1.0])
            ys.append(v[k, t])
    A = np.array(rows)
    y = np.array(ys)
    coef = np.linalg.solve(A.conj().T @ A, A.conj().T @ y)  # normal equations
    e = y - A @ coef
    return 1 - np.sum(np.abs(e) ** 2) / np.sum(np.abs(y - y.mean()) ** 2), A @ coef, y


def test_predictability_white_noise_is_zero_smooth_field_is_high():
    rng = np.random.default_rng(0)
    white = rng.standard_normal((161, 400))
    r = phase.neighbour_predictability(white)
    assert abs(r.r2) < 0.01 and r.resultant_length is None
    assert r.n_bins == 159 * 398 and r.coef.shape == (9,)
    f = np.linspace(0, 4, 161)[:, None]
    t = np.linspace(0, 6, 400)[None, :]
    smooth = np.sin(2 * f) * np.cos(1.5 * t) + 0.3 * f + 0.01 * rng.standard_normal((161, 400))
    assert phase.neighbour_predictability(smooth).r2 > 0.99
    assert phase.neighbour_predictability(smooth, neighbours="causal").r2 > 0.99
    # uniform random phase: nothing to predict, linearly or circularly
    theta = rng.uniform(-np.pi, np.pi, (161, 400))
    assert abs(phase.neighbour_predictability(theta).r2) < 0.01
    c = phase.neighbour_predictability(theta, circular=True)
    assert abs(c.r2) < 0.01 and c.resultant_length < 0.05


@pytest.mark.parametrize("neighbours", ["all8", "causal"])
def test_predictability_agrees_with_independent_least_squares(neighbours):
    rng = np.random.default_rng(5)
    v = np.cumsum(rng.standard_normal((12, 15)), axis=1) + rng.standard_normal((12, 15))
    mask = rng.random((12, 15)) > 0.3
    offsets = phase.NEIGHBOURHOODS[neighbours]
    for m in (None, mask):
        ref, _, _ = _reference_r2(v, offsets, m)
        got = phase.neighbour_predictability(v, neighbours=neighbours, mask=m)
        assert got.r2 == pytest.approx(ref, abs=1e-10)
        # torch float32 input: the fit is still float64
        got_t = phase.neighbour_predictability(torch.from_numpy(v.astype(np.float32)), neighbours=neighbours, mask=m)
        assert got_t.r2 == pytest.approx(ref, abs=1e-5)
    # complex values: complex weights
    z = v + 1j * np.cumsum(rng.standard_normal((12, 15)), axis=0)
    ref, pred, y = _reference_r2(z, offsets)
    got = phase.neighbour_predictability(z, neighbours=neighbours)
    assert got.r2 == pytest.approx(ref, abs=1e-10)
    assert got.resultant_length == pytest.approx(abs(np.mean(np.exp(1j * (np.angle(y) - np.angle(pred))))), abs=1e-10)
    # circular: the same on unit phasors
    th = np.angle(z)
    ref, pred, y = _reference_r2(np.exp(1j * th), offsets)
    got = phase.neighbour_predictability(th, neighbours=neighbours, circular=True)
    assert got.r2 == pytest.approx(ref, abs=1e-10)
    assert got.resultant_length == pytest.approx(abs(np.mean(np.exp(1j * (np.angle(y) - np.angle(pred))))), abs=1e-10)


def test_circular_prediction_is_fair_to_a_wrapping_phase():
    # a phase that advances 2.9 rad per frame: perfectly predictable as an angle,
    # but wraps almost every frame, so a linear R² on the wrapped numbers is low
    k = np.arange(40)[:, None]
    t = np.arange(60)[None, :]
    theta = np.angle(np.exp(1j * (2.9 * t + 0.4 * k)))
    lin = phase.neighbour_predictability(theta)
    circ = phase.neighbour_predictability(theta, circular=True)
    assert circ.r2 > 0.999 and circ.resultant_length > 0.999
    assert lin.r2 < 0.9


def test_predictability_input_checks():
    with pytest.raises(ValueError, match="neighbours"):
        phase.neighbour_predictability(np.zeros((5, 5)), neighbours="4")
    with pytest.raises(ValueError, match="constant"):
        phase.neighbour_predictability(np.ones((10, 10)))
    with pytest.raises(ValueError, match="NaN"):
        phase.neighbour_predictability(np.full((5, 5), np.nan))


# ------------------------------------------------------------------ listening helpers
def test_combine_reconstructs_and_swaps(speech, noise):
    S = stft(speech)
    Y = stft(speech + noise)
    np.testing.assert_allclose(phase.combine(S, S), S, rtol=1e-12, atol=1e-15)
    St = torch.from_numpy(S.astype(np.complex64))
    out = phase.combine(St, St)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.complex64
    np.testing.assert_allclose(out.numpy(), St.numpy(), rtol=1e-6, atol=1e-7)
    sy = phase.combine(S, Y)
    np.testing.assert_allclose(np.abs(sy), np.abs(S), rtol=1e-12, atol=1e-15)
    nz = np.abs(S) > 1e-9
    np.testing.assert_allclose(np.angle(sy[nz] * np.conj(Y[nz])), 0.0, atol=1e-9)
    # real magnitude in, phase 0 where the phase source is 0
    out = phase.combine(np.abs(S), np.zeros_like(S))
    np.testing.assert_allclose(out, np.abs(S))
    x = istft(phase.combine(S, S), length=len(speech))
    np.testing.assert_allclose(x, speech, atol=1e-12)


def test_random_phase_keeps_magnitude_and_is_uniform(speech):
    S = stft(speech)
    R = phase.random_phase(S, rng=0)
    assert R.shape == S.shape and np.iscomplexobj(R)
    np.testing.assert_allclose(np.abs(R), np.abs(S), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(phase.random_phase(S, rng=0), R)  # seeded
    assert phase.phase_histogram_kl(R, mask=np.abs(S) > 0) < 0.01
    Rt = phase.random_phase(torch.from_numpy(S.astype(np.complex64)), rng=np.random.default_rng(1))
    assert isinstance(Rt, torch.Tensor) and Rt.dtype == torch.complex64


def test_active_bins():
    X = np.array([[1.0, 0.1, 0.001, 0.0]])
    np.testing.assert_array_equal(phase.active_bins(X, 30), [[True, True, False, False]])
    assert not phase.active_bins(np.zeros((3, 3))).any()


def test_stft_of_white_noise_has_window_redundancy_only():
    """The control of chapter 4: neighbouring bins of an STFT are correlated by the
    window alone (sqrt-Hann: weights -0.5 on k±1), but frames carry no prediction."""
    X = stft(np.random.default_rng(2).standard_normal(5 * SR))
    same_frame = phase.neighbour_predictability(X.real)
    assert 0.4 < same_frame.r2 < 0.6
    np.testing.assert_allclose(same_frame.coef[[3, 4]], -0.5, atol=0.05)  # (k-1, t), (k+1, t)
    assert abs(phase.neighbour_predictability(X.real, neighbours="previous_frame").r2) < 0.01
    assert phase.neighbour_predictability(np.log(np.abs(X)), neighbours="previous_frame").r2 < 0.02
