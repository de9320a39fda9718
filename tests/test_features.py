"""Tests of sedemo.dsp.features against independent float64 NumPy derivations."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sedemo.dsp import features as F
from sedemo.dsp.stft import stft

SR = 16000


@pytest.fixture
def spec(speech):
    return stft(speech)  # complex128 (161, 300)


# ------------------------------------------------------------- magnitude domain
def test_magnitude_power_log_power(spec):
    ref_mag = np.sqrt(spec.real**2 + spec.imag**2)
    np.testing.assert_allclose(F.magnitude(spec), ref_mag, rtol=1e-12)
    np.testing.assert_allclose(F.power(spec), ref_mag**2, rtol=1e-12)
    ref = 10 * np.log10(np.maximum(ref_mag**2, 10 ** (-120 / 10)))
    np.testing.assert_allclose(F.log_power(spec), ref, rtol=1e-12, atol=1e-9)
    z = np.zeros((161, 3), dtype=complex)
    assert np.all(F.log_power(z) == -120.0) and np.all(F.log_power(z, floor_db=-80) == -80.0)
    t = F.log_power(torch.from_numpy(spec).to(torch.complex64))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), ref, atol=1e-3)


@pytest.mark.parametrize("c", [0.3, 0.5, 1.0])
def test_compress_matches_numpy_and_inverts(spec, c):
    ref = np.abs(spec) ** c * np.exp(1j * np.angle(spec))
    out = F.compress(spec, c)
    assert np.iscomplexobj(out)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(F.decompress(out, c), spec, rtol=1e-10, atol=1e-15)
    mag = np.abs(spec)
    np.testing.assert_allclose(F.compress(mag, c), mag**c, rtol=1e-12)
    np.testing.assert_allclose(F.decompress(F.compress(mag, c), c), mag, rtol=1e-10, atol=1e-15)


def test_compress_zero_and_torch_gradients():
    z = torch.tensor([0.0 + 0.0j, 3.0 + 4.0j], dtype=torch.complex64)
    out = F.compress(z, 0.5)
    assert torch.allclose(out, torch.tensor([0.0 + 0.0j, (3 + 4j) / 5**0.5], dtype=torch.complex64))
    assert torch.equal(F.decompress(torch.zeros(3, dtype=torch.complex64)), torch.zeros(3, dtype=torch.complex64))
    x = torch.tensor([0.0 + 0.0j, 1.0 - 2.0j], requires_grad=True)
    F.compress(x, 0.3, eps=1e-12).abs().sum().backward()
    assert torch.isfinite(torch.view_as_real(x.grad)).all()
    with pytest.raises(ValueError, match="c must be > 0"):
        F.compress(z, 0.0)


# -------------------------------------------------------------------- mel scale
def test_mel_scale_htk():
    f = np.array([0.0, 700.0, 1000.0, 8000.0])
    np.testing.assert_allclose(F.hz_to_mel(f), 2595 * np.log10(1 + f / 700))
    np.testing.assert_allclose(F.mel_to_hz(F.hz_to_mel(f)), f, atol=1e-9)
    assert isinstance(F.hz_to_mel(1000.0), float)
    assert F.hz_to_mel(700.0) == pytest.approx(2595 * np.log10(2))


def test_mel_filterbank_shape_peaks_and_centres():
    fb = F.mel_filterbank(40, 320, SR)
    assert fb.shape == (40, 161) and fb.dtype == torch.float32
    assert torch.allclose(fb.max(dim=1).values, torch.ones(40))
    assert (fb >= 0).all()
    centres = F.mel_frequencies(40, 0.0, 8000.0)
    mel = 2595 * np.log10(1 + centres / 700)
    np.testing.assert_allclose(np.diff(mel), np.diff(mel)[0])  # equally spaced in mel
    assert np.all(np.diff(centres) > 0)
    assert np.diff(mel)[0] == pytest.approx(2595 * np.log10(1 + 8000 / 700) / 41)
    # each band is nonzero only strictly between its neighbours' centres
    edges = np.concatenate([[0.0], centres, [8000.0]])
    freqs = np.arange(161) * SR / 320
    for m in range(40):
        nz = freqs[fb[m].numpy() > 0]
        assert nz.min() > edges[m] - 1e-9 and nz.max() < edges[m + 2] + 1e-9
    with pytest.raises(ValueError, match="covers no STFT bin"):
        F.mel_filterbank(128, 320, SR)


# ------------------------------------------------------------ ERB / gammatone
def test_erb_formulas_against_numpy():
    f = np.array([50.0, 1000.0, 4000.0])
    np.testing.assert_allclose(F.erb(f), 24.7 * (4.37 * f / 1000 + 1))
    np.testing.assert_allclose(F.erb_rate(f), 21.4 * np.log10(4.37e-3 * f + 1))
    np.testing.assert_allclose(F.erb_rate_to_hz(F.erb_rate(f)), f)
    assert F.erb(1000.0) == pytest.approx(132.639)


def test_erb_space_and_gammatone_filterbank():
    centres = F.erb_space(50.0, 8000.0, 32)
    e = np.linspace(21.4 * np.log10(4.37e-3 * 50 + 1), 21.4 * np.log10(4.37e-3 * 8000 + 1), 32)
    np.testing.assert_allclose(centres, (10 ** (e / 21.4) - 1) / 4.37e-3)
    assert centres[0] == pytest.approx(50.0) and centres[-1] == pytest.approx(8000.0)
    assert np.all(np.diff(centres) > 0)
    fb = F.gammatone_filterbank(32, 320, SR)
    assert fb.shape == (32, 161)
    assert torch.allclose(fb.max(dim=1).values, torch.ones(32)) and (fb > 0).all()
    # magnitude response of a 4th-order gammatone, independently: peak near fc,
    # 1/(1 + ((f - fc)/b)^2)^2 shape away from DC, b = 1.019 ERB(fc)
    freqs = np.arange(161) * 50.0
    for i in (12, 20, 28):
        fc, b = centres[i], 1.019 * 24.7 * (4.37e-3 * centres[i] + 1)
        shape = (1 + ((freqs - fc) / b) ** 2) ** -2
        np.testing.assert_allclose(fb[i].numpy(), shape / shape.max(), atol=2e-3)
        assert abs(freqs[np.argmax(fb[i].numpy())] - fc) <= 25.0  # peak at the bin nearest fc
    # bands widen with frequency: count of bins above half maximum grows
    widths = (fb > 0.5).sum(dim=1).numpy()
    assert widths[-2] > widths[10] >= widths[0]


@pytest.mark.parametrize("kind", ["mel", "gammatone"])
def test_pure_tone_excites_nearest_band(kind):
    if kind == "mel":
        fb, centres = F.mel_filterbank(40), F.mel_frequencies(40, 0.0, 8000.0)
    else:
        fb, centres = F.gammatone_filterbank(32), F.erb_space(50.0, 8000.0, 32)
    rng = np.random.default_rng(0)
    t = np.arange(SR // 4) / SR
    for band in range(4, len(centres) - 2, 3):
        # a tone a little off the centre, still nearest to it
        f = centres[band] + rng.uniform(-0.2, 0.2) * (centres[band + 1] - centres[band - 1]) / 2
        assert np.argmin(np.abs(centres - f)) == band
        energies = F.apply_filterbank(fb, F.magnitude(stft(np.sin(2 * np.pi * f * t))))
        assert int(np.argmax(energies[:, 5:-5].mean(axis=1))) == band


def test_apply_filterbank_shapes_and_errors(spec):
    fb = F.mel_filterbank(40)
    mag = np.abs(spec)
    out = F.apply_filterbank(fb, mag)
    assert isinstance(out, np.ndarray) and out.shape == (40, spec.shape[-1])
    np.testing.assert_allclose(out, fb.numpy().astype(np.float64) @ mag)
    batch = F.apply_filterbank(fb, torch.rand(2, 3, 161, 7))
    assert batch.shape == (2, 3, 40, 7)
    with pytest.raises(TypeError, match="real magnitude or power"):
        F.apply_filterbank(fb, spec)
    with pytest.raises(ValueError, match="same F"):
        F.apply_filterbank(fb, np.ones((257, 4)))


# ------------------------------------------------------------ splice, normalize
def test_splice_content_interior_and_edges():
    d, n = 3, 8
    x = np.arange(d * n, dtype=np.float64).reshape(d, n)
    out = F.splice(x, left=2, right=1)
    assert out.shape == (d * 4, n)
    for t in range(n):
        expected = np.concatenate([x[:, min(max(s, 0), n - 1)] for s in (t - 2, t - 1, t, t + 1)])
        np.testing.assert_array_equal(out[:, t], expected)
    np.testing.assert_array_equal(out[:, 0], np.concatenate([x[:, 0]] * 3 + [x[:, 1]]))  # left edge
    np.testing.assert_array_equal(out[:, -1], np.concatenate([x[:, 5], x[:, 6], x[:, 7], x[:, 7]]))
    np.testing.assert_array_equal(F.splice(x), x)
    tb = F.splice(torch.rand(2, 5, d, n), 1, 0)
    assert isinstance(tb, torch.Tensor) and tb.shape == (2, 5, 2 * d, n)
    with pytest.raises(ValueError, match="integers >= 0"):
        F.splice(x, left=-1)


def test_splice_right_zero_is_causal():
    x = torch.randn(4, 20)
    base = F.splice(x, left=3, right=0)
    for t in range(19):
        y = x.clone()
        y[:, t + 1 :] = torch.randn(4, 19 - t) * 100  # change the future of frame t
        assert torch.equal(F.splice(y, left=3, right=0)[:, : t + 1], base[:, : t + 1])
    looked = F.splice(y, left=0, right=1)
    assert not torch.equal(looked[:, :19], F.splice(x, left=0, right=1)[:, :19])


def test_normalize_utterance_and_given_stats():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(2, 5, 400))
    normed, mean, std = F.normalize(x)
    assert mean.shape == (2, 5, 1) and std.shape == (2, 5, 1)
    np.testing.assert_allclose(normed.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(normed.std(axis=-1), 1, atol=1e-12)
    np.testing.assert_allclose(mean[..., 0], x.mean(axis=-1))
    again, m2, s2 = F.normalize(x[..., :50], mean, std)
    np.testing.assert_allclose(again, (x[..., :50] - mean) / std)
    assert np.array_equal(m2, mean)
    t, _, _ = F.normalize(torch.from_numpy(x), dim=(-2, -1))
    assert isinstance(t, torch.Tensor) and abs(float(t[0].mean())) < 1e-12
    const, _, _ = F.normalize(np.ones((2, 10)))
    assert np.all(const == 0)  # no division by zero


# ------------------------------------------------------------- the STFT's input gate
def test_stft_refuses_channels_last_and_integers():
    """Regression: stft turned (N, 2) stereo into (N, 161, 1) spectra of 2-sample signals,
    and scaled int16 samples by nothing."""
    stereo = np.zeros((16000, 2))
    with pytest.raises(ValueError, match=r"stft input has shape \(16000, 2\).*channels last.*x\.mean\(axis=-1\)"):
        stft(stereo)
    with pytest.raises(ValueError, match=r"integer samples \(int16\).*32768"):
        stft(np.ones(1000, dtype=np.int16))
    with pytest.raises(TypeError, match="complex"):
        stft(np.ones(1000, dtype=complex))
    with pytest.raises(ValueError, match="empty"):
        stft(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        stft(np.array([0.1, np.inf, 0.0]))
    # channels first is a batch of signals; short batches stay legal
    assert stft(stereo.T).shape == (2, 161, 100)
    assert stft(torch.zeros(3, 5)).shape == (3, 161, 1)
    assert stft(torch.zeros(4, 2, 800)).shape == (4, 2, 161, 5)
    with pytest.raises(ValueError, match="length must be a whole number"):
        from sedemo.dsp.stft import istft
        istft(stft(np.zeros(320)), length=-1)


def test_compress_scale_is_compress_in_real_arithmetic():
    from sedemo.dsp.features import compress, compress_scale

    g = torch.Generator().manual_seed(0)
    X = torch.complex(torch.randn(3, 9, 5, generator=g), torch.randn(3, 9, 5, generator=g))
    X[0, 0, 0] = 0
    s, mag2 = compress_scale(X.real, X.imag, 0.3)
    torch.testing.assert_close(torch.complex(X.real * s, X.imag * s), compress(X, 0.3))
    torch.testing.assert_close(mag2.sqrt() * s, X.abs().pow(0.3))
    assert torch.isfinite(s).all() and float(X.real[0, 0, 0] * s[0, 0, 0]) == 0.0
