"""The ultra-light causal model (sedemo.models.ulcrn) and its ERB band matrices
(sedemo.dsp.features.erb_band_matrices): size, causality, streaming = offline, the mask's
contract, the training recipe's augmentations (sedemo.train.batches)."""
import numpy as np
import pytest
import torch

from sedemo import causality, models as M
from sedemo.dsp.features import erb_band_matrices, erb_rate
from sedemo.dsp.stft import stft
from sedemo.streaming import StreamingEnhancer
from sedemo.train.batches import sample_batch


def _spec(m, frames=40, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = m.stft_config.hop * (frames - 1) + m.stft_config.n_fft
    return stft(0.1 * torch.randn(batch, n, generator=g), m.stft_config)


# --------------------------------------------------------------------------- ERB bands
def test_erb_matrices_partition_and_reconstruct_constants():
    ana, syn = erb_band_matrices(161, 32, 32, 16000)
    assert ana.shape == (64, 161) and syn.shape == (161, 64)
    assert torch.allclose(ana.sum(1), torch.ones(64), atol=1e-6)  # each band: a weighted mean
    assert torch.allclose(syn.sum(1), torch.ones(161), atol=1e-6)  # a constant stays constant
    x = torch.full((161, 5), 3.0)
    assert torch.allclose(syn @ (ana @ x), x, atol=1e-5)
    assert torch.equal(ana[:32, :32], torch.eye(32))  # the low bins are kept as they are


def test_erb_band_centres_are_equally_spaced_on_the_erb_scale():
    ana, _ = erb_band_matrices(161, 32, 32, 16000)
    f = np.arange(32, 161) * 50.0
    peak = f[ana[32:, 32:].numpy().argmax(1)]  # the bin where each band's triangle peaks
    spacing = np.diff(erb_rate(peak))
    assert spacing.min() > 0.2 and spacing.max() < 0.8  # about 14 ERB over 31 gaps: 0.45
    assert peak[0] == 1600.0 and peak[-1] == 8000.0


@pytest.mark.parametrize("kw,words", [(dict(bands=200), "at most"), (dict(low_bins=-1), "low_bins"),
                                      (dict(bands=0), "bands")])
def test_erb_matrices_refuse_bad_sizes(kw, words):
    args = dict(n_freqs=161, low_bins=32, bands=32)
    with pytest.raises(ValueError, match=words):
        erb_band_matrices(**{**args, **kw})


# --------------------------------------------------------------------------- the model
def test_default_is_ultra_light():
    m = M.build_model("ulcrn")
    n = M.count_parameters(m)
    assert 15_000 < n <= 100_000, n
    assert m.causal and m.streaming_blocker() is None


def test_mask_contract_and_shapes():
    m = M.build_model("ulcrn", tiny=True).eval()
    Y = _spec(m)
    with torch.no_grad():
        out = m.estimate(Y)
    assert out["spec"].shape == Y.shape and out["mask"].shape == Y.shape
    torch.testing.assert_close(out["spec"], out["mask"] * Y, rtol=1e-5, atol=1e-6)
    bound = np.sqrt(2) + 1e-5  # tanh-bounded parts, interpolated by a partition of unity
    assert float(out["mask"].abs().max()) <= bound


def test_streaming_equals_offline_frame_by_frame_and_in_chunks():
    torch.manual_seed(0)
    m = M.build_model("ulcrn", tiny=True)
    m.train()
    m(_spec(m, seed=3))  # move the BatchNorm running statistics away from their start
    m.eval()
    _assert_streams_equal_offline(m, _spec(m, frames=30))


def _assert_streams_equal_offline(m, Y):
    """``m.step`` frame by frame and in two chunks gives ``m(Y)``; returns the last state."""
    with torch.no_grad():
        off = m(Y)
        st, outs = m.init_state(Y.shape[0]), []
        for t in range(Y.shape[-1]):
            o, st = m.step(Y[..., t], st)
            outs.append(o)
        torch.testing.assert_close(torch.stack(outs, -1), off, rtol=1e-5, atol=1e-6)
        a, st = m.step(Y[..., :7])
        b, st = m.step(Y[..., 7:], st)
        torch.testing.assert_close(torch.cat([a, b], -1), off, rtol=1e-5, atol=1e-6)
    return st


def test_the_state_does_not_grow():
    m = M.build_model("ulcrn", tiny=True).eval()
    Y = _spec(m, frames=20, batch=1)
    with torch.no_grad():
        _, s1 = m.step(Y[..., :2])
        _, s2 = m.step(Y[..., 2:], s1)
    assert m.state_nbytes(s1) == m.state_nbytes(s2) == m.state_nbytes(m.init_state(1))


def test_causality_checker_finds_no_lookahead_and_the_receptive_field():
    m = M.build_model("ulcrn", tiny=True, attention=False, rnn_blocks=0)
    rep = causality.check(m, _spec(m, batch=1, frames=30), time_dim=2)
    assert rep.lookahead == 0 and not rep.lookahead_unbounded
    # two GT blocks (dilations 1, 2) in the encoder and in the decoder: 2 * (2 + 4) past frames
    assert rep.receptive_field == 2 * (2 * 1 + 2 * 2)


class _Peeking(torch.nn.Module):
    """A GT block that also adds the next frame of its input: one frame of lookahead."""

    def __init__(self, block):
        super().__init__()
        self.block = block
        self.history = block.history

    def forward(self, x, hist, h):
        y, hist, h = self.block(x, hist, h)
        return y + torch.roll(x, -1, dims=2), hist, h


def test_a_planted_leak_is_caught():
    m = M.build_model("ulcrn", tiny=True)
    m.enc_blocks[0] = _Peeking(m.enc_blocks[0])
    rep = causality.check(m, _spec(m, batch=1, frames=30), time_dim=2)
    assert rep.lookahead == 1


def test_streaming_enhancer_matches_offline_enhance():
    m = M.build_model("ulcrn", tiny=True).eval()
    x = (0.1 * np.random.default_rng(0).standard_normal(4000)).astype(np.float32)
    enh = StreamingEnhancer(m)
    y = np.concatenate([enh.process(x), enh.flush()])
    d = m.stft_config.n_fft - m.stft_config.hop
    np.testing.assert_allclose(y[d:d + len(x)], M.enhance(m, x), rtol=1e-4, atol=1e-5)


def test_tiny_model_learns_one_batch():
    from sedemo.losses import compressed_complex_loss_from_spectra as loss_fn

    torch.manual_seed(0)
    m = M.build_model("ulcrn", tiny=True)
    g = torch.Generator().manual_seed(1)
    clean = 0.3 * torch.sin(torch.arange(4000) * 0.07)[None].repeat(2, 1)
    noisy = clean + 0.1 * torch.randn(2, 4000, generator=g)
    S, Y = stft(clean, m.stft_config), stft(noisy, m.stft_config)
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    first = None
    for _ in range(60):
        loss = loss_fn(estimate_spec=m(Y), reference_spec=S)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


# --------------------------------------------------------------------------- augmentation
def _pairs(n=4, length=24000):
    out = []
    for i in range(n):
        g = np.random.default_rng(i)
        c = (0.1 * g.standard_normal(length)).astype(np.float32)
        out.append((c, (c + 0.05 * g.standard_normal(length)).astype(np.float32)))
    return out


def test_snr_range_sets_the_crop_snr():
    c, n = sample_batch(_pairs(), np.random.default_rng(0), 16, 8000, dynamic_mix=True, snr_range=(3.0, 3.0))
    snr = 10 * np.log10((c ** 2).mean(1) / ((n - c) ** 2).mean(1))
    np.testing.assert_allclose(snr, 3.0, atol=1e-3)


def test_level_range_sets_the_mixture_level_and_keeps_the_snr():
    c, n = sample_batch(_pairs(), np.random.default_rng(0), 8, 8000, dynamic_mix=True,
                        snr_range=(5.0, 5.0), level_range=(-30.0, -30.0))
    level = 10 * np.log10((n.astype(np.float64) ** 2).mean(1))
    np.testing.assert_allclose(level, -30.0, atol=1e-3)
    snr = 10 * np.log10((c ** 2).mean(1) / ((n - c) ** 2).mean(1))
    np.testing.assert_allclose(snr, 5.0, atol=1e-2)


def test_channel_filters_speech_and_noise_alike():
    pairs = _pairs()
    for seed in range(6):  # one row: the same item and crops with and without the channel
        c0, n0 = sample_batch(pairs, np.random.default_rng(seed), 1, 8000, dynamic_mix=True)
        c1, n1 = sample_batch(pairs, np.random.default_rng(seed), 1, 8000, dynamic_mix=True, channel=1.0)
        assert not np.allclose(c0, c1)
        H = np.fft.rfft(c1[0]) / np.fft.rfft(c0[0])  # the same linear filter on speech and noise
        Hn = np.fft.rfft(n1[0] - c1[0]) / np.fft.rfft(n0[0] - c0[0])
        np.testing.assert_allclose(np.abs(H[10:-10]), np.abs(Hn[10:-10]), rtol=1e-2, atol=1e-3)


def test_noise_eq_colors_the_noise_alone_and_keeps_the_snr():
    pairs = _pairs()
    for seed in range(6):  # the same row with and without the coloring: speech untouched
        c0, n0 = sample_batch(pairs, np.random.default_rng(seed), 1, 8000, dynamic_mix=True)
        c1, n1 = sample_batch(pairs, np.random.default_rng(seed), 1, 8000, dynamic_mix=True, noise_eq=1.0,
                              snr_range=(0.0, 0.0))
        np.testing.assert_array_equal(c0, c1)
        P = np.abs(np.fft.rfft(n1[0] - c1[0])) ** 2
        bands = P[: len(P) // 8 * 8].reshape(8, -1).sum(1)
        assert bands.max() > 5 * np.median(bands)  # one band dominates (a 10-30 dB boost)
        np.testing.assert_allclose(10 * np.log10((c1 ** 2).mean() / ((n1 - c1) ** 2).mean()), 0.0, atol=1e-3)


def test_tones_add_a_few_steady_lines_to_the_noise():
    pairs = _pairs()
    c, n = sample_batch(pairs, np.random.default_rng(1), 8, 16000, dynamic_mix=True, tones=1.0, snr_range=(5, 5))
    np.testing.assert_allclose(10 * np.log10((c ** 2).mean(1) / ((n - c) ** 2).mean(1)), 5.0, atol=1e-3)
    f = np.fft.rfftfreq(16000, 1 / 16000)
    flat = sample_batch(pairs, np.random.default_rng(1), 8, 16000, dynamic_mix=True, snr_range=(5, 5))
    for row, ref in zip(n - c, flat[1] - flat[0]):  # white-ish noise plus tones: a spectral peak far above it
        P, Q = np.abs(np.fft.rfft(row)) ** 2, np.abs(np.fft.rfft(ref)) ** 2
        assert P.max() > 100 * np.median(P) and Q.max() < 100 * np.median(Q)
        assert 290 <= f[P.argmax()] <= 7600


def test_calls_are_high_pitched_bursts_added_to_the_noise():
    from sedemo.train.batches import _calls

    x = _calls(np.random.default_rng(0), 5 * 16000)
    assert np.sqrt(np.mean(x ** 2)) == pytest.approx(1.0)
    frames = x[: len(x) // 512 * 512].reshape(-1, 512)
    energy = (frames ** 2).mean(1)
    assert (energy < 1e-4 * energy.max()).any() and (energy > 0.1 * energy.max()).any()  # bursts and gaps
    f = np.fft.rfftfreq(512, 1 / 16000)
    P = (np.abs(np.fft.rfft(frames * np.hanning(512), axis=1)) ** 2).sum(0)
    assert P[f < 900].sum() < 0.01 * P.sum()  # nothing at a voice's pitch and first formants
    c, n = sample_batch(_pairs(), np.random.default_rng(1), 4, 16000, dynamic_mix=True, calls=1.0,
                        snr_range=(5, 5))
    np.testing.assert_allclose(10 * np.log10((c ** 2).mean(1) / ((n - c) ** 2).mean(1)), 5.0, atol=1e-3)



def test_clicks_are_impulsive_and_reproducible():
    from sedemo.train.batches import _clicks

    x = _clicks(np.random.default_rng(0), 5 * 16000)
    assert x.dtype == np.float64 and np.isfinite(x).all()
    assert np.sqrt(np.mean(x ** 2)) == pytest.approx(1.0)
    np.testing.assert_array_equal(x, _clicks(np.random.default_rng(0), 5 * 16000))
    kurt = [np.mean(y ** 4) / np.mean(y ** 2) ** 2 for y in (_clicks(np.random.default_rng(s), 32000) for s in range(20))]
    assert np.median(kurt) > 10  # heavy-tailed (Gaussian noise: 3)
    energy = (x[: len(x) // 160 * 160].reshape(-1, 160) ** 2).mean(1)  # 10-ms frames
    assert np.percentile(energy, 99) > 100 * np.median(energy)  # a few loud frames among quiet ones
    c, n = sample_batch(_pairs(), np.random.default_rng(1), 4, 16000, dynamic_mix=True, clicks=1.0,
                        snr_range=(5, 5))
    np.testing.assert_allclose(10 * np.log10((c ** 2).mean(1) / ((n - c) ** 2).mean(1)), 5.0, atol=1e-3)
    c0, n0 = sample_batch(_pairs(), np.random.default_rng(1), 4, 16000, dynamic_mix=True, snr_range=(5, 5))
    np.testing.assert_array_equal(c[0], c0[0])  # the first row's speech is drawn before its noise
    from sedemo.evaluation.impulsive import band_kurtosis

    assert band_kurtosis((n - c)[0]) > band_kurtosis((n0 - c0)[0])  # its noise is more impulsive

def test_highpass_response_is_a_butterworth_magnitude():
    from scipy.signal import butter, freqz

    from sedemo.train.batches import highpass_response

    g = highpass_response(16000, 70.0)
    f = np.fft.rfftfreq(16000, 1 / 16000)
    b, a = butter(4, 70.0, "highpass", fs=16000)  # the analog prototype's magnitude, checked well below Nyquist
    _, h = freqz(b, a, worN=f[1:400], fs=16000)
    np.testing.assert_allclose(g[1:400], np.abs(h), atol=2e-3)
    assert g[0] == 0.0 and g[f == 70.0][0] == pytest.approx(2 ** -0.5)


def test_speech_highpass_empties_the_low_band_of_the_speech_and_not_of_the_noise():
    pairs, t = _pairs(), np.arange(24000) / 16000
    rumble = [(c + 0.3 * np.sin(2 * np.pi * 30 * t).astype(np.float32), n) for c, n in pairs]  # "clean" with rumble
    f = np.fft.rfftfreq(8000, 1 / 16000)
    low = lambda x: (np.abs(np.fft.rfft(x, axis=1)[:, f < 40]) ** 2).sum()  # noqa: E731
    c0, n0 = sample_batch(rumble, np.random.default_rng(3), 4, 8000, dynamic_mix=True)
    c1, n1 = sample_batch(rumble, np.random.default_rng(3), 4, 8000, dynamic_mix=True, speech_highpass=70.0)
    assert low(c1) < 2e-3 * low(c0)  # the target's rumble down by ~30 dB: (30 / 70) ** 8 = 1.1e-3
    np.testing.assert_allclose(n1 - c1, n0 - c0, atol=1e-6)  # the same noise: no draw changed
    np.testing.assert_allclose(np.fft.rfft(c1, axis=1)[:, f > 400], np.fft.rfft(c0, axis=1)[:, f > 400],
                               rtol=1e-3, atol=1e-2)  # speech above the cutoff kept


@pytest.mark.parametrize("value", [10.0, 600.0, -70.0, float("nan")])
def test_speech_highpass_is_checked(value):
    from sedemo.train import TrainConfig

    with pytest.raises(ValueError, match="--speech-highpass"):
        TrainConfig(model="ulcrn", speech_highpass=value)


def test_switches_off_draw_the_earlier_batches():
    pairs = _pairs()
    for kw in ({}, dict(dynamic_mix=True), dict(speed_perturb=0.1)):
        a = sample_batch(pairs, np.random.default_rng(2), 4, 8000, **kw)
        b = sample_batch(pairs, np.random.default_rng(2), 4, 8000, snr_range=None, level_range=None,
                         channel=0.0, noise_eq=0.0, tones=0.0, calls=0.0, speech_highpass=0.0, clicks=0.0,
                         **kw)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    c, n = sample_batch(pairs, np.random.default_rng(2), 4, 8000)
    for k in range(4):  # every switch off: the item's own noisy crop, exactly (not clean + noise)
        hits = [(p, s) for p in pairs for s in np.flatnonzero(p[0] == c[k, 0]) if np.array_equal(p[0][s:s + 8000], c[k])]
        assert hits and any(np.array_equal(p[1][s:s + 8000], n[k]) for p, s in hits)


# --------------------------------------------------------------------------- rooms
def test_rir_bank_is_deterministic_and_starts_at_the_direct_path():
    rooms = pytest.importorskip("sedemo.data.rooms")
    pytest.importorskip("pyroomacoustics")
    a = rooms.rir_bank(n=3, seed=4)
    rooms.rir_bank.cache_clear()
    b = rooms.rir_bank(n=3, seed=4)
    for r, s in zip(a, b):
        np.testing.assert_array_equal(r.full, s.full)
        assert r.full[r.offset] == pytest.approx(1.0) and np.abs(r.full).max() == pytest.approx(1.0)
        assert 0 < r.offset <= rooms.PRE_TAPS and r.distance_m >= 0.5 and 0.2 <= r.rt60_s <= 1.0
        n = r.offset + 800  # up to 50 ms after the direct sound: the full RIR
        np.testing.assert_allclose(r.early[:n], r.full[:n])
        assert len(r.early) == n + 80


def test_reverberant_pair_the_target_is_the_early_part():
    rooms = pytest.importorskip("sedemo.data.rooms")
    pytest.importorskip("pyroomacoustics")
    rir = rooms.rir_bank(n=2, seed=0)[1]
    x = np.zeros(8000, np.float32)
    x[100] = 1.0  # an impulse: the outputs are the RIRs, shifted to the impulse
    rev, tgt = rooms.reverberate(x, rir)
    o = rir.offset
    assert rev[100] == pytest.approx(1.0, abs=1e-5) and tgt[100] == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(rev[100 - o:], rir.full[:7900 + o], atol=1e-5)
    np.testing.assert_allclose(tgt[100 - o:100 - o + len(rir.early)], rir.early, atol=1e-5)
    assert np.abs(tgt[100 - o + len(rir.early):]).max() < 1e-5


def test_reverb_switch_mixes_reverberant_speech_with_an_early_target():
    pytest.importorskip("pyroomacoustics")
    pairs = _pairs()
    c, n = sample_batch(pairs, np.random.default_rng(0), 4, 8000, dynamic_mix=True, reverb=1.0, snr_range=(30.0, 30.0))
    snr = 10 * np.log10((c ** 2).mean(1) / ((n - c) ** 2).mean(1))
    assert (snr < 25).all()  # the late reverberation is part of what the model must remove


def test_encode_is_causal_and_returns_each_encoder_stage():
    """ULCRN.encode (the trained embedding of chapter 6's C5): conv1, conv2 and one
    activation per GT block, each causal (frames before a change do not move)."""
    torch.manual_seed(0)
    m = M.build_model("ulcrn").eval()
    x = torch.randn(1, 8000)
    spec = stft(x, m.stft_config)
    with torch.no_grad():
        feats = m.encode(spec)
        later = spec.clone()
        later[..., 30:] += 3.0 * torch.randn_like(later[..., 30:])
        moved = m.encode(later)
    c, t = m.config.channels, spec.shape[-1]
    assert len(feats) == 2 + len(m.config.dilations)
    assert [f.shape[:3] for f in feats] == [(1, c, t)] * len(feats)
    for a, b in zip(feats, moved):
        torch.testing.assert_close(a[:, :, :30], b[:, :, :30])
        assert not torch.allclose(a[:, :, 30:], b[:, :, 30:])


def test_trained_encoder_embedding_loss_is_frozen_and_zero_at_the_reference():
    from sedemo import losses as L

    torch.manual_seed(1)
    r = 0.1 * torch.randn(2, 8000)
    e = (r + 0.05 * torch.randn(2, 8000)).requires_grad_(True)
    net = L.encoder_network("ulcrn")
    assert net is L.encoder_network("ulcrn")  # built once
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    assert float(L.embedding_loss(estimate=r, reference=r, encoder="ulcrn")) == 0.0
    loss = L.embedding_loss(estimate=e, reference=r, encoder="ulcrn")
    loss.backward()
    assert float(loss.detach()) > 0 and e.grad.abs().sum() > 0
    net.train()
    assert not net.model.training  # stays in inference mode
    with pytest.raises(ValueError, match="not both"):
        L.embedding_loss(estimate=e, reference=r, encoder="ulcrn", network=net)
    with pytest.raises(TypeError, match="has no encode"):
        L.ModelEncoder(torch.nn.Linear(2, 2))
    full = L.compressed_embedding_loss(estimate=e, reference=r, encoder="ulcrn", weight=0.05)
    parts = L.compressed_complex_loss(estimate=e, reference=r) + 0.05 * loss
    torch.testing.assert_close(full, parts)


def test_encoder_embedding_weight_keeps_the_term_a_regulariser():
    """On the bundled golden clip (a test recording, not a training mixture) the weighted
    trained-encoder term is a tenth to a half of the compressed loss, as
    ENCODER_EMBEDDING_WEIGHT's docstring says of training mixtures (a sixth)."""
    from pathlib import Path

    from sedemo import losses as L
    from sedemo.dsp import audio

    golden = Path(__file__).parent / "data" / "golden"
    clean, noisy = (torch.as_tensor(audio.load(golden / f"{n}.flac"), dtype=torch.float32) for n in ("clean", "noisy"))
    crops = [slice(k * 16000, k * 16000 + 32000) for k in range(2)]
    e = torch.stack([noisy[c] for c in crops])
    r = torch.stack([clean[c] for c in crops])
    main = L.compressed_complex_loss(estimate=e, reference=r)
    term = L.combined.ENCODER_EMBEDDING_WEIGHT * L.embedding_loss(estimate=e, reference=r, encoder="ulcrn")
    assert 0.1 < float(term / main) < 0.5


def test_encoder_embedding_has_finite_gradients_at_silence():
    """A silent (all-zero) or nearly silent estimate: the power-law compression of the
    encoder has an unbounded gradient at |Y| -> 0 without ModelEncoder's floor (a training
    run diverged on it); with the floor every gradient is finite. The floor leaves the
    model's own computation alone (floor=0)."""
    from sedemo import losses as L

    torch.manual_seed(2)
    r = 0.1 * torch.randn(1, 8000)
    for e0 in (torch.zeros(1, 8000), 1e-7 * torch.randn(1, 8000)):
        e = e0.clone().requires_grad_(True)
        L.embedding_loss(estimate=e, reference=r, encoder="ulcrn").backward()
        assert torch.isfinite(e.grad).all()
    m = M.build_model("ulcrn").eval()
    spec = stft(0.1 * torch.randn(1, 4000), m.stft_config)
    with torch.no_grad():
        plain = m._features(spec.real, spec.imag)
        floored = m._features(spec.real, spec.imag, floor=1e-5)
    torch.testing.assert_close(plain, floored)  # no bin of this signal is below the floor


@pytest.mark.parametrize("field", ["channel", "reverb", "noise_bank_p", "noise_eq", "tones", "calls", "clicks"])
def test_augmentation_probabilities_are_checked(field):
    from sedemo.train import TrainConfig

    with pytest.raises(ValueError, match=f"--{field.replace('_', '-')}.*probability"):
        TrainConfig(model="ulcrn", **{field: 1.5})


# --------------------------------------------------------------------------- deep filter
def _df_model(order=3, seed=0, **kw):
    """A tiny ULCRN with a deep filter whose head is random (not the zero it starts at)."""
    torch.manual_seed(seed)
    m = M.build_model("ulcrn", tiny=True, df_order=order, **kw)
    with torch.no_grad():
        m.df_head.weight.normal_(0, 0.5)
        m.df_head.bias.normal_(0, 0.5)
    return m.eval()


def test_deep_filter_head_starts_at_zero_so_the_output_is_the_mask_alone():
    torch.manual_seed(0)
    m = M.build_model("ulcrn", tiny=True, df_order=4).eval()
    Y = _spec(m)
    with torch.no_grad():
        out = m.estimate(Y)
    torch.testing.assert_close(out["spec"], out["mask"] * Y, rtol=1e-5, atol=1e-6)
    assert not hasattr(M.build_model("ulcrn", tiny=True), "df_head")  # df_order 1: no head, no state
    assert "df" not in M.build_model("ulcrn", tiny=True).init_state(1)


def test_deep_filter_is_the_mask_plus_past_taps_on_the_low_bins_float64():
    m = _df_model(order=3).double()
    Y = _spec(m, frames=25).to(torch.complex128)
    with torch.no_grad():
        out = m.estimate(Y)["spec"].numpy()
        mr, mi, taps, _ = m._run(Y.real, Y.imag, m.init_state(2))
    M_, W, y = (mr + 1j * mi).numpy(), taps.numpy(), Y.numpy()
    lo = m.config.low_bins
    want = M_ * y
    for f in range(lo):
        for t in range(y.shape[-1]):
            for k in (1, 2):
                if t - k >= 0:
                    want[:, f, t] += (W[:, 2 * k - 2, t, f] + 1j * W[:, 2 * k - 1, t, f]) * y[:, f, t - k]
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)
    assert np.abs(out[:, :lo] - (M_ * y)[:, :lo]).max() > 1e-3  # the taps do something on the low bins
    np.testing.assert_allclose(out[:, lo:], (M_ * y)[:, lo:], rtol=1e-12, atol=1e-14)  # and nothing above


def test_past_tap_share_is_zero_without_taps_and_matches_a_float64_sum():
    torch.manual_seed(0)
    plain = M.build_model("ulcrn", tiny=True).eval()
    assert plain.past_tap_share(_spec(plain)) == 0.0
    grown = M.build_model("ulcrn", tiny=True, df_order=4).eval()  # zero head
    assert grown.past_tap_share(_spec(grown)) == pytest.approx(0.0, abs=1e-12)  # float32 rounding only
    m = _df_model(order=3).double()
    Y = _spec(m, frames=25).to(torch.complex128)
    with torch.no_grad():
        out = m.estimate(Y)
    lo = m.config.low_bins
    s, my = out["spec"][:, :lo].numpy(), (out["mask"] * Y)[:, :lo].numpy()
    want = np.sum(np.abs(s - my) ** 2) / np.sum(np.abs(s) ** 2)
    assert 0 < want and m.past_tap_share(Y) == pytest.approx(want, rel=1e-12)
    assert m.past_tap_share(Y[0]) == pytest.approx(m.past_tap_share(Y[:1]), rel=1e-12)  # (F, T) accepted
    m.train()
    assert m.past_tap_share(Y) == pytest.approx(want, rel=1e-12) and m.training  # eval() inside, flag restored
    with pytest.raises(ValueError, match="silent input"):
        m.past_tap_share(torch.zeros_like(Y))


def test_deep_filter_streams_equal_offline_and_is_causal():
    m = _df_model(order=3)
    st = _assert_streams_equal_offline(m, _spec(m, frames=30))
    assert st["df"].shape == (2, 2, m.config.low_bins, 2)
    assert m.state_nbytes(st) == m.state_nbytes(m.init_state(2))
    rep = causality.check(_df_model(order=3, attention=False, rnn_blocks=0), _spec(m, batch=1, frames=30), time_dim=2)
    assert rep.lookahead == 0 and not rep.lookahead_unbounded


@pytest.mark.parametrize("value", [0, 9, 2.5])
def test_df_order_is_checked(value):
    with pytest.raises(ValueError, match="df_order"):
        M.config_for("ulcrn", df_order=value)


def test_a_deep_filter_model_grows_from_a_mask_only_one(tmp_path):
    from sedemo.train.loop import _init_weights

    torch.manual_seed(1)
    src = M.build_model("ulcrn", tiny=True).eval()
    path = M.save(src, tmp_path / "src.pt")
    grown = M.build_model("ulcrn", tiny=True, df_order=3)
    info = _init_weights(grown, path, "cpu")
    assert "df_order 1 -> 3" in info["grown"]
    Y = _spec(src)
    with torch.no_grad():
        torch.testing.assert_close(grown.eval()(Y), src(Y))  # the zero head: the source's output
    with pytest.raises(ValueError, match="does not match"):  # any other change is refused
        _init_weights(M.build_model("ulcrn", tiny=True, df_order=3, channels=6), path, "cpu")
    deep = M.save(_df_model(order=3), tmp_path / "deep.pt")
    with pytest.raises(ValueError, match="does not match"):  # and the way back
        _init_weights(M.build_model("ulcrn", tiny=True), deep, "cpu")


def test_suppression_boost_scales_the_output_by_its_own_gain():
    torch.manual_seed(0)
    m = M.build_model("ulcrn", tiny=True).eval()
    spec = _spec(m)
    with torch.no_grad():
        out = m.estimate(spec)
        torch.testing.assert_close(M.SuppressionBoost(m, 0.0)(spec), out["spec"])
        boosted = M.SuppressionBoost(m, 1.0)
        # without a deep filter the effective gain |S|/|Y| is the mask's magnitude
        torch.testing.assert_close(boosted(spec), out["spec"] * out["mask"].abs().clamp(max=1.0))
    assert boosted.stft_config == m.stft_config and "suppression x2" in boosted.name and boosted.causal
    x = 0.1 * np.random.default_rng(1).standard_normal(4000).astype(np.float32)
    y = M.enhance(boosted, x)  # the waveform path takes the wrapper like a model
    assert y.shape == x.shape and np.isfinite(y).all()
    assert not m.training and not boosted.training  # enhance() restored the wrapped model's flag
    with pytest.raises(ValueError, match="gamma must be"):
        M.SuppressionBoost(m, -1.0)


def test_suppression_boost_of_a_deep_filter_uses_the_whole_output_as_its_gain():
    m = _df_model(order=3, seed=1)  # taps far from zero
    with torch.no_grad():
        spec = _spec(m)
        s = m.estimate(spec)["spec"]
        assert not torch.allclose(s, m.estimate(spec)["mask"] * spec)  # the past taps count
        got = M.SuppressionBoost(m, 0.5)(spec)
    gain = (s.abs() / spec.abs()).clamp(max=1.0) ** 0.5
    torch.testing.assert_close(got, s * gain)
    # a bin the model attenuates by a dB loses 1.5 a dB
    att = 20 * torch.log10(s.abs() / spec.abs())
    sel = att < -1
    torch.testing.assert_close(20 * torch.log10(got.abs() / spec.abs())[sel], 1.5 * att[sel], rtol=1e-4, atol=1e-4)
