"""Tests of the time-domain model ``tcn`` (causal Conv-TasNet, claim C2): shapes, size,
causality at sample and frame level, a tiny overfit, save/load, enhance(), streaming
(model.step and TimeStreamingEnhancer) and training with waveform losses."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sedemo import models as M
from sedemo.dsp.stft import STFTConfig
from sedemo import streaming as St
from sedemo import train as T
from conftest import speech_like


def _wave(batch=2, n=1000, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, n, generator=g, dtype=dtype)


# --------------------------------------------------------------------------- model
def test_registry_domain_and_shapes():
    m = M.build_model("tcn", tiny=True)
    assert m.domain == "time" and m.causal and m.name == "tcn"
    assert all(M.build_model(n, tiny=True).domain == "spectral" for n in M.MODELS if n != "tcn")
    assert isinstance(m.config, M.TCNConfig) and m.stft_config.sample_rate == 16000
    for n in (1, 7, 8, 999, 1000):
        x = _wave(n=n)
        y = m(x)
        assert y.shape == x.shape and y.dtype == torch.float32
    d = m.estimate(_wave(n=800))
    t = (800 - 1 + 16 - 8) // 8 + 1
    assert d["mask"].shape == d["frames"].shape == (2, 16, t)
    assert (d["mask"] >= 0).all() and (d["mask"] <= 1).all() and (d["frames"] >= 0).all()
    d["wave"].abs().sum().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_input_errors():
    m = M.build_model("tcn", tiny=True)
    with pytest.raises(ValueError, match="unsqueeze"):
        m(torch.zeros(100))
    with pytest.raises(TypeError, match="time-domain"):
        m(torch.zeros(1, 5, 10, dtype=torch.complex64))
    with pytest.raises(ValueError, match="kernel"):
        M.build_model("tcn", kernel=8, stride=16)
    with pytest.raises(ValueError, match="whole number of hops"):
        m.eval().step(torch.zeros(1, 5), None)


def test_parameter_count_and_architecture():
    m = M.build_model("tcn")
    n = M.count_parameters(m)
    assert 300_000 <= n <= 1_000_000, n
    c = m.config
    assert (c.kernel, c.stride, c.filters, c.blocks, c.repeats) == (32, 16, 128, 8, 2)
    assert len(m.blocks) == 16 and [b.dconv.conv.dilation[0] for b in m.blocks[:8]] == [1, 2, 4, 8, 16, 32,
                                                                                      64, 128]
    assert m.receptive_field_frames == 1021  # about 1 s at 1 ms per frame
    assert M.count_parameters(M.build_model("tcn", tiny=True)) < 20_000


# --------------------------------------------------------------------------- causality
def test_future_samples_do_not_change_earlier_outputs():
    """Float64, eval: perturbing samples >= t0 leaves outputs < t0 - (K-1) unchanged (the kernel
    framing: output n reads samples <= n + K - 1), and changes the later ones."""
    for tiny in (True, False):
        m = M.build_model("tcn", tiny=tiny).double().eval()
        k = m.config.kernel
        x = _wave(1, 700, dtype=torch.float64)
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            ref = m(x)
            for t0 in (100, 333, 512, 650):
                xp = x.clone()
                xp[:, t0:] += torch.randn(xp[:, t0:].shape, generator=g, dtype=torch.float64)
                d = (m(xp) - ref).abs()[0]
                assert float(d[: t0 - (k - 1)].max()) == 0.0
                assert float(d[t0:].max()) > 1e-6


def test_causality_checker_sample_and_frame_level():
    from sedemo.causality import check_waveform

    m = M.build_model("tcn", tiny=True)
    k, s = m.config.kernel, m.config.stride
    # waveform out: the lookahead is the kernel framing, K - 1 samples
    rep = check_waveform(m, 512, 16000, n_probe=8, block=s)
    assert rep.lookahead == k - 1
    # frame level: mask frame t stamped at its last sample t*S + S - 1 reads nothing later
    frames = check_waveform(lambda x: m.estimate(x)["mask"], 512, 16000, output_hop=s,
                            frame_offset=s - 1, n_probe=8, block=s)
    assert frames.lookahead == 0 and frames.is_causal
    # the output played K - 1 samples late (within one kernel of latency) is causal
    played = check_waveform(lambda x: torch.nn.functional.pad(m(x), (k - 1, 0))[..., : x.shape[-1]],
                            512, 16000, n_probe=8, block=s)
    assert played.is_causal and played.lookahead == 0


# --------------------------------------------------------------------------- training
def test_tiny_tcn_overfits_one_batch():
    from sedemo import losses

    torch.manual_seed(0)
    s = 0.3 * torch.from_numpy(speech_like(0.25, seed=0)).float()[None]
    n = s + 0.05 * torch.randn_like(s)
    m = M.build_model("tcn", tiny=True)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    history = []
    for _ in range(200):
        loss = losses.mse(estimate=m(n), reference=s)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert history[0] / min(history[-5:]) > 10


def _pairs(n=3, seconds=0.4, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        c = (0.3 * speech_like(seconds, seed=seed + i)).astype(np.float32)
        out.append((c, c + (0.03 * rng.standard_normal(len(c))).astype(np.float32)))
    return out


@pytest.mark.parametrize("loss", ["mae", "mse", "si_sdr"])
def test_train_tiny_tcn_with_waveform_losses(tmp_path, loss):
    cfg = T.TrainConfig(model="tcn", tiny=True, loss=loss, steps=4, batch_size=2, segment=0.2, lr=3e-3,
                        threads=1, valid_every=4, ckpt_every=4, log_every=2, n_valid=1,
                        valid_seconds=0.3, out=str(tmp_path / loss), progress=False)
    res = T.train(cfg, _pairs(), _pairs(1, seed=9))
    log = T.read_log(tmp_path / loss)
    assert [r["step"] for r in log if r["kind"] == "train"] == [2, 4]
    assert all(np.isfinite(r["train_loss"]) for r in log if r["kind"] == "train")
    assert np.isfinite(res["valid"]["valid_si_sdr"]) and np.isfinite(res["valid"]["valid_loss"])
    m = M.load(tmp_path / loss / "model.pt")
    assert m.name == "tcn" and m.domain == "time"


def test_loss_routing_for_time_domain_models():
    m = M.build_model("tcn", tiny=True)
    valid = T.waveform_losses()
    assert {"mae", "mse", "si_sdr"} <= set(valid) and "sa" not in valid
    for bad in ("sa", "ma", "compressed", "spectral_from_spectra", "mag_phase"):
        with pytest.raises(ValueError, match="time-domain") as info:
            T.make_loss(bad, model=m)
        assert "mae" in str(info.value) and "si_sdr" in str(info.value)
    with pytest.raises(ValueError, match="unknown loss"):
        T.make_loss("nope", model=m)
    with pytest.raises(ValueError, match="time-domain"):
        T.train(T.TrainConfig(model="tcn", tiny=True, loss="sa", steps=1, progress=False, out="unused"),
                _pairs(1), [])
    # the routed loss compares the output waveform with the clean one
    s = _wave(2, 320, seed=3)
    fn = T.make_loss("mae", model=m)
    out = {"wave": s + 0.1}
    assert torch.allclose(fn(out, {"clean": s}), torch.tensor(0.1), atol=1e-6)


# --------------------------------------------------------------------------- inference
def test_enhance_numpy_and_save_load(tmp_path):
    torch.manual_seed(0)
    m = M.build_model("tcn", tiny=True).train()
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32) * 0.1
    y = M.enhance(m, x)
    assert isinstance(y, np.ndarray) and y.shape == x.shape and y.dtype == np.float32 and m.training
    yb = M.enhance(m, torch.from_numpy(np.stack([x, x])))
    assert isinstance(yb, torch.Tensor) and torch.allclose(yb[1], torch.from_numpy(y), atol=1e-6)
    with pytest.raises(ValueError, match="sample_rate"):
        M.enhance(m, x, cfg=STFTConfig(sample_rate=8000))
    path = M.save(m, tmp_path / "tcn.pt", extra={"steps": 3})
    raw = torch.load(path, weights_only=True)
    assert raw["name"] == "tcn" and raw["config"]["kernel"] == 16
    m2 = M.load(path)
    assert m2.config == m.config and not m2.training and m2.extra["steps"] == 3
    assert np.array_equal(M.enhance(m2, x), y)


# --------------------------------------------------------------------------- streaming
@pytest.mark.parametrize("tiny", [True, False])
def test_step_stream_equals_offline(tiny):
    m = M.build_model("tcn", tiny=tiny).eval()
    s, d = m.config.stride, m.output_delay
    x = _wave(2, 777, seed=5)
    with torch.no_grad():
        ref = m(x)
        xp = torch.nn.functional.pad(x, (0, -(-(777 + d) // s) * s - 777))
        state, outs, pos = m.init_state(2), [], 0
        nbytes = M.TCN.state_nbytes(state)
        sizes = [1, 3, 2, 1, 5] * 100  # frames per step, varied
        while pos < xp.shape[-1]:
            n = sizes[len(outs)] * s
            out, state = m.step(xp[:, pos : pos + n], state)
            outs.append(out)
            pos += n
            assert M.TCN.state_nbytes(state) == nbytes  # the state does not grow
    y = torch.cat(outs, -1)[:, d : d + 777]
    assert float((y - ref).abs().max() / ref.abs().max()) < 1e-5


@pytest.mark.parametrize("tiny", [True, False])
def test_streaming_enhancer_equals_offline(tiny):
    m = M.build_model("tcn", tiny=tiny).eval()
    enh = St.StreamingEnhancer(m)
    assert isinstance(enh, St.TimeStreamingEnhancer)
    assert enh.output_delay == m.config.kernel - m.config.stride and enh.hop == m.config.stride
    if not tiny:
        assert enh.algorithmic_latency_ms == 2.0 and enh.output_delay == 16
    x = np.stack([_wave(1, 1237, seed=s)[0].numpy() for s in (1, 2)])
    off = M.enhance(m, x)
    for chunk, fps in ((None, 1), (7, 1), (100, None), (5000, 2)):
        y = St.stream_file(m, x, chunk=chunk, frames_per_step=fps)
        assert isinstance(y, np.ndarray) and y.shape == x.shape
        assert np.abs(y - off).max() / np.abs(off).max() < 1e-5, (chunk, fps)
    raw = St.stream_file(m, x[0], align=False)
    assert raw.shape == (1237 + enh.output_delay,) and np.all(raw[: enh.output_delay] == 0)


def test_time_enhancer_state_and_errors():
    m = M.build_model("tcn", tiny=True).eval()
    enh = St.TimeStreamingEnhancer(m)
    start = enh.state_nbytes
    assert start > 0 and "TimeStreamingEnhancer" in repr(enh)
    out = enh.process(np.zeros(83, dtype=np.float32))
    assert isinstance(out, np.ndarray) and len(out) == 80 and enh.frames_processed == 10
    enh.reset()
    enh.process(np.zeros(800, dtype=np.float32))
    assert enh.state_nbytes == start
    with pytest.raises(TypeError, match="time-domain"):
        St.TimeStreamingEnhancer(M.build_model("gcrn", tiny=True))
    with pytest.raises(ValueError):
        enh.process(np.zeros((3, 10)))
    assert not isinstance(St.StreamingEnhancer(M.build_model("gcrn", tiny=True).eval()),
                          St.TimeStreamingEnhancer)
