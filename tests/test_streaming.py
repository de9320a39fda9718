"""Tests of sedemo.streaming and the models' frame-by-frame ``step``: streaming a
waveform hop by hop reproduces the offline ``models.enhance`` output (after the
``n_fft - hop`` output delay), for any chunk size; the state does not grow; non-causal
models are refused with a reason."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sedemo import models as M
from sedemo import streaming as St
from sedemo.dsp import stft as S

TOL = 1e-5


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _model(name, tiny=True, seed=0, **kw):
    """A random-weight model in eval() mode whose BatchNorm layers have non-trivial
    running statistics and affine parameters (so eval-mode normalisation matters)."""
    torch.manual_seed(seed)
    m = M.build_model(name, tiny=tiny, **kw)
    g = torch.Generator().manual_seed(seed + 1)
    n_bn = 0
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            n = mod.num_features
            mod.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            mod.running_var.copy_(0.3 + 2 * torch.rand(n, generator=g))
            with torch.no_grad():
                mod.weight.copy_(0.5 + torch.rand(n, generator=g))
                mod.bias.copy_(0.4 * torch.rand(n, generator=g) - 0.2)
            n_bn += 1
    if m.config.__class__.__name__ in ("CRNConfig", "GCRNConfig") and m.config.norm == "batch":
        assert n_bn > 0
    return m.eval()


def _signal(seconds, seed=0, sr=16000):
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * sr) + 37  # not a whole number of hops: exercises the last partial frame
    t = torch.arange(n) / sr
    return 0.2 * torch.randn(n, generator=g) + 0.3 * torch.sin(2 * np.pi * 220 * t) * (t % 0.5 < 0.3)


CASES = [("gcrn", True, {}), ("gcrn", False, {}), ("crn", True, {}), ("lstm_mask", True, {})]


@pytest.mark.parametrize("name,tiny,kw", CASES, ids=["gcrn_tiny", "gcrn_default", "crn", "lstm_mask"])
def test_stream_equals_offline_for_every_chunk_size(name, tiny, kw):
    m = _model(name, tiny, **kw)
    hop = m.stft_config.hop
    x = _signal(1.0)
    offline = M.enhance(m, x)
    scale = offline.abs().max().item()
    assert scale > 0
    for chunk in (1, hop, 3.7 * hop, len(x)):
        y = St.stream_file(m, x, chunk=chunk)
        assert y.shape == x.shape
        err = (y - offline).abs().max().item()
        assert err < TOL, f"{name} chunk={chunk}: max |stream - offline| = {err:.3g}"
        # random-weight GCRNs output small values (|.|^(1/0.3) decompression): check relative too
        assert err < TOL * scale, f"{name} chunk={chunk}: relative error {err / scale:.3g}"


@pytest.mark.parametrize("name,kw", [("gcrn_1dec", {}), ("gcrn_mag", {}), ("gcrn_magphase", {}),
                                     ("gcrn", dict(norm="cln")), ("crn", dict(norm="none")),
                                     ("lstm_map", {}), ("lstm_map", dict(map_target="log")),
                                     ("lstm_mask", dict(context=3, layers=2))])
def test_variants_stream_exactly(name, kw):
    m = _model(name, **kw)
    x = _signal(0.5, seed=3)
    err = (St.stream_file(m, x, chunk=2.5 * m.stft_config.hop) - M.enhance(m, x)).abs().max().item()
    assert err < TOL


def test_model_step_equals_forward_frame_by_frame():
    m = _model("gcrn")
    Y = S.stft(0.1 * torch.randn(2, 40 * m.stft_config.hop), m.stft_config)
    with torch.no_grad():
        off = m(Y)
        state = m.init_state(2)
        outs = []
        for t in range(Y.shape[-1]):
            y, state = m.step(Y[..., t], state)  # one frame (B, F)
            outs.append(y)
        many, _ = m.step(Y[..., :9], None)  # several frames at once, fresh state
    assert (torch.stack(outs, -1) - off).abs().max() < TOL
    assert (many - off[..., :9]).abs().max() < TOL


def test_raw_stream_is_delayed_by_n_fft_minus_hop():
    m = _model("gcrn")
    cfg = m.stft_config
    x = _signal(0.3, seed=5)
    enh = St.StreamingEnhancer(m)
    assert enh.output_delay == cfg.n_fft - cfg.hop
    parts = []
    for s in range(0, len(x), 50):
        y = enh.process(x[s : s + 50])
        assert y.shape[-1] % cfg.hop == 0
        parts.append(y)
    parts.append(enh.flush())
    raw = torch.cat(parts)
    d = enh.output_delay
    assert raw.shape[-1] == len(x) + d
    assert torch.all(raw[:d] == 0)
    assert (raw[d:] - M.enhance(m, x)).abs().max() < TOL
    # after flush the enhancer is reset: a second stream gives the same result
    again = torch.cat([enh.process(x), enh.flush()])
    assert torch.equal(again, raw)


def test_latency_default_gcrn_is_20_ms():
    enh = St.StreamingEnhancer(M.build_model("gcrn"))
    assert enh.algorithmic_latency_ms == pytest.approx(20.0)
    assert enh.output_delay == 160 and enh.lookahead_frames == 0


def test_numpy_in_numpy_out_and_batches():
    m = _model("lstm_mask")
    x = np.stack([_signal(0.4, seed=s).numpy() for s in (1, 2)])
    y = St.stream_file(m, x, chunk=100)
    assert isinstance(y, np.ndarray) and y.shape == x.shape
    assert np.abs(y - M.enhance(m, x)).max() < TOL


@pytest.mark.parametrize("name", ["gcrn", "crn", "lstm_mask"])
def test_state_does_not_grow(name):
    m = _model(name, tiny=name != "gcrn")
    hop = m.stft_config.hop
    enh = St.StreamingEnhancer(m)
    start = enh.state_nbytes
    assert start > 0
    sizes = []
    x = _signal(2.0, seed=4)
    for n_frames in (10, 100, len(x) // hop):
        enh.reset()
        enh.process(x[: n_frames * hop])
        assert enh.frames_processed == n_frames
        sizes.append((enh.state_nbytes, enh.model_state_nbytes))
    assert len(set(sizes)) == 1 and sizes[0][0] == start


@pytest.mark.parametrize("kw,words", [(dict(bidirectional=True), "bidirectional"),
                                      (dict(right_context=2), "future")])
def test_non_causal_models_are_refused(kw, words):
    m = M.build_model("lstm_mask", tiny=True, **kw)
    assert not m.causal
    with pytest.raises(ValueError, match="cannot stream") as info:
        St.StreamingEnhancer(m)
    assert words in str(info.value)
    with pytest.raises(ValueError, match=words):
        m.step(S.stft(torch.zeros(1, 320), m.stft_config))


def test_training_mode_batchnorm_step_is_refused_but_enhancer_uses_eval():
    m = _model("gcrn").train()
    Y = S.stft(torch.randn(1, 320), m.stft_config)
    with pytest.raises(RuntimeError, match="eval"):
        m.step(Y)
    x = _signal(0.2)
    y = St.stream_file(m, x)  # runs in eval() and restores the flag
    assert m.training
    assert (y - M.enhance(m, x)).abs().max() < TOL


def test_bad_inputs():
    with pytest.raises(TypeError, match="step"):
        St.StreamingEnhancer(torch.nn.Linear(2, 2))
    enh = St.StreamingEnhancer(_model("lstm_mask"))
    with pytest.raises(ValueError, match="chunk"):
        enh.process(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="chunk"):
        St.stream_file(_model("lstm_mask"), torch.zeros(100), chunk=0)


def test_measure_rtf_fields():
    r = St.measure_rtf(_model("lstm_mask"), seconds=0.3, repeats=1, warmup_seconds=0.05)
    for key in ("rtf", "frame_ms_median", "frame_ms_p95", "offline_rtf", "state_bytes", "threads", "cpu"):
        assert key in r
    assert r["threads"] == 1 and r["rtf"] > 0 and r["frame_ms_p95"] >= r["frame_ms_median"]
    assert r["state_bytes"] > 0 and isinstance(r["cpu"], str)


def test_stream_as_played_is_causal_with_one_window_of_latency():
    """The causality checker on the output *as a device plays it*: the hop emitted after
    frame t is available once input sample (t+1)*hop - 1 has arrived, i.e. ``hop`` samples
    after its own index in the delayed stream. Played ``output_delay + hop = n_fft``
    samples late, no output sample depends on an input that has not arrived yet."""
    from sedemo.causality import check_waveform

    m = _model("gcrn")  # tiny: n_fft 64, hop 32
    cfg = m.stft_config
    enh = St.StreamingEnhancer(m)

    def played(x, delay):  # (B, L) -> (B, L): input-time-aligned output stream
        y = St.stream_file(m, x, chunk=len(x[0]), align=False)  # = offline delayed by output_delay
        y = torch.nn.functional.pad(y, (delay - enh.output_delay, 0))
        return y[..., : x.shape[-1]]

    rep = check_waveform(lambda x: played(x, cfg.n_fft), 768, cfg.sample_rate, n_probe=8, block=cfg.hop)
    assert rep.is_causal and rep.leak == 0.0
    # played only output_delay late (without waiting for the frame), it would need the future
    early = check_waveform(lambda x: played(x, enh.output_delay), 768, cfg.sample_rate, n_probe=8,
                           block=cfg.hop)
    assert 0 < early.lookahead < cfg.hop


# ------------------------------------------------------------------ FramePlan (fast hop-by-hop path)
PLAN_CASES = [("gcrn", True, {}), ("gcrn", False, {}), ("crn", True, {}), ("crn", False, {}),
              ("gcrn_1dec", True, {}), ("gcrn_mag", True, {}), ("gcrn_magphase", True, {}),
              ("crn", True, dict(norm="none")), ("gcrn", True, dict(lstm_hidden=16)),
              ("gcrn", True, dict(inputs="magnitude", rearrange=False, lstm_groups=4)),
              ("gcrn", True, dict(kernel=(3, 5)))]


@pytest.mark.parametrize("name,tiny,kw", PLAN_CASES, ids=[f"{n}-{t}-{k}" for n, t, k in PLAN_CASES])
def test_frame_plan_equals_offline_forward(name, tiny, kw):
    m = _model(name, tiny, **kw)
    Y = S.stft(0.1 * torch.randn(2, 30 * m.stft_config.hop), m.stft_config)
    plan = St.frame_plan(m)
    assert isinstance(plan, St.FramePlan)
    with torch.inference_mode():
        off = m(Y)
        state = plan.init_state(2)
        n_state = M.SEModel.state_nbytes(state)
        assert n_state == M.SEModel.state_nbytes(m.init_state(2))  # the same memory as model.step
        outs = []
        for t in range(Y.shape[-1]):
            y, state = plan.step(Y[..., t], state)
            outs.append(y)
        assert M.SEModel.state_nbytes(state) == n_state
    err = (torch.stack(outs, -1) - off).abs().max().item()
    assert err < TOL * off.abs().max().item()


def test_frame_plan_only_where_it_applies():
    assert St.frame_plan(_model("gcrn", norm="cln")) is None  # running sums: model.step
    assert St.frame_plan(_model("lstm_mask")) is None
    m = _model("gcrn")
    assert St.StreamingEnhancer(m)._plan is not None
    assert St.StreamingEnhancer(m, plan=False)._plan is None
    assert St.StreamingEnhancer(m, frames_per_step=None)._plan is None
    assert St.StreamingEnhancer(_model("gcrn", norm="cln"))._plan is None


def test_plan_and_step_streams_agree_and_cln_streams_exactly():
    m = _model("gcrn")
    x = _signal(0.5, seed=7)
    a = St.stream_file(m, x)
    enh = St.StreamingEnhancer(m, plan=False)
    b = torch.cat([enh.process(x), enh.flush()])[enh.output_delay:]
    assert (a - b).abs().max() < TOL * a.abs().max()
    c = _model("gcrn", norm="cln")
    assert (St.stream_file(c, x) - M.enhance(c, x)).abs().max() < TOL


def test_enhancer_rebuilds_the_plan_when_the_weights_change():
    m = _model("gcrn")
    x = _signal(0.3, seed=8)
    enh = St.StreamingEnhancer(m)
    first = torch.cat([enh.process(x), enh.flush()])  # flush resets: plan still valid
    plan = enh._plan
    assert not plan.stale()
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(1.1)
        bn = next(mod for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm2d))
        bn.running_mean.add_(0.1)
    assert plan.stale()
    enh.reset()
    assert enh._plan is not plan
    again = torch.cat([enh.process(x), enh.flush()])[enh.output_delay:]
    assert not torch.equal(again, first[enh.output_delay:])
    assert (again - M.enhance(m, x)).abs().max() < TOL * again.abs().max()


def test_enhancer_keeps_an_eval_model_untouched():
    m = _model("gcrn")
    calls = []
    m.train = lambda mode=True: calls.append(mode) or m  # eval() calls train(False)
    St.stream_file(m, _signal(0.1))
    assert calls == []


# the plan's less common paths: one-frame kernels (no history), LSTM groups that do not divide
# the channels or the hidden size (general gathers), several LSTM layers with a projection
PLAN_EDGE_CASES = [("gcrn", dict(kernel=(1, 3))), ("crn", dict(kernel=(1, 3))), ("gcrn", dict(lstm_groups=3)),
                   ("gcrn", dict(lstm_groups=3, lstm_hidden=30)), ("gcrn", dict(lstm_groups=4)),
                   ("crn", dict(lstm_hidden=16, lstm_layers=3)), ("gcrn", dict(compress=1.0))]


@pytest.mark.parametrize("name,kw", PLAN_EDGE_CASES, ids=[f"{n}-{k}" for n, k in PLAN_EDGE_CASES])
def test_frame_plan_edge_cases_equal_offline_forward(name, kw):
    m = _model(name, **kw)
    Y = S.stft(0.1 * torch.randn(2, 12 * m.stft_config.hop), m.stft_config)
    plan = St.frame_plan(m)
    with torch.inference_mode():
        off = m(Y)
        state, outs = plan.init_state(2), []
        for t in range(Y.shape[-1]):
            y, state = plan.step(Y[..., t], state)
            outs.append(y)
    assert (torch.stack(outs, -1) - off).abs().max() < TOL * off.abs().max()


def test_frame_plan_steps_are_pure_for_any_batch_and_mode():
    """A step leaves the state it is given untouched (the plan's buffers are its own), one plan
    serves several batch sizes, and steps run in and out of inference mode, in any order."""
    m = _model("gcrn")
    Y = S.stft(0.1 * torch.randn(2, 10 * m.stft_config.hop), m.stft_config)
    Y[1, :, 2] = 0  # a silent frame
    off = m(Y).detach()
    plan = St.frame_plan(m)
    for b, mode in [(1, torch.inference_mode), (2, torch.no_grad), (1, torch.no_grad), (2, torch.inference_mode)]:
        state, outs = plan.init_state(b), []
        for t in range(Y.shape[-1]):
            before = [s.clone() for s in state]
            with mode():
                y, new = plan.step(Y[:b, :, t], state)
            assert all(torch.equal(s, s0) for s, s0 in zip(state, before))
            # stepping from the same state again gives the same frame and leaves the first result
            kept = [s.clone() for s in new]
            with mode():
                assert torch.equal(plan.step(Y[:b, :, t], state)[0], y)
            assert all(torch.equal(s, s0) for s, s0 in zip(new, kept))
            state = new
            outs.append(y)
        assert (torch.stack(outs, -1) - off[:b]).abs().max() < TOL * off.abs().max()


@pytest.mark.parametrize("name,kw", [("gcrn", {}), ("crn", {}), ("gcrn_magphase", {}), ("gcrn", dict(lstm_groups=3))])
def test_frame_plan_float64_equals_model_step_and_offline(name, kw):
    """In float64 the plan, ``model.step`` and the offline forward agree to 1e-10 (batch 1 and 3):
    the rewritten arithmetic is the model's, not an approximation of it."""
    m = _model(name, **kw).double()
    plan = St.frame_plan(m)
    for b in (1, 3):
        Y = S.stft(0.1 * torch.randn(b, 8 * m.stft_config.hop, dtype=torch.float64), m.stft_config)
        with torch.inference_mode():
            off = m(Y)
            state, st_model, outs, steps = plan.init_state(b), m.init_state(b), [], []
            for t in range(Y.shape[-1]):
                y, state = plan.step(Y[..., t], state)
                ym, st_model = m.step(Y[..., t], st_model)
                assert y.dtype == torch.complex128
                outs.append(y)
                steps.append(ym)
        scale = off.abs().max()
        assert (torch.stack(outs, -1) - off).abs().max() < 1e-10 * scale
        assert (torch.stack(outs, -1) - torch.stack(steps, -1)).abs().max() < 1e-10 * scale


def test_frame_plan_layers_are_named_and_unsupported_layers_are_refused():
    from sedemo.streaming import _plan_layers as PL

    m = _model("gcrn")
    plan = St.frame_plan(m)
    assert all(isinstance(p, PL.ConvPlan) for p in plan.enc) and len(plan.enc) == len(m.encoder)
    assert all(isinstance(p, PL.TransposedConvPlan) for p in plan.dec) and plan.n_dec == len(m.decoders)
    assert all(isinstance(p, PL.LSTMPlan) for p in plan.lstm) and plan.groups == m.config.lstm_groups
    assert [p.f_in for p in plan.enc] == list(m.freq_sizes[:-1])
    assert plan.dec[-1].last and not plan.dec[0].last and plan.dec[-1].f_out == m.freq_sizes[0]
    # a BatchNorm without running statistics is not an affine map in eval(): no plan
    bn = m.encoder[1].norm
    m.encoder[1].norm = torch.nn.BatchNorm2d(bn.num_features, track_running_stats=False)
    assert St.frame_plan(m) is None


def test_bad_chunks_are_refused_and_leave_the_stream_intact():
    """Regression: a NaN or infinite chunk was accepted and every later output was NaN;
    integer chunks were used unscaled; complex chunks lost their imaginary part with a
    warning only. A refused chunk now leaves the stream as it was."""
    m = _model("gcrn")
    x = _signal(0.3).numpy()
    want = St.stream_file(m, x, align=False)
    enh = St.StreamingEnhancer(m)
    outs, bad = [], [
        (np.array([0.1, np.nan, 0.2] * 60), r"chunk contains 60 NaN or infinite"),
        (np.full(100, np.inf), "100 NaN or infinite"),
        (np.full(100, 1e200), r"values up to 1e\+200, beyond the range of float32"),
        (np.ones(320, dtype=np.int16), r"integer samples \(int16\).*32768"),
        (np.ones(320, dtype=np.complex64), "complex"),
        (np.zeros((320, 2)), r"shape \(320, 2\).*streams 1 signal.*channels last"),
        (np.zeros((2, 320)), r"shape \(2, 320\).*streams 1 signal.*holds 2 signals"),
    ]
    for i, start in enumerate(range(0, len(x), 700)):
        outs.append(enh.process(x[start : start + 700]))
        chunk, words = bad[i % len(bad)]
        with pytest.raises(ValueError, match=words):
            enh.process(chunk)
    outs.append(enh.flush())
    got = np.concatenate(outs)
    assert got.shape == want.shape and np.isfinite(got).all()
    assert np.abs(got - want).max() < TOL
    e2 = St.StreamingEnhancer(m, batch=2)
    with pytest.raises(ValueError, match=r"shape \(320, 2\).*transpose it with x\.T"):
        e2.process(np.zeros((320, 2)))
    with pytest.raises(ValueError, match=r"batch=2 signals: pass \(2, n\) chunks"):
        e2.process(np.zeros(320))
    assert e2.process(np.zeros((2, 0))).shape == (2, 0)
    with pytest.raises(ValueError, match=r"stream_file: noisy has shape \(4800, 2\).*channels last"):
        St.stream_file(m, np.zeros((4800, 2)))
