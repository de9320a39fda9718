"""Oracle masks (sedemo.masks): each one against an independent float64 NumPy
re-derivation written here from the formulas of GUIDEBOOK section 3."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sedemo import masks
from sedemo.dsp.stft import istft, stft

RTOL = 1e-12


def _spectra(shape=(2, 33, 40), seed=0, noise_scale=1.0):
    rng = np.random.default_rng(seed)
    s = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    n = noise_scale * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    return s, n, s + n


def _with_silence(s, n):
    """Zero a block of bins in S and N (hence in Y) and cancel S exactly in another."""
    s, n = s.copy(), n.copy()
    s[..., :3, :5] = 0
    n[..., :3, :5] = 0
    n[..., 5, 7] = -s[..., 5, 7]  # Y = 0 while S != 0
    return s, n, s + n


# ---------------------------------------------------------------- re-derivations
def ref_ibm(s, n, lc):
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = 10 * np.log10(np.abs(s) ** 2 / np.abs(n) ** 2)
    return (snr > lc).astype(float)


def ref_irm(s, n, beta):
    with np.errstate(invalid="ignore"):
        return (np.abs(s) ** 2 / (np.abs(s) ** 2 + np.abs(n) ** 2)) ** beta


def ref_iam(s, y, top):
    return np.clip(np.abs(s) / np.abs(y), 0, top)


def ref_psm(s, y, top):
    return np.clip(np.abs(s) / np.abs(y) * np.cos(np.angle(s) - np.angle(y)), 0, top)


def ref_compress(x, K, C):
    return K * (1 - np.exp(-C * x)) / (1 + np.exp(-C * x))


# ---------------------------------------------------------------- formulas
@pytest.mark.parametrize("lc", [-5.0, 0.0, 3.0])
def test_ibm_matches_formula(lc):
    s, n, _ = _spectra()
    np.testing.assert_array_equal(masks.ibm(clean=s, noise=n, lc_db=lc), ref_ibm(s, n, lc))


def test_ibm_monotonic_in_lc():
    s, n, _ = _spectra()
    prev = None
    for lc in np.linspace(-20, 20, 9):
        m = masks.ibm(clean=s, noise=n, lc_db=float(lc))
        assert set(np.unique(m)) <= {0.0, 1.0}
        if prev is not None:
            assert np.all(m <= prev)
        prev = m
    assert prev.sum() < masks.ibm(clean=s, noise=n, lc_db=-20.0).sum()


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_irm_matches_formula(beta):
    s, n, _ = _spectra()
    np.testing.assert_allclose(masks.irm(clean=s, noise=n, beta=beta), ref_irm(s, n, beta), rtol=RTOL)


def test_irm_beta1_is_wiener_gain():
    s, n, _ = _spectra()
    ps, pn = np.abs(s) ** 2, np.abs(n) ** 2
    np.testing.assert_allclose(masks.irm(clean=s, noise=n, beta=1.0), ps / (ps + pn), rtol=RTOL)


@pytest.mark.parametrize("top", [1.0, 2.0, 10.0])
def test_iam_matches_formula_and_clips(top):
    s, _, y = _spectra(noise_scale=1.5)
    ratio = np.abs(s) / np.abs(y)
    assert (ratio > top).any() and (ratio < top).any()  # both branches exercised
    got = masks.iam(clean=s, mixture=y, max_value=top)
    np.testing.assert_allclose(got, ref_iam(s, y, top), rtol=RTOL)
    assert got.max() == top
    assert masks.smm is masks.iam


@pytest.mark.parametrize("top", [1.0, 2.0])
def test_psm_matches_formula_and_truncates(top):
    s, _, y = _spectra(noise_scale=1.5)
    raw = np.abs(s) / np.abs(y) * np.cos(np.angle(s) - np.angle(y))
    assert (raw < 0).any() and (raw > top).any()
    got = masks.psm(clean=s, mixture=y, max_value=top)
    np.testing.assert_allclose(got, ref_psm(s, y, top), rtol=RTOL, atol=1e-15)
    assert got.min() == 0.0 and got.max() == top


def test_cirm_is_exact_ratio_and_reconstructs():
    s, _, y = _spectra()
    m = masks.cirm(clean=s, mixture=y)
    assert np.iscomplexobj(m)
    np.testing.assert_allclose(m, s / y, rtol=RTOL)
    np.testing.assert_allclose(masks.apply_mask(m, y), s, rtol=1e-12, atol=0)


def test_compressed_cirm_matches_formula_and_roundtrips():
    s, _, y = _spectra(noise_scale=2.0)
    K, C = 10.0, 0.1
    m = s / y
    mc = masks.cirm(clean=s, mixture=y, compress=True, K=K, C=C)
    np.testing.assert_allclose(mc.real, ref_compress(m.real, K, C), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(mc.imag, ref_compress(m.imag, K, C), rtol=1e-10, atol=1e-13)
    assert np.abs(mc.real).max() < K and np.abs(mc.imag).max() < K
    # literal inverse formula of the brief
    x = mc.real
    np.testing.assert_allclose(masks.uncompress_cirm(x, K, C), -(1 / C) * np.log((K - x) / (K + x)),
                               rtol=1e-9, atol=1e-12)
    back = masks.uncompress_cirm(mc, K=K, C=C)
    np.testing.assert_allclose(back, m, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(masks.apply_mask(back, y), s, rtol=1e-6)


def test_uncompress_clips_large_components():
    K, C = 10.0, 0.1
    limit = (2 / C) * np.arctanh(1 - masks.UNCOMPRESS_MARGIN)
    assert 140 < limit < 150
    big = np.array([1e3, -1e3, 50.0, -50.0])
    mc = ref_compress(big, K, C)
    back = masks.uncompress_cirm(mc, K, C)
    np.testing.assert_allclose(back[:2], [limit, -limit], rtol=1e-6)
    np.testing.assert_allclose(back[2:], big[2:], rtol=1e-9)
    assert np.isfinite(masks.uncompress_cirm(np.array([K, -K, 2 * K]), K, C)).all()
    # the compression itself never overflows (tanh form), even for huge ratios
    s = np.array([[1e30 + 0j, -1e30 + 1e30j]])
    y = np.array([[1.0 + 0j, 1.0 + 0j]])
    mc = masks.cirm(clean=s, mixture=y, compress=True)
    np.testing.assert_array_equal(mc, [[K + 0j, -K + K * 1j]])


def test_cirm_roundtrip_through_waveform(speech, noise):
    y_wave = speech + noise
    S, Y = stft(speech), stft(y_wave)
    m = masks.uncompress_cirm(masks.cirm(clean=S, mixture=Y, compress=True))
    rec = istft(masks.apply_mask(m, Y), length=len(speech))
    # float32 STFT: tight but not float64-exact
    assert np.max(np.abs(rec - speech)) < 1e-4


# ---------------------------------------------------------------- silent bins
def test_finite_and_defined_on_silent_bins():
    s, n, y = _with_silence(*_spectra()[:2])
    out = {name: masks.oracle_mask(name, clean=s, noise=n) for name in masks.ORACLE_MASKS}
    for name, m in out.items():
        assert np.isfinite(m).all(), name
        assert np.all(m[..., :3, :5] == 0), name  # |S| = |N| = |Y| = 0 -> 0
    for name in ("IAM", "PSM", "cIRM"):  # Y = 0, S != 0 -> 0
        assert np.all(out[name][..., 5, 7] == 0), name
    assert np.isfinite(masks.cirm(clean=s, mixture=y, compress=True)).all()
    # IBM where only the noise is zero: SNR = +inf -> 1
    n2 = n.copy()
    n2[..., 10, 10] = 0
    assert np.all(masks.ibm(clean=s, noise=n2, lc_db=30.0)[..., 10, 10] == 1)
    # exactness elsewhere is untouched
    ok = y != 0
    m = masks.cirm(clean=s, mixture=y)
    np.testing.assert_allclose((m * y)[ok], s[ok], rtol=1e-12)
    np.testing.assert_allclose(masks.irm(clean=s, noise=n)[..., 3:, :], ref_irm(s, n, 0.5)[..., 3:, :], rtol=RTOL)


def test_silent_bins_give_no_nan_gradient():
    s, n, y = _with_silence(*_spectra((8, 9), seed=3)[:2])
    st = torch.tensor(s, requires_grad=True)
    loss = masks.irm(clean=st, noise=torch.tensor(n)).sum() + masks.psm(clean=st, mixture=torch.tensor(y)).sum()
    loss = loss + masks.cirm(clean=st, mixture=torch.tensor(y)).abs().sum()
    loss.backward()
    assert torch.isfinite(st.grad).all()


# ---------------------------------------------------------------- types and errors
def test_numpy_and_torch_agree_and_types_follow_input():
    s, n, y = _spectra()
    for name in masks.ORACLE_MASKS:
        a = masks.oracle_mask(name, clean=s, noise=n)
        b = masks.oracle_mask(name, clean=torch.from_numpy(s), noise=torch.from_numpy(n))
        assert isinstance(a, np.ndarray) and isinstance(b, torch.Tensor)
        np.testing.assert_allclose(b.numpy(), a, rtol=1e-12, atol=1e-15)
    s32, y32 = s.astype(np.complex64), y.astype(np.complex64)
    assert masks.iam(clean=s32, mixture=y32).dtype == np.float32
    assert masks.cirm(clean=s32, mixture=y32).dtype == np.complex64
    mixed = masks.irm(clean=s, noise=torch.from_numpy(n))
    assert isinstance(mixed, torch.Tensor)
    assert isinstance(masks.apply_mask(masks.iam(clean=s, mixture=y), y), np.ndarray)


def test_oracle_mask_derives_the_missing_spectrum():
    s, n, y = _spectra()
    for name in masks.ORACLE_MASKS:
        np.testing.assert_allclose(masks.oracle_mask(name, clean=s, mixture=y),
                                   masks.oracle_mask(name, clean=s, noise=n), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(masks.oracle_mask("IRM", clean=s, noise=n, beta=1.0),
                               ref_irm(s, n, 1.0), rtol=RTOL)
    with pytest.raises(ValueError, match="choose one of"):
        masks.oracle_mask("XYZ", clean=s, noise=n)


def test_keyword_errors_are_clear():
    s, n, y = _spectra((3, 4))
    with pytest.raises(TypeError, match=r"noise.*ibm\(clean=S, noise=N"):
        masks.ibm(clean=s)
    with pytest.raises(TypeError, match="keyword-only"):
        masks.irm(s, n)
    with pytest.raises(TypeError, match=r"mixture=clean \+ noise"):
        masks.psm(clean=s, noise=n)
    with pytest.raises(TypeError, match=r"noise=mixture - clean"):
        masks.irm(clean=s, mixture=y)
    with pytest.raises(TypeError, match="complex"):
        masks.psm(clean=np.abs(s), mixture=y)
    with pytest.raises(ValueError, match="same"):
        masks.iam(clean=s, mixture=y[:, :2])
    with pytest.raises(ValueError, match="beta"):
        masks.irm(clean=s, noise=n, beta=0)
    with pytest.raises(ValueError, match="NaN"):
        masks.iam(clean=s * np.nan, mixture=y)
    with pytest.raises(ValueError, match="broadcast"):
        masks.apply_mask(np.ones((2, 2)), y)


def test_suppression_gain_multiplies_the_attenuation_in_db():
    # a bin attenuated by a dB loses (1 + gamma) a dB after the gain; passed bins stay
    m = np.array([[0.1, 0.5, 1.0, 1.7]]) * np.exp(1j * np.array([[0.3, -2.0, 1.0, 0.0]]))
    for gamma in (0.0, 0.5, 1.0):
        g = masks.suppression_gain(m, gamma)
        assert isinstance(g, np.ndarray) and g.dtype.kind == "f" and g.shape == m.shape
        out_db = 20 * np.log10(np.abs(m * g))
        np.testing.assert_allclose(out_db[0, :2], (1 + gamma) * 20 * np.log10(np.abs(m[0, :2])), rtol=1e-12)
        np.testing.assert_allclose(g[0, 2:], 1.0, rtol=1e-12)
    gt = masks.suppression_gain(torch.tensor(m), 1.0)
    assert isinstance(gt, torch.Tensor)
    np.testing.assert_allclose(gt.numpy(), np.minimum(np.abs(m), 1.0), rtol=1e-12)


@pytest.mark.parametrize("gamma", [-0.5, float("nan"), float("inf"), True, "1"])
def test_suppression_gain_refuses_a_bad_gamma(gamma):
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        masks.suppression_gain(np.ones((2, 3)), gamma)


def test_suppression_gain_refuses_nan_masks():
    with pytest.raises(ValueError, match="NaN"):
        masks.suppression_gain(np.array([np.nan, 0.5]), 1.0)
