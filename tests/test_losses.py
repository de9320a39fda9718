"""Tests of sedemo.losses: every loss against an independent float64 NumPy
re-derivation, agreement with sedemo.metrics, documented minima, finite gradients
on silent inputs, shape contracts, the registry, the STOI-like proxy's rank
agreement with pystoi and the embedding loss's determinism."""
from __future__ import annotations

import doctest
import importlib
import functools

import numpy as np
import pytest
import torch
from scipy.signal import lfilter
from scipy.stats import spearmanr

from sedemo import losses as L
from sedemo import masks, metrics
from sedemo.dsp.stft import STFTConfig

SR = 16000
RTOL = 1e-6

WAVEFORM_LOSSES = [n for n, keys in L.LOSS_INPUTS.items() if keys == ("estimate", "reference")]
MASK_LOSSES = ["ma", "sa", "psa", "csa"]
SPECTRA_LOSSES = [n for n, keys in L.LOSS_INPUTS.items() if keys == ("estimate_spec", "reference_spec")]


# ----------------------------------------------------------------------------
# Independent NumPy re-derivations (float64)
# ----------------------------------------------------------------------------
def np_window(n, kind):
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)  # periodic Hann
    return {"hann": hann, "sqrt_hann": np.sqrt(hann)}[kind]


def np_stft(x, n_fft=320, hop=160, window="sqrt_hann"):
    """(L,) -> (F, T): n_fft - hop zeros before, zeros after up to T = ceil(L/hop) hops."""
    n_frames = -(-len(x) // hop)
    padded = np.concatenate([np.zeros(n_fft - hop), x, np.zeros(n_frames * hop - len(x))])
    w = np_window(n_fft, window)
    frames = np.stack([padded[t * hop : t * hop + n_fft] * w for t in range(n_frames)], axis=1)
    return np.fft.rfft(frames, axis=0)


def np_compress(X, c):
    return np.abs(X) ** c * np.exp(1j * np.angle(X))


def np_mse(e, r):
    return np.mean((e - r) ** 2)


def np_mae(e, r):
    return np.mean(np.abs(e - r))


def np_spec(e, r, p, domain):
    E, R = np_stft(e), np_stft(r)
    if domain == "magnitude":
        return np.mean(np.abs(np.abs(E) - np.abs(R)) ** p)
    return np.mean(np.abs((E - R).real) ** p + np.abs((E - R).imag) ** p)


def np_compressed(e, r, c=0.3, lam=0.3):
    Ec, Rc = np_compress(np_stft(e), c), np_compress(np_stft(r), c)
    return lam * np.mean(np.abs(Ec - Rc) ** 2) + (1 - lam) * np.mean((np.abs(Ec) - np.abs(Rc)) ** 2)


def np_snr_loss(e, r, eps=0.0):
    return -10 * np.log10((np.dot(r, r) + eps) / (np.dot(r - e, r - e) + eps))


def np_ratio(e, r, eps=0.0):
    return (np.dot(r - e, r - e) + eps) / (np.dot(r, r) + eps)


def np_sdr_parts(e, r, eps):
    e, r = e - e.mean(), r - r.mean()
    alpha = np.dot(e, r) / (np.dot(r, r) + eps)
    return e, r, alpha * r


def np_si_sdr_loss(e, r, eps=0.0):
    e, r, t = np_sdr_parts(e, r, eps)
    return -10 * np.log10((np.dot(t, t) + eps) / (np.dot(t - e, t - e) + eps))


def np_sd_sdr_loss(e, r, eps=0.0):
    e, r, t = np_sdr_parts(e, r, eps)
    return -10 * np.log10((np.dot(t, t) + eps) / (np.dot(r - e, r - e) + eps))


def np_mr_stft(e, r, resolutions=((512, 128), (1024, 256), (256, 64))):
    total = 0.0
    for n_fft, hop in resolutions:
        me, mr = np.abs(np_stft(e, n_fft, hop, "hann")), np.abs(np_stft(r, n_fft, hop, "hann"))
        total += np.linalg.norm(mr - me) / np.linalg.norm(mr)
        total += np.mean(np.abs(np.log(mr) - np.log(me)))
    return total


def np_stoi_like(e, r, n_fft=512, hop=256, n_seg=30):
    freqs = np.arange(n_fft // 2 + 1) * SR / n_fft
    bands = []
    for j in range(15):
        centre = 150 * 2 ** (j / 3)
        bands.append(((freqs >= centre / 2 ** (1 / 6)) & (freqs < centre * 2 ** (1 / 6))).astype(float))
    B = np.array(bands)
    env_e = np.sqrt(B @ np.abs(np_stft(e, n_fft, hop, "hann")) ** 2)
    env_r = np.sqrt(B @ np.abs(np_stft(r, n_fft, hop, "hann")) ** 2)

    def norm(seg):
        seg = seg - seg.mean(axis=1, keepdims=True)
        seg = seg / np.linalg.norm(seg, axis=1, keepdims=True)
        seg = seg - seg.mean(axis=0, keepdims=True)
        return seg / np.linalg.norm(seg, axis=0, keepdims=True)

    d = [np.mean(np.sum(norm(env_r[:, m : m + n_seg]) * norm(env_e[:, m : m + n_seg]), axis=0))
         for m in range(env_r.shape[1] - n_seg + 1)]
    return 1 - np.mean(d)


def np_conv1d(x, w, b, dilation):
    c_out, c_in, k = w.shape
    pad = dilation * (k - 1) // 2
    xp = np.pad(x, ((0, 0), (pad, pad)))
    n = x.shape[1]
    out = np.tile(b[:, None], (1, n))
    for i in range(k):
        out += w[:, :, i] @ xp[:, i * dilation : i * dilation + n]
    return out


def np_embedding(e, r, net, p=1):
    mel = net.mel.double().numpy()

    def feats(x):
        h = np.log(mel @ np.abs(np_stft(x, 512, 160, "hann")) ** 2 + 1e-5)
        out = []
        for conv in net.convs:
            h = np.maximum(np_conv1d(h, conv.weight.double().numpy(), conv.bias.double().numpy(),
                                     conv.dilation[0]), 0.0)
            out.append(h)
        return out

    return np.mean([np.mean(np.abs(a - b) ** p) for a, b in zip(feats(e), feats(r))])


# ----------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These tensors are small: one thread avoids oversubscription on shared CPUs
    (restored afterwards, so other test modules are not affected)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pair():
    """Random float64 estimate/reference batches (3, 12000) as NumPy arrays."""
    rng = np.random.default_rng(7)
    r = rng.standard_normal((3, 12000)) * np.array([[0.3], [1.0], [0.05]])
    e = r + rng.standard_normal((3, 12000)) * np.array([[0.2], [0.5], [0.1]]) + 0.01
    return e, r


def t64(x):
    return torch.tensor(x, dtype=torch.float64)


def per_item(np_fn, e, r, **kw):
    return np.array([np_fn(ei, ri, **kw) for ei, ri in zip(e, r)])


REDERIVED = {
    "mse": (lambda **kw: L.mse(**kw), np_mse),
    "mae": (lambda **kw: L.mae(**kw), np_mae),
    "spectral_l1": (lambda **kw: L.spectral_l1(**kw), functools.partial(np_spec, p=1, domain="magnitude")),
    "spectral_l2": (lambda **kw: L.spectral_l2(**kw), functools.partial(np_spec, p=2, domain="magnitude")),
    "complex_l1": (lambda **kw: L.complex_l1(**kw), functools.partial(np_spec, p=1, domain="complex")),
    "complex_l2": (lambda **kw: L.complex_l2(**kw), functools.partial(np_spec, p=2, domain="complex")),
    "spectral_p1.5": (lambda **kw: L.spectral_loss(p=1.5, domain="complex", **kw),
                      functools.partial(np_spec, p=1.5, domain="complex")),
    "compressed": (lambda **kw: L.compressed_complex_loss(eps=0.0, **kw), np_compressed),
    "compressed_c05": (lambda **kw: L.compressed_complex_loss(c=0.5, lam=0.7, eps=0.0, **kw),
                       functools.partial(np_compressed, c=0.5, lam=0.7)),
    "snr": (lambda **kw: L.snr_loss(eps=0.0, **kw), np_snr_loss),
    "snr_eps": (lambda **kw: L.snr_loss(eps=1e-3, **kw), functools.partial(np_snr_loss, eps=1e-3)),
    "ratio_sdr": (lambda **kw: L.ratio_sdr_loss(eps=0.0, **kw), np_ratio),
    "ratio_sdr_eps": (lambda **kw: L.ratio_sdr_loss(eps=1e-3, **kw), functools.partial(np_ratio, eps=1e-3)),
    "si_sdr": (lambda **kw: L.si_sdr_loss(eps=0.0, **kw), np_si_sdr_loss),
    "si_sdr_eps": (lambda **kw: L.si_sdr_loss(eps=1e-3, **kw), functools.partial(np_si_sdr_loss, eps=1e-3)),
    "sd_sdr": (lambda **kw: L.sd_sdr_loss(eps=0.0, **kw), np_sd_sdr_loss),
    "sd_sdr_eps": (lambda **kw: L.sd_sdr_loss(eps=1e-3, **kw), functools.partial(np_sd_sdr_loss, eps=1e-3)),
    "mr_stft": (lambda **kw: L.multi_resolution_stft_loss(eps=0.0, **kw), np_mr_stft),
    "stoi_like": (lambda **kw: L.stoi_like_loss(eps=0.0, **kw), np_stoi_like),
    "si_sdr+compressed": (
        lambda **kw: L.si_sdr_compressed_loss(eps=0.0, weight=30.0, **kw),
        lambda e, r: np_si_sdr_loss(e, r) + 30.0 * np_compressed(e, r)),
}


# ----------------------------------------------------------------------------
# Equality with the re-derivations
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(REDERIVED))
def test_waveform_loss_matches_numpy(name, pair):
    e, r = pair
    fn, ref = REDERIVED[name]
    values = fn(estimate=t64(e), reference=t64(r), reduction="none")
    assert values.shape == (3,) and values.dtype == torch.float64
    np.testing.assert_allclose(values.numpy(), per_item(ref, e, r), rtol=RTOL, atol=1e-12)
    mean = fn(estimate=t64(e), reference=t64(r))
    assert mean.ndim == 0
    np.testing.assert_allclose(float(mean), per_item(ref, e, r).mean(), rtol=RTOL)
    total = fn(estimate=t64(e), reference=t64(r), reduction="sum")
    np.testing.assert_allclose(float(total), per_item(ref, e, r).sum(), rtol=RTOL)


def test_embedding_loss_matches_numpy(pair):
    e, r = pair
    loss = L.EmbeddingLoss(seed=3).double()
    for p in (1, 2):
        loss.p = p
        got = loss(estimate=t64(e), reference=t64(r), reduction="none").numpy()
        want = [np_embedding(ei, ri, loss.network, p=p) for ei, ri in zip(e, r)]
        np.testing.assert_allclose(got, want, rtol=RTOL)


@pytest.fixture(scope="module")
def spectra():
    """Complex128 STFT-like batches (2, 9, 11): clean S, noise N, mixture Y."""
    rng = np.random.default_rng(3)
    shape = (2, 9, 11)
    S = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    N = 0.7 * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    return S, N, S + N


def test_spectra_variants_match_numpy(spectra):
    S, N, Y = spectra
    E = S + 0.3 * N
    for p in (1, 2):
        got = L.spectral_loss_from_spectra(estimate_spec=E, reference_spec=S, p=p, reduction="none")
        np.testing.assert_allclose(got.numpy(), np.mean(np.abs(np.abs(E) - np.abs(S)) ** p, axis=(1, 2)), rtol=RTOL)
        got = L.spectral_loss_from_spectra(estimate_spec=E, reference_spec=S, p=p, domain="complex",
                                           reduction="none")
        d = E - S
        np.testing.assert_allclose(got.numpy(), np.mean(np.abs(d.real) ** p + np.abs(d.imag) ** p, axis=(1, 2)),
                                   rtol=RTOL)
    got = L.compressed_complex_loss_from_spectra(estimate_spec=E, reference_spec=S, eps=0.0, reduction="none")
    Ec, Sc = np_compress(E, 0.3), np_compress(S, 0.3)
    want = 0.3 * np.mean(np.abs(Ec - Sc) ** 2, axis=(1, 2)) + 0.7 * np.mean((np.abs(Ec) - np.abs(Sc)) ** 2, axis=(1, 2))
    np.testing.assert_allclose(got.numpy(), want, rtol=RTOL)


def test_mask_losses_match_numpy(spectra):
    S, N, Y = spectra
    rng = np.random.default_rng(4)
    M = rng.uniform(0, 1, S.shape)
    Mc = M * np.exp(1j * rng.uniform(-np.pi, np.pi, S.shape))
    target = np.sqrt(np.abs(S) ** 2 / (np.abs(S) ** 2 + np.abs(N) ** 2))
    dtheta = np.angle(S) - np.angle(Y)
    cases = {
        "ma": (dict(mask_estimate=M, mask_target=target), (M - target) ** 2),
        "ma_complex": (dict(mask_estimate=Mc, mask_target=S / Y), np.abs(Mc - S / Y) ** 2),
        "sa": (dict(mask_estimate=M, mixture=Y, clean=S), (M * np.abs(Y) - np.abs(S)) ** 2),
        "psa": (dict(mask_estimate=M, mixture=Y, clean=S), (M * np.abs(Y) - np.abs(S) * np.cos(dtheta)) ** 2),
        "csa": (dict(mask_estimate=Mc, mixture=Y, clean=S), np.abs(Mc * Y - S) ** 2),
        "csa_real_mask": (dict(mask_estimate=M, mixture=Y, clean=S), np.abs(M * Y - S) ** 2),
    }
    for case, (kw, sq) in cases.items():
        fn = L.LOSSES[case.split("_")[0]]
        got = fn(**{k: torch.from_numpy(v) for k, v in kw.items()}, reduction="none")
        np.testing.assert_allclose(got.numpy(), sq.mean(axis=(1, 2)), rtol=RTOL, err_msg=case)


# ----------------------------------------------------------------------------
# Relations between losses and with sedemo.metrics
# ----------------------------------------------------------------------------
def test_energy_losses_equal_minus_metrics(pair):
    e, r = pair
    for loss, metric in ((L.snr_loss, metrics.snr), (L.si_sdr_loss, metrics.si_sdr), (L.sd_sdr_loss, metrics.sd_sdr)):
        got = loss(estimate=t64(e), reference=t64(r), reduction="none").numpy()  # default eps
        want = [-metric(estimate=ei, reference=ri) for ei, ri in zip(e, r)]
        np.testing.assert_allclose(got, want, rtol=RTOL)
        # single item as (1, L), also in float32 (training precision)
        f32 = functools.partial(torch.tensor, dtype=torch.float32)
        one = loss(estimate=f32(e[:1]), reference=f32(r[:1]))
        np.testing.assert_allclose(float(one), want[0], rtol=1e-4)


def test_si_sdr_scale_invariant_snr_not(pair):
    e, r = pair
    base_si = L.si_sdr_loss(estimate=t64(e), reference=t64(r), reduction="none")
    base_snr = L.snr_loss(estimate=t64(e), reference=t64(r), reduction="none")
    for g in (0.1, 3.0, -2.0):
        scaled = t64(g * e)
        torch.testing.assert_close(L.si_sdr_loss(estimate=scaled, reference=t64(r), reduction="none"), base_si,
                                   rtol=RTOL, atol=0)
        assert (L.snr_loss(estimate=scaled, reference=t64(r), reduction="none") - base_snr).abs().min() > 0.5
    # an offset is ignored by the zero-mean SI-SDR/SD-SDR but not by SNR
    torch.testing.assert_close(L.si_sdr_loss(estimate=t64(e + 0.5), reference=t64(r)),
                               L.si_sdr_loss(estimate=t64(e), reference=t64(r)), rtol=RTOL, atol=0)
    assert L.snr_loss(estimate=t64(e + 0.5), reference=t64(r)) > L.snr_loss(estimate=t64(e), reference=t64(r)) + 0.1


def test_snr_is_log_of_ratio(pair):
    e, r = pair
    for eps in (0.0, 1e-8, 1.0):
        ratio = L.ratio_sdr_loss(estimate=t64(e), reference=t64(r), eps=eps, reduction="none")
        torch.testing.assert_close(L.snr_loss(estimate=t64(e), reference=t64(r), eps=eps, reduction="none"),
                                   10 * torch.log10(ratio), rtol=1e-10, atol=1e-10)


def test_gradient_share_log_vs_ratio():
    """Chapter 6 (C6): per dB of improvement, the log form weighs every utterance
    the same; the ratio form weighs each by 10^(-SNR/10) (0 dB: 100x a 20 dB item)."""
    rng = np.random.default_rng(0)
    s = t64(rng.standard_normal((2, 4000)))
    noise = t64(rng.standard_normal((2, 4000)))
    noise = noise * (s.norm(dim=1, keepdim=True) / noise.norm(dim=1, keepdim=True))
    noise = noise * torch.tensor([[1.0], [0.1]], dtype=torch.float64)  # 0 dB and 20 dB
    shares = {}
    for name, fn in (("log", L.snr_loss), ("ratio", L.ratio_sdr_loss)):
        kappa = torch.ones(2, 1, dtype=torch.float64, requires_grad=True)  # error scale per item
        fn(estimate=s + kappa * noise, reference=s, eps=0.0, reduction="sum").backward()
        shares[name] = kappa.grad[:, 0] / kappa.grad.sum()
    torch.testing.assert_close(shares["log"], torch.tensor([0.5, 0.5], dtype=torch.float64))
    torch.testing.assert_close(shares["ratio"], torch.tensor([100 / 101, 1 / 101], dtype=torch.float64))


def test_compressed_loss_special_cases(pair):
    e, r = t64(pair[0]), t64(pair[1])
    kw = dict(estimate=e, reference=r, eps=0.0, c=1.0)
    torch.testing.assert_close(L.compressed_complex_loss(lam=1.0, **kw), L.complex_l2(estimate=e, reference=r))
    torch.testing.assert_close(L.compressed_complex_loss(lam=0.0, **kw), L.spectral_l2(estimate=e, reference=r))
    # the default eps changes nothing measurable on ordinary signals
    torch.testing.assert_close(L.compressed_complex_loss(estimate=e, reference=r),
                               L.compressed_complex_loss(estimate=e, reference=r, eps=0.0), rtol=1e-6, atol=0)


def test_mr_stft_is_a_sum_over_resolutions(pair):
    e, r = t64(pair[0]), t64(pair[1])
    total = L.multi_resolution_stft_loss(estimate=e, reference=r)
    parts = sum(L.multi_resolution_stft_loss(estimate=e, reference=r, resolutions=[res])
                for res in L.MR_STFT_RESOLUTIONS)
    torch.testing.assert_close(total, parts)


def test_combined(pair):
    e, r = t64(pair[0]), t64(pair[1])
    comb = L.Combined([(1.0, L.si_sdr_loss), (30.0, "compressed_complex"), (0.5, ("mr_stft", {"eps": 0.0}))])
    want = (L.si_sdr_loss(estimate=e, reference=r) + 30 * L.compressed_complex_loss(estimate=e, reference=r)
            + 0.5 * L.multi_resolution_stft_loss(estimate=e, reference=r, eps=0.0))
    torch.testing.assert_close(comb(estimate=e, reference=r), want)
    torch.testing.assert_close(L.combined_loss(terms=comb.terms, estimate=e, reference=r), want)
    assert comb(estimate=e, reference=r, reduction="none").shape == (3,)
    parts = comb.parts(estimate=e, reference=r)
    assert len(parts) == 3 and "1*si_sdr_loss" in parts and "compressed_complex_loss" in " ".join(parts)
    torch.testing.assert_close(sum(parts.values()), want)
    # the named C7 combination is exactly SI-SDR + weight x compressed
    c7 = L.get_loss("si_sdr+compressed")(estimate=e, reference=r)
    torch.testing.assert_close(c7, L.si_sdr_loss(estimate=e, reference=r)
                               + L.SI_SDR_COMPRESSED_WEIGHT * L.compressed_complex_loss(estimate=e, reference=r))
    with pytest.raises(TypeError, match="pair"):
        L.Combined([L.mse])
    with pytest.raises(ValueError, match="choose one of"):
        L.Combined([(1.0, "nope")])


# ----------------------------------------------------------------------------
# Minimum at a perfect estimate
# ----------------------------------------------------------------------------
def documented_minimum(name, s):
    energy = float((s - s.mean(-1, keepdim=True)).square().sum(-1).mean()) if name in ("si_sdr", "sd_sdr", "si_sdr+compressed", "si_sdr+compressed+stoi") \
        else float(s.square().sum(-1).mean())
    eps = 1e-8
    if name == "snr":
        return -10 * np.log10((energy + eps) / eps)
    if name == "ratio_sdr":
        return eps / (energy + eps)
    if name in ("si_sdr", "sd_sdr", "si_sdr+compressed", "si_sdr+compressed+stoi"):
        return -10 * np.log10(energy / eps)
    if name in ("weak_frame", "weak_cell"):
        return -60.0  # floor_db: the exact estimate leaves no error in the weak frames
    return 0.0


@pytest.mark.parametrize("name", WAVEFORM_LOSSES)
def test_minimum_at_perfect_estimate(name):
    rng = np.random.default_rng(5)
    s = t64(0.1 * rng.standard_normal((1, 8000)))
    if name in ("weak_frame", "weak_cell"):  # they need frames (cells) 20-40 dB below the loudest
        s[:, 3000:5000] *= 0.03
    fn = L.get_loss(name)
    at_s = float(fn(estimate=s, reference=s))
    np.testing.assert_allclose(at_s, documented_minimum(name, s), atol=1e-4, rtol=1e-4)
    for scale in (0.01, 0.3):  # any error costs more
        assert float(fn(estimate=s + scale * t64(rng.standard_normal((1, 8000))), reference=s)) > at_s


def test_mask_losses_zero_at_ideal_masks(spectra):
    S, N, Y = (torch.from_numpy(x) for x in spectra)
    irm = masks.irm(clean=S, noise=N)
    assert float(L.mask_approximation_loss(mask_estimate=irm, mask_target=irm)) == 0.0
    unclipped_iam = masks.iam(clean=S, mixture=Y, max_value=1e9)
    assert float(L.signal_approximation_loss(mask_estimate=unclipped_iam, mixture=Y, clean=S)) < 1e-25
    psm_untruncated = masks.cirm(clean=S, mixture=Y).real
    assert float(L.phase_sensitive_approximation_loss(mask_estimate=psm_untruncated, mixture=Y, clean=S)) < 1e-25
    assert float(L.complex_signal_approximation_loss(mask_estimate=masks.cirm(clean=S, mixture=Y),
                                                     mixture=Y, clean=S)) < 1e-25


# ----------------------------------------------------------------------------
# Finite gradients on silent references and all-zero estimates
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", WAVEFORM_LOSSES)
@pytest.mark.parametrize("case", ["silent_reference", "zero_estimate", "both_zero"])
def test_gradients_finite_waveform(name, case):
    rng = np.random.default_rng(2)
    x = torch.tensor(0.1 * rng.standard_normal((2, 8000)), dtype=torch.float32)
    zero = torch.zeros(2, 8000)
    est, ref = {"silent_reference": (x, zero), "zero_estimate": (zero, x), "both_zero": (zero, zero)}[case]
    est = est.clone().requires_grad_(True)
    ref = ref.clone().requires_grad_(True)
    value = L.get_loss(name)(estimate=est, reference=ref)
    value.backward()
    assert torch.isfinite(value), f"{name} value {value} on {case}"
    assert torch.isfinite(est.grad).all(), f"{name}: NaN/inf estimate gradient on {case}"
    if ref.grad is not None:
        assert torch.isfinite(ref.grad).all(), f"{name}: NaN/inf reference gradient on {case}"


@pytest.mark.parametrize("name", MASK_LOSSES + SPECTRA_LOSSES)
@pytest.mark.parametrize("case", ["silent_clean", "zero_estimate", "all_zero"])
def test_gradients_finite_spectra(name, case, spectra):
    S, N, Y = (torch.from_numpy(x).to(torch.complex64) for x in spectra)
    zero = torch.zeros_like(S)
    clean = zero if case in ("silent_clean", "all_zero") else S
    mixture = zero if case == "all_zero" else Y
    is_complex = name in ("csa", "spectral_from_spectra", "compressed_complex_from_spectra")
    est = (zero if case != "silent_clean" else S) if is_complex else \
        (zero.real if case != "silent_clean" else S.abs())
    est = est.clone().requires_grad_(True)
    keys = L.LOSS_INPUTS[name]
    if keys == ("mask_estimate", "mask_target"):
        kw = dict(mask_estimate=est, mask_target=clean.abs())
    elif keys == ("estimate_spec", "reference_spec"):
        kw = dict(estimate_spec=est, reference_spec=clean)
    else:
        kw = dict(mask_estimate=est, mixture=mixture, clean=clean)
    value = L.get_loss(name)(**kw)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(est.grad).all(), f"{name} on {case}"


# ----------------------------------------------------------------------------
# Shape and type contracts
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", WAVEFORM_LOSSES)
def test_waveform_shape_errors(name):
    fn = L.get_loss(name)
    bad = [
        ((2, 8000), (2, 7999), "trim"),
        ((8000,), (8000,), "unsqueeze"),
        ((2, 1, 8000), (2, 1, 8000), "squeeze"),
        ((2, 8000), (3, 8000), None),
    ]
    for shape_e, shape_r, hint in bad:
        with pytest.raises(L.LossShapeError) as info:
            fn(estimate=torch.zeros(shape_e), reference=torch.zeros(shape_r))
        msg = str(info.value)
        assert str(shape_e) in msg and str(shape_r) in msg, msg
        assert "estimate" in msg and "reference" in msg
        if hint:
            assert hint in msg, msg
    assert issubclass(L.LossShapeError, TypeError) and issubclass(L.LossShapeError, ValueError)
    with pytest.raises(TypeError, match="complex"):
        fn(estimate=torch.zeros(2, 8000, dtype=torch.complex64), reference=torch.zeros(2, 8000))


def test_spectra_shape_and_type_errors(spectra):
    S, N, Y = (torch.from_numpy(x) for x in spectra)
    with pytest.raises(L.LossShapeError, match=r"mask_estimate \(2, 9, 10\).*mixture \(2, 9, 11\)"):
        L.signal_approximation_loss(mask_estimate=S.real[..., :10], mixture=Y, clean=S)
    with pytest.raises(L.LossShapeError, match=r"\(9, 11\).*unsqueeze"):
        L.mask_approximation_loss(mask_estimate=S.real[0], mask_target=S.real[0])
    with pytest.raises(TypeError, match="complex STFT"):
        L.phase_sensitive_approximation_loss(mask_estimate=S.real, mixture=Y.abs(), clean=S)
    with pytest.raises(TypeError, match="real"):
        L.signal_approximation_loss(mask_estimate=S, mixture=Y, clean=S)
    with pytest.raises(TypeError, match="complex STFT"):
        L.compressed_complex_loss_from_spectra(estimate_spec=S.abs(), reference_spec=S)
    with pytest.raises(L.LossShapeError, match=r"estimate_spec \(2, 9, 11\) and reference_spec \(2, 9, 10\)"):
        L.spectral_loss_from_spectra(estimate_spec=S, reference_spec=S[..., :10])
    with pytest.raises(TypeError, match="positional"):
        L.mse(torch.zeros(1, 4), torch.zeros(1, 4))


def test_option_errors():
    x = torch.zeros(1, 8000)
    with pytest.raises(ValueError, match="reduction"):
        L.mse(estimate=x, reference=x, reduction="avg")
    with pytest.raises(ValueError, match="eps"):
        L.si_sdr_loss(estimate=x, reference=x, eps=-1.0)
    with pytest.raises(ValueError, match="domain"):
        L.spectral_loss(estimate=x, reference=x, domain="phase")
    with pytest.raises(ValueError, match="c must"):
        L.compressed_complex_loss(estimate=x, reference=x, c=0.0)
    with pytest.raises(ValueError, match="segment"):
        L.stoi_like_loss(estimate=x[:, :4000], reference=x[:, :4000])
    with pytest.raises(ValueError, match="no STFT bin"):
        L.third_octave_bands(n_fft=128)


# ----------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------
def test_registry():
    with pytest.raises(ValueError) as info:
        L.get_loss("si-sdr")
    for valid in ("si_sdr", "mse", "compressed_complex", "stoi_like", "psa"):
        assert valid in str(info.value)
    with pytest.raises(TypeError, match="accepts .*eps"):
        L.get_loss("si_sdr", epsilon=1e-8)
    assert set(L.LOSS_INPUTS) == set(L.LOSSES)
    assert L.get_loss("mse") is L.mse
    bound = L.get_loss("compressed_complex", c=0.5, cfg=STFTConfig(512, 256))
    x, y = torch.randn(2, 4000), torch.randn(2, 4000)
    torch.testing.assert_close(bound(estimate=x, reference=y),
                               L.compressed_complex_loss(estimate=x, reference=y, c=0.5, cfg=STFTConfig(512, 256)))
    assert L.get_loss("sa") is L.signal_approximation_loss


# ----------------------------------------------------------------------------
# STOI-like loss vs pystoi
# ----------------------------------------------------------------------------
def test_stoi_like_rank_agrees_with_pystoi(speech):
    rng = np.random.default_rng(11)
    white = rng.standard_normal(len(speech))
    babble_like = lfilter([1.0], [1.0, -0.95], rng.standard_normal(len(speech)))  # low-pass, speech-band noise
    degraded = []
    for noise in (white, babble_like):
        for snr_db in (-10, -5, 0, 5, 15):
            n = noise * np.sqrt(np.sum(speech**2) / np.sum(noise**2) / 10 ** (snr_db / 10))
            degraded.append(speech + n)
    est = torch.tensor(np.stack(degraded))
    ref = torch.tensor(np.tile(speech, (len(degraded), 1)))
    proxy = -L.stoi_like_loss(estimate=est, reference=ref, reduction="none").numpy()
    estoi = np.array([metrics.stoi(estimate=d, reference=speech, sample_rate=SR, extended=True) for d in degraded])
    stoi = np.array([metrics.stoi(estimate=d, reference=speech, sample_rate=SR) for d in degraded])
    for k in (slice(0, 5), slice(5, 10)):  # 5 noise levels of one noise: the same ranking
        assert spearmanr(proxy[k], estoi[k])[0] > 0.8
        assert spearmanr(proxy[k], stoi[k])[0] > 0.8
    assert spearmanr(proxy, estoi)[0] > 0.8, (proxy, estoi)  # both noises together
    assert spearmanr(proxy, stoi)[0] > 0.8, (proxy, stoi)


# ----------------------------------------------------------------------------
# Embedding loss
# ----------------------------------------------------------------------------
def test_embedding_loss_deterministic_frozen(pair):
    e, r = torch.tensor(pair[0], dtype=torch.float32), torch.tensor(pair[1], dtype=torch.float32)
    torch.manual_seed(123)
    a = L.EmbeddingLoss(seed=0)(estimate=e, reference=r)
    torch.manual_seed(456)  # the global RNG plays no part
    b = L.EmbeddingLoss(seed=0)(estimate=e, reference=r)
    assert float(a) == float(b) and float(a) > 0
    assert float(L.EmbeddingLoss(seed=1)(estimate=e, reference=r)) != float(a)
    torch.testing.assert_close(L.embedding_loss(estimate=e, reference=r, seed=0), a)
    loss = L.EmbeddingLoss(seed=0)
    assert float(loss(estimate=r, reference=r)) == 0.0
    assert all(not p.requires_grad for p in loss.parameters())
    loss.train()
    assert not loss.network.training
    est = e.clone().requires_grad_(True)
    loss(estimate=est, reference=r).backward()
    assert torch.isfinite(est.grad).all() and est.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())


def test_embedding_loss_custom_network(pair):
    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(1, 4, 16, stride=8)

        def forward(self, x):
            return self.conv(x[:, None])

    enc = Encoder().double()
    e, r = t64(pair[0]), t64(pair[1])
    got = L.EmbeddingLoss(network=enc, p=2)(estimate=e, reference=r)
    assert not any(p.requires_grad for p in enc.parameters())
    torch.testing.assert_close(got, (enc(e) - enc(r)).square().mean())
    with pytest.raises(TypeError, match="nn.Module"):
        L.EmbeddingLoss(network=lambda x: x)


# ----------------------------------------------------------------------------
# Docstring examples
# ----------------------------------------------------------------------------
def test_docstring_examples():
    torch.manual_seed(0)
    attempted = 0
    for name in ("_contract", "waveform", "spectral", "masking", "perceptual", "combined", "registry"):
        result = doctest.testmod(importlib.import_module(f"sedemo.losses.{name}"), optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, name
        attempted += result.attempted
    assert attempted >= 15


def test_compressed_embedding_loss_is_the_weighted_sum():
    g = torch.Generator().manual_seed(3)
    s = torch.randn(2, 8000, generator=g, dtype=torch.float64) * 0.1
    e = s + 0.05 * torch.randn(2, 8000, generator=g, dtype=torch.float64)
    total = L.get_loss("compressed+embedding", weight=0.5)(estimate=e, reference=s)
    parts = (L.compressed_complex_loss(estimate=e, reference=s)
             + 0.5 * L.embedding_loss(estimate=e, reference=s))
    assert float(total) == pytest.approx(float(parts), rel=1e-10)
    assert float(L.compressed_embedding_loss(estimate=s, reference=s)) == pytest.approx(0.0, abs=1e-6)


def test_si_sdr_compressed_stoi_is_the_sum_of_its_terms():
    rng = np.random.default_rng(11)
    s = t64(0.1 * rng.standard_normal((2, 16000)))
    e = s + t64(0.05 * rng.standard_normal((2, 16000)))
    got = L.si_sdr_compressed_stoi_loss(estimate=e, reference=s, reduction="none")
    want = (L.si_sdr_compressed_loss(estimate=e, reference=s, reduction="none")
            + L.STOI_WEIGHT * L.stoi_like_loss(estimate=e, reference=s, reduction="none"))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)
    assert L.get_loss("si_sdr+compressed+stoi") is L.si_sdr_compressed_stoi_loss


# ----------------------------------------------------------------------------
# The error in weak-speech frames (chapter 5)
# ----------------------------------------------------------------------------
def np_weak_frame(e, r, lo=1000.0, hi=4000.0, weak_db=-20.0, range_db=40.0, floor_db=-60.0, eps=1e-12):
    freqs = np.arange(161) * SR / 320
    keep = (freqs >= lo) & (freqs < hi)
    S, E = np_stft(r)[keep], np_stft(e)[keep]
    p_s = np.sum(np.abs(S) ** 2, axis=0)
    p_e = np.sum(np.abs(E - S) ** 2, axis=0)
    level = 10 * np.log10(p_s / p_s.max())
    weak = (level >= -range_db) & (level < weak_db)
    if not weak.any():
        return 0.0
    return float(np.mean(np.maximum(10 * np.log10((p_e[weak] + eps) / p_s.max()), floor_db)))


def _syllables(rng, n=3, length=16000):
    """Noise bursts at three levels (0, -25 and -33 dB) and a gap of -60 dB: loud, weak and
    silent frames, float64 (n, length)."""
    env = np.ones(length)
    env[4000:7000], env[9000:11000], env[12000:14000] = 10 ** (-25 / 20), 10 ** (-33 / 20), 1e-3
    return 0.1 * rng.standard_normal((n, length)) * env


def test_weak_frame_loss_matches_numpy():
    rng = np.random.default_rng(21)
    r = _syllables(rng)
    e = r + rng.standard_normal(r.shape) * np.array([[0.001], [0.01], [0.05]])
    got = L.weak_frame_loss(estimate=t64(e), reference=t64(r), reduction="none").numpy()
    want = [np_weak_frame(ei, ri) for ei, ri in zip(e, r)]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert len(set(np.round(want, 3))) == 3 and max(want) < 0  # three error levels, dB re the loudest frame
    # other options follow the formula too
    got = L.weak_frame_loss(estimate=t64(e), reference=t64(r), band=(300.0, 8000.0), weak_db=-10.0,
                            range_db=30.0, floor_db=-30.0, reduction="none").numpy()
    want = [np_weak_frame(ei, ri, 300.0, 8000.0, -10.0, 30.0, -30.0) for ei, ri in zip(e, r)]
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_weak_frame_loss_counts_only_the_weak_frames():
    rng = np.random.default_rng(22)
    r = _syllables(rng, n=1)
    noise = 0.01 * rng.standard_normal(r.shape)
    base = float(L.weak_frame_loss(estimate=t64(r + 1e-4 * noise), reference=t64(r)))
    loud_only = np.zeros_like(noise)
    loud_only[:, :3000] = noise[:, :3000]  # error in the loudest stretch only
    assert float(L.weak_frame_loss(estimate=t64(r + loud_only), reference=t64(r))) == pytest.approx(base, abs=0.5)
    silent_only = np.zeros_like(noise)
    silent_only[:, 12200:13800] = noise[:, 12200:13800]  # frames more than 40 dB down are left out
    assert float(L.weak_frame_loss(estimate=t64(r + silent_only), reference=t64(r))) == pytest.approx(base, abs=0.5)
    weak_only = np.zeros_like(noise)
    weak_only[:, 4200:6800] = noise[:, 4200:6800]
    assert float(L.weak_frame_loss(estimate=t64(r + weak_only), reference=t64(r))) > base + 10
    # zeroing the estimate costs the weak frames' own level (-25 and -33 dB), not the floor
    zeroed = float(L.weak_frame_loss(estimate=t64(np.zeros_like(r)), reference=t64(r)))
    assert -36 < zeroed < -24


def test_weak_frame_loss_gradient_and_refusals():
    rng = np.random.default_rng(23)
    r = t64(_syllables(rng, n=2))
    e = (r + 0.01 * t64(rng.standard_normal(r.shape))).requires_grad_(True)
    L.weak_frame_loss(estimate=e, reference=r).backward()
    assert torch.isfinite(e.grad).all() and e.grad.abs().sum() > 0
    flat = t64(0.1 * rng.standard_normal((1, 8000)))  # stationary: no weak frames, no pull
    assert float(L.weak_frame_loss(estimate=flat * 0.5, reference=flat)) == 0.0
    with pytest.raises(ValueError, match="band"):
        L.weak_frame_loss(estimate=r, reference=r, band=(4000.0, 1000.0))
    with pytest.raises(ValueError, match="weak_db"):
        L.weak_frame_loss(estimate=r, reference=r, weak_db=-50.0)
    with pytest.raises(ValueError, match="no STFT bin"):
        L.weak_frame_loss(estimate=r, reference=r, band=(1010.0, 1040.0))


def test_si_sdr_compressed_stoi_weak_weight_adds_the_term():
    rng = np.random.default_rng(24)
    s = t64(_syllables(rng, n=2))
    e = s + t64(0.005 * rng.standard_normal(s.shape))
    base = L.si_sdr_compressed_stoi_loss(estimate=e, reference=s, reduction="none")
    got = L.si_sdr_compressed_stoi_loss(estimate=e, reference=s, weak_weight=0.5, reduction="none")
    want = base + 0.5 * L.weak_frame_loss(estimate=e, reference=s, reduction="none")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)
    assert L.get_loss("weak_frame") is L.weak_frame_loss


def np_weak_cell(e, r, weak_db=-20.0, range_db=40.0, floor_db=-60.0, eps=1e-12, n_fft=512, hop=256):
    freqs = np.arange(n_fft // 2 + 1) * SR / n_fft
    B = np.array([((freqs >= 150 * 2 ** (j / 3) / 2 ** (1 / 6)) & (freqs < 150 * 2 ** (j / 3) * 2 ** (1 / 6)))
                  for j in range(15)], dtype=float)
    S, E = np_stft(r, n_fft, hop, "hann"), np_stft(e, n_fft, hop, "hann")
    p_s, p_e = B @ np.abs(S) ** 2, B @ np.abs(E - S) ** 2  # (J, T)
    frame = np.sum(np.abs(S) ** 2, axis=0)
    kept = 10 * np.log10(frame / frame.max()) >= -range_db
    m = p_s.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        weak = (10 * np.log10(p_s / m) < weak_db) & kept[None, :]
    if not weak.any():
        return 0.0
    return float(np.mean(np.maximum(10 * np.log10((p_e + eps) / m)[weak], floor_db)))


def test_weak_cell_loss_matches_numpy():
    rng = np.random.default_rng(31)
    r = _syllables(rng)
    r[:, 2000:2600] = lfilter([1.0], [1.0, -0.95], r[:, 2000:2600], axis=-1)  # a band that dips inside loud frames
    e = r + rng.standard_normal(r.shape) * np.array([[0.001], [0.01], [0.05]])
    got = L.weak_cell_loss(estimate=t64(e), reference=t64(r), reduction="none").numpy()
    want = [np_weak_cell(ei, ri) for ei, ri in zip(e, r)]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert want[0] < want[1] < want[2] < 0
    got = L.weak_cell_loss(estimate=t64(e), reference=t64(r), weak_db=-10.0, range_db=30.0, floor_db=-40.0,
                           reduction="none").numpy()
    np.testing.assert_allclose(got, [np_weak_cell(ei, ri, -10.0, 30.0, -40.0) for ei, ri in zip(e, r)], rtol=1e-9)


def test_weak_cell_loss_sees_a_weak_band_inside_loud_frames():
    # steady speech-like power in 2.5-4 kHz keeps every frame loud; the 1.0-1.6 kHz part comes
    # and goes (off 40 dB down). Noise left in that band while it is off is invisible to the
    # frame-wise loss (no weak frames in 1-4 kHz) and costs in the cell-wise one
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(32)
    steady = sosfilt(butter(6, [2500, 4000], "bandpass", fs=SR, output="sos"), rng.standard_normal(32000))
    mid = butter(6, [1000, 1600], "bandpass", fs=SR, output="sos")
    gate = np.where((np.arange(32000) // 4000) % 2 == 0, 1.0, 0.01)
    r = (0.3 * steady + sosfilt(mid, rng.standard_normal(32000)) * gate)[None, :]
    hole_noise = 0.3 * sosfilt(mid, rng.standard_normal(32000)) * (1 - gate)  # only where the band is off
    assert float(L.weak_frame_loss(estimate=t64(r + hole_noise[None, :]), reference=t64(r))) == 0.0
    near = float(L.weak_cell_loss(estimate=t64(r + 1e-5 * rng.standard_normal(r.shape)), reference=t64(r)))
    assert float(L.weak_cell_loss(estimate=t64(r + hole_noise[None, :]), reference=t64(r))) > near + 10


def test_weak_cell_loss_gradient_refusals_and_the_weighted_sum():
    rng = np.random.default_rng(33)
    r = t64(_syllables(rng, n=2))
    e = (r + 0.01 * t64(rng.standard_normal(r.shape))).requires_grad_(True)
    L.weak_cell_loss(estimate=e, reference=r).backward()
    assert torch.isfinite(e.grad).all() and e.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="weak_db"):
        L.weak_cell_loss(estimate=r, reference=r, weak_db=5.0)
    base = L.si_sdr_compressed_stoi_loss(estimate=e.detach(), reference=r, reduction="none")
    got = L.si_sdr_compressed_stoi_loss(estimate=e.detach(), reference=r, weak_cell_weight=2.0, reduction="none")
    want = base + 2.0 * L.weak_cell_loss(estimate=e.detach(), reference=r, reduction="none")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)
    assert L.get_loss("weak_cell") is L.weak_cell_loss


def test_weak_frame_loss_pulls_only_on_the_weak_frames_and_float32_agrees():
    rng = np.random.default_rng(25)
    r = _syllables(rng, n=1)  # loud 0:4000, weak 4000:7000 (-25 dB) and 9000:11000 (-33 dB), silent 12000:14000
    e = t64(r + 0.003 * rng.standard_normal(r.shape)).requires_grad_(True)
    L.weak_frame_loss(estimate=e, reference=t64(r)).backward()
    g = e.grad.abs()[0]
    assert float(g[:3500].sum()) == 0.0 and float(g[12300:13700].sum()) == 0.0  # loud and silent frames: no pull
    assert float(g[4500:6500].sum()) > 0 and float(g[9400:10600].sum()) > 0
    for fn in (L.weak_frame_loss, L.weak_cell_loss):
        v64 = fn(estimate=t64(r + 0.01 * rng.standard_normal(r.shape)), reference=t64(r))
        est32 = torch.tensor(r + 0.01 * rng.standard_normal(r.shape), dtype=torch.float32)
        v32 = fn(estimate=est32, reference=torch.tensor(r, dtype=torch.float32))
        v64b = fn(estimate=est32.double(), reference=t64(r))
        assert v32.dtype == torch.float32 and abs(float(v32) - float(v64b)) < 1e-3 and np.isfinite(float(v64))


@pytest.mark.parametrize("fn", [L.weak_frame_loss, L.weak_cell_loss])
def test_weak_losses_refuse_bad_levels(fn):
    r = t64(_syllables(np.random.default_rng(26), n=1))
    for kw in ({"range_db": 0.0}, {"range_db": -5.0}, {"floor_db": -10.0}, {"weak_db": 3.0}):
        with pytest.raises(ValueError, match="need range_db > 0"):
            fn(estimate=r, reference=r, **kw)
    with pytest.raises(ValueError, match="weak_weight must be a finite number"):
        L.si_sdr_compressed_stoi_loss(estimate=r, reference=r, weak_weight=float("nan"))
    with pytest.raises(ValueError, match="weak_cell_weight must be a finite number"):
        L.si_sdr_compressed_stoi_loss(estimate=r, reference=r, weak_cell_weight=-1.0)


def test_loss_weight_calibration_script_refuses_a_loss_it_cannot_compare(capsys):
    from conftest import load_script

    script = load_script("loss_weight_calibration")
    assert script.main(["--term", "psa"]) == 2
    assert "--term must be a waveform loss" in capsys.readouterr().err
