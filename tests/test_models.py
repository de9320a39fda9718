"""Tests of sedemo.models: shapes, registry, parameter counts, causality, overfitting,
save/load. Every model is tested in its tiny config (well under a second each)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from sedemo import models as M
from sedemo.dsp import stft as S
from conftest import speech_like

ALL_NAMES = list(M.MODELS)
# the spectral models (complex STFT in and out); the time-domain tcn is tested in test_tcn.py
NAMES = [n for n in ALL_NAMES if M.MODELS[n].cls.domain == "spectral"]


def _spec(model, batch=2, frames=25, seed=0, dtype=torch.float32):
    cfg = model.stft_config
    g = torch.Generator().manual_seed(seed)
    x = 0.1 * torch.randn(batch, frames * cfg.hop, generator=g, dtype=dtype)
    return S.stft(x, cfg)


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("name", NAMES)
def test_output_shape_and_type(name):
    m = M.build_model(name, tiny=True)
    Y = _spec(m)
    out = m(Y)
    assert out.shape == Y.shape and out.dtype == torch.complex64
    assert torch.isfinite(torch.view_as_real(out)).all()
    parts = m.estimate(Y)
    assert torch.equal(parts["spec"], out)
    assert isinstance(m.causal, bool) and m.causal
    assert m.stft_config.n_freqs == Y.shape[1]
    out.abs().sum().backward()  # differentiable end to end
    assert all(p.grad is not None for p in m.parameters())


def test_default_models_take_the_book_stft():
    m = M.build_model("gcrn")
    assert m.stft_config == S.STFTConfig() and m.stft_config.n_freqs == 161
    Y = S.stft(torch.randn(1, 1600))
    assert m(Y).shape == (1, 161, 10)


def test_estimate_parts():
    Y = _spec(M.build_model("lstm_mask", tiny=True))
    mask_model = M.build_model("lstm_mask", tiny=True)
    d = mask_model.estimate(Y)
    assert d["mask"].shape == Y.shape and (d["mask"] >= 0).all() and (d["mask"] <= 1).all()
    assert torch.allclose(d["spec"], d["mask"] * Y)
    for name in ("lstm_map", "crn", "gcrn_mag"):
        m = M.build_model(name, tiny=True)
        d = m.estimate(Y)
        # magnitude mapping keeps the noisy phase
        nz = Y.abs() > 1e-6
        assert torch.allclose(torch.angle(d["spec"])[nz], torch.angle(Y)[nz], atol=1e-4)
        assert (d["magnitude"] >= 0).all()
    mp = M.build_model("gcrn_magphase", tiny=True).estimate(Y)
    rebuilt = mp["magnitude"].pow(1 / 0.3) * torch.exp(1j * mp["phase"])
    assert torch.allclose(mp["spec"], rebuilt, atol=1e-5)


def test_lstm_map_log_target():
    m = M.build_model("lstm_map", tiny=True, map_target="log")
    Y = _spec(m)
    assert torch.isfinite(torch.view_as_real(m(Y))).all()


def test_input_errors():
    m = M.build_model("gcrn", tiny=True)
    Y = _spec(m)
    with pytest.raises(TypeError, match="complex"):
        m(Y.abs())
    with pytest.raises(ValueError, match="batch"):
        m(Y[0])
    with pytest.raises(ValueError, match="frequency bins"):
        m(S.stft(torch.randn(1, 3200)))  # 161 bins for a 33-bin model


# --------------------------------------------------------------------------- registry
def test_unknown_model_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        M.build_model("transformer")
    for name in NAMES:
        assert name in str(err.value)
    with pytest.raises(ValueError, match="gcrn"):
        M.config_for("nope")


def test_unknown_config_field():
    with pytest.raises(TypeError, match="hidden"):
        M.build_model("lstm_mask", hiden=3)


def test_configs_are_data():
    for name in NAMES:
        spec = M.MODELS[name]
        cfg, tiny = M.config_for(name), M.config_for(name, tiny=True)
        assert isinstance(cfg, spec.config_cls) and isinstance(tiny, spec.config_cls)
        assert hasattr(spec.config_cls, "tiny")
        for k, v in spec.variant.items():  # the variant's defining fields survive in tiny
            if k != "decoder_channels":
                assert getattr(tiny, k) == v
        with pytest.raises(dataclasses.FrozenInstanceError):
            cfg.n_fft = 512
    m = M.build_model("lstm_mask", context=2, hidden=32)
    assert m.config.context == 2 and m.config.hidden == 32
    assert m.lstm.input_size == 3 * 161
    with pytest.raises(ValueError):
        M.build_model("gcrn", target="mag_phase", n_decoders=1)
    with pytest.raises(ValueError, match="too many"):
        M.build_model("crn", tiny=True, channels=(4, 4, 4, 4, 4, 4, 4))


# --------------------------------------------------------------------------- parameters
def test_parameter_counts():
    counts = {name: M.count_parameters(M.build_model(name)) for name in NAMES}
    assert counts["gcrn"] < 2_000_000
    assert abs(counts["gcrn_1dec"] - counts["gcrn"]) / counts["gcrn"] < 0.05
    assert counts["gcrn_magphase"] == counts["gcrn"]  # same sizes, other targets
    assert counts["gcrn_mag"] < counts["gcrn"]  # one decoder of the same size
    tiny = {name: M.count_parameters(M.build_model(name, tiny=True)) for name in ALL_NAMES}
    assert abs(tiny["gcrn_1dec"] - tiny["gcrn"]) / tiny["gcrn"] < 0.05
    assert max(tiny.values()) < 20_000
    rows = M.model_table(tiny=True)
    assert [r["name"] for r in rows] == ALL_NAMES and all(r["parameters"] == tiny[r["name"]] for r in rows)


def test_gcrn_architecture():
    m = M.build_model("gcrn")
    assert len(m.decoders) == 2 and len(m.encoder) == 5
    assert m.freq_sizes == [161, 80, 39, 19, 9, 4]
    assert isinstance(m.lstm, M.GroupedLSTM) and len(m.lstm.layers) == 2
    assert all(len(layer) == 2 for layer in m.lstm.layers)  # two groups per layer
    assert all(block.gated for block in m.encoder)
    assert len(M.build_model("gcrn_1dec").decoders) == 1


@pytest.mark.parametrize("rearrange", [True, False])
def test_grouped_lstm_rearrangement(rearrange):
    torch.manual_seed(0)
    g = M.GroupedLSTM(8, 8, num_layers=2, groups=2, rearrange=rearrange).double()
    x = torch.randn(1, 5, 8, dtype=torch.float64)
    y0, _ = g(x)
    x2 = x.clone()
    x2[..., 4:] += 1.0  # change only the features of group 1
    y1, _ = g(x2)
    group0_changed = (y1[..., :4] - y0[..., :4]).abs().max() > 1e-9
    # with the rearrangement the second layer's group 0 also sees group 1's features
    assert bool(group0_changed) == rearrange


# --------------------------------------------------------------------------- causality
def _future_leak(model, t0s=(1, 7, 15, 24), frames=25):
    m = model.double().eval()
    Y = _spec(m, batch=1, frames=frames, dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        ref = m(Y)
        past, future = 0.0, 0.0
        for t0 in t0s:
            Yp = Y.clone()
            noise = torch.randn(Yp[..., t0:].shape, generator=g, dtype=torch.complex128)
            Yp[..., t0:] += noise
            out = m(Yp)
            past = max(past, float((out - ref)[..., :t0].abs().max()))
            future = max(future, float((out - ref)[..., t0:].abs().max()))
    return past, future


@pytest.mark.parametrize("name", NAMES)
def test_causal_models_ignore_the_future(name):
    m = M.build_model(name, tiny=True)
    assert m.causal
    past, future = _future_leak(m)
    assert past == 0.0
    assert future > 1e-6  # the perturbation does reach the output


@pytest.mark.parametrize("norm", ["cln", "none"])
def test_other_norms_are_causal(norm):
    for name in ("crn", "gcrn"):
        past, _ = _future_leak(M.build_model(name, tiny=True, norm=norm))
        assert past == 0.0


@pytest.mark.parametrize("kw", [dict(right_context=2), dict(bidirectional=True)])
def test_noncausal_variants_are_flagged_and_leak(kw):
    m = M.build_model("lstm_mask", tiny=True, **kw)
    assert not m.causal
    past, _ = _future_leak(m)
    assert past > 1e-6


def test_causality_checker_agrees():
    causality = pytest.importorskip("sedemo.causality")
    for name in ("lstm_mask", "gcrn"):
        m = M.build_model(name, tiny=True)
        rep = causality.check(m, _spec(m, batch=1, frames=20), time_dim=2)
        assert rep.lookahead == 0 and not rep.lookahead_unbounded
    m = M.build_model("lstm_mask", tiny=True, right_context=2)
    assert causality.check(m, _spec(m, batch=1, frames=20), time_dim=2).lookahead == 2


# --------------------------------------------------------------------------- training
@pytest.mark.parametrize("name", ["gcrn", "crn"])
def test_tiny_model_overfits_one_batch(name):
    losses = pytest.importorskip("sedemo.losses")
    torch.manual_seed(0)
    s = 0.3 * torch.from_numpy(speech_like(0.5, seed=0)).float()[None]
    n = s + 0.05 * torch.randn_like(s)
    m = M.build_model(name, tiny=True)
    Sc, Y = S.stft(s, m.stft_config), S.stft(n, m.stft_config)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    history = []
    for _ in range(150):
        loss = losses.compressed_complex_loss_from_spectra(estimate_spec=m(Y), reference_spec=Sc)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert history[0] / min(history[-5:]) > 10


# --------------------------------------------------------------------------- inference
def test_enhance_waveform():
    m = M.build_model("gcrn", tiny=True).train()
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32) * 0.1
    y = M.enhance(m, x)
    assert isinstance(y, np.ndarray) and y.shape == x.shape and y.dtype == np.float32
    assert m.training  # mode restored
    xb = torch.from_numpy(np.stack([x, x]))
    yb = M.enhance(m, xb)
    assert isinstance(yb, torch.Tensor) and yb.shape == xb.shape
    assert torch.allclose(yb[0], torch.from_numpy(y), atol=1e-6)
    # equals istft(model(stft(x))) in eval mode
    m.eval()
    with torch.no_grad():
        ref = S.istft(m(S.stft(xb, m.stft_config)), m.stft_config, length=1000)
    assert torch.allclose(yb, ref)
    with pytest.raises(ValueError):
        M.enhance(m, x, cfg=S.STFTConfig())


# --------------------------------------------------------------------------- save / load
@pytest.mark.parametrize("name", ["lstm_mask", "crn", "gcrn_1dec"])
def test_save_load_roundtrip(tmp_path, name):
    torch.manual_seed(0)
    m = M.build_model(name, tiny=True)
    # move BatchNorm statistics away from their initial values
    m.train()
    m(_spec(m, seed=3))
    m.eval()
    path = M.save(m, tmp_path / "m.pt", extra={"command": "python -m sedemo.train --tiny",
                                                "valid": {"si_sdr": np.float64(3.5)}, "steps": 7})
    raw = torch.load(path, weights_only=True)  # plain dicts and tensors only
    assert raw["name"] == name
    m2 = M.load(path)
    assert not m2.training and m2.name == name and m2.config == m.config
    assert m2.extra["valid"]["si_sdr"] == 3.5 and m2.extra["steps"] == 7
    Y = _spec(m, seed=5)
    with torch.no_grad():
        assert torch.equal(m(Y), m2(Y))


def test_save_rejects_unplain_extra(tmp_path):
    m = M.build_model("lstm_mask", tiny=True)
    with pytest.raises(TypeError, match="cannot store"):
        M.save(m, tmp_path / "m.pt", extra={"f": object()})
    with pytest.raises(TypeError):
        M.save(torch.nn.Linear(2, 2), tmp_path / "x.pt")


def test_save_load_overridden_config(tmp_path):
    m = M.build_model("gcrn", tiny=True, channels=(4, 6, 8), norm="cln", compress=0.5)
    m2 = M.load(M.save(m, tmp_path / "g.pt"))
    assert m2.config == m.config and m2.config.channels == (4, 6, 8)


def test_load_pretrained_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(M.checkpoints, "PRETRAINED_DIR", tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        M.load_pretrained("gcrn")
    msg = str(err.value)
    assert "scripts/train_models.sh gcrn" in msg and "python -m sedemo.train --model gcrn" in msg and "gcrn.pt" in msg
    with pytest.raises(ValueError):
        M.load_pretrained("nope")
    m = M.build_model("gcrn", tiny=True)
    M.save(m, tmp_path / "gcrn.pt")
    assert M.load_pretrained("gcrn").config == m.config


# --------------------------------------------------------------------------- input gate
def test_enhance_refuses_channels_last_integers_and_overflow():
    """Regression: enhance on (N, 2) stereo ran N two-sample signals (minutes, gigabytes);
    int16 samples were used unscaled; float64 values beyond float32 gave NaN silently."""
    import time

    m = M.build_model("gcrn", tiny=True)
    stereo = np.zeros((160000, 2), dtype=np.float32)
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"enhance: noisy has shape \(160000, 2\).*channels last.*mean\(axis=-1\)"):
        M.enhance(m, stereo)
    assert time.perf_counter() - t0 < 1.0
    with pytest.raises(ValueError, match=r"integer samples \(int16\).*32768"):
        M.enhance(m, np.ones(1600, dtype=np.int16))
    with pytest.raises(TypeError, match="complex"):
        M.enhance(m, torch.ones(1600, dtype=torch.complex64))
    with pytest.raises(ValueError, match="2 NaN or infinite"):
        M.enhance(m, np.array([0.1, np.nan, np.inf] + [0.0] * 500))
    big = np.full(1600, 1e200)
    with pytest.raises(ValueError, match=r"values up to 1e\+200, beyond the range of float32.*scale it"):
        M.enhance(m, big)
    with pytest.raises(ValueError, match=r"shape \(1, 2, 1600\)"):
        M.enhance(m, np.zeros((1, 2, 1600)))
    # (C, L) channels first is a batch, enhanced channel by channel
    x = np.random.default_rng(0).standard_normal((2, 1600)).astype(np.float32) * 0.1
    y = M.enhance(m, x)
    assert y.shape == x.shape and np.allclose(y[1], M.enhance(m, x[1]), atol=1e-6)


def test_load_refuses_files_that_are_not_checkpoints(tmp_path):
    """Regression: a file that is not a checkpoint gave an IndexError traceback from torch."""
    import torch

    bad = tmp_path / "noise.pt"
    bad.write_bytes(b"\x00\x01not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        M.load(bad)
    with pytest.raises(FileNotFoundError, match="no model file"):
        M.load(tmp_path / "missing.pt")
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(ValueError, match="not a sedemo model checkpoint"):
        M.load(tensor)


def test_enhance_refuses_to_return_nan_from_broken_weights():
    """Regression: NaN weights gave a NaN output silently."""
    import torch

    m = M.build_model("gcrn", tiny=True)
    with torch.no_grad():
        next(m.parameters()).fill_(float("nan"))
    with pytest.raises(ValueError, match="weights are broken"):
        M.enhance(m, np.zeros(1600, dtype=np.float32) + 0.01)
