"""The causality checker flags every planted mistake of chapter 7 (claims C12-C15)
with the right lookahead, and passes each fix."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sedemo.dsp import stft as sstft
from sedemo.causality import CausalityReport, check, check_waveform, gradient_map, train_eval_mismatch
from sedemo import models, streaming

T = 40  # frames: short examples keep every check well under a second


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def spec(c=2, f=5, t=T):
    """A (B, C, T, F) feature example."""
    return torch.randn(1, c, t, f)


def seq(d=4, t=T):
    """A (B, T, D) sequence example."""
    return torch.randn(1, t, d)


class RNN(nn.Module):
    def __init__(self, cls, bidirectional):
        super().__init__()
        self.rnn = cls(4, 6, batch_first=True, bidirectional=bidirectional)

    def forward(self, x):
        return self.rnn(x)[0]


class MHA(nn.Module):
    def __init__(self, causal):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.causal = causal

    def forward(self, x):
        n = x.shape[1]
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool), 1) if self.causal else None
        return self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]


class PadConv2d(nn.Module):
    """Conv2d with explicit time padding (past, future) and 'same' frequency padding."""

    def __init__(self, k, past, future):
        super().__init__()
        self.conv, self.pad = nn.Conv2d(2, 3, (k, 3), padding=(0, 1)), (0, 0, past, future)

    def forward(self, x):
        return self.conv(F.pad(x, self.pad))


class ConvT(nn.Module):
    """ConvTranspose2d (time stride 1) whose T+kt-1 output frames are cut to T: keep='first'
    (trim the future: right) or 'last' (trim the past: wrong), or keep all ('none')."""

    def __init__(self, kt, keep):
        super().__init__()
        self.ct, self.keep = nn.ConvTranspose2d(2, 3, (kt, 3), padding=(0, 1)), keep

    def forward(self, x):
        y = self.ct(x)
        n = x.shape[2]
        return {"first": y[:, :, :n], "last": y[:, :, -n:], "none": y}[self.keep]


# ------------------------------------------------------------------ C12: recurrent layers


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_bidirectional_rnn_is_flagged_unidirectional_passes(cls):
    bad = check(RNN(cls, True), seq(), time_dim=1)
    assert not bad.is_causal and bad.lookahead_unbounded
    assert bad.lookahead >= T // 2
    good = check(RNN(cls, False), seq(), time_dim=1)
    assert good.is_causal and good.lookahead == 0 and good.leak == 0.0
    assert good.receptive_field_unbounded  # a recurrent state remembers the whole past


def test_rnn_returning_a_tuple_is_checked_on_its_first_element():
    rep = check(nn.LSTM(4, 6, batch_first=True, bidirectional=True), seq(), time_dim=1)
    assert rep.lookahead_unbounded


# ------------------------------------------------------------------ C13: convolutions


@pytest.mark.parametrize("k", [3, 5])
def test_symmetric_conv1d_padding_leaks_half_the_kernel(k):
    rep = check(nn.Conv1d(2, 3, k, padding=k // 2), torch.randn(1, 2, T))
    assert rep.lookahead == k // 2 and rep.receptive_field == k // 2
    assert not rep.lookahead_unbounded and not rep.is_causal
    fixed = nn.Sequential(nn.ConstantPad1d((k - 1, 0), 0.0), nn.Conv1d(2, 3, k))
    rep = check(fixed, torch.randn(1, 2, T))
    assert rep.is_causal and rep.receptive_field == k - 1


@pytest.mark.parametrize("k", [3, 5])
def test_symmetric_conv2d_time_padding_leaks(k):
    rep = check(nn.Conv2d(2, 3, (k, 3), padding=(k // 2, 1)), spec(), hop=160, sample_rate=16000)
    assert rep.lookahead == k // 2
    assert rep.lookahead_ms == pytest.approx(10.0 * (k // 2))
    assert check(PadConv2d(k, k - 1, 0), spec()).lookahead == 0


def test_dilated_and_explicit_lookahead_convs_are_measured_exactly():
    assert check(nn.Conv1d(2, 3, 3, dilation=2, padding=2), torch.randn(1, 2, T)).lookahead == 2
    rep = check(PadConv2d(5, 3, 1), spec())  # DeepFilterNet style: (k-1-lookahead, lookahead)
    assert (rep.lookahead, rep.receptive_field) == (1, 3)


def test_a_pure_delay_is_causal_with_a_past_context():
    rep = check(lambda x: F.pad(x, (2, 0))[..., :-2], torch.randn(1, 3, T))
    assert rep.is_causal and rep.receptive_field == 2 and rep.train_eval_mismatch is None


@pytest.mark.parametrize("kt", [2, 3])
def test_transposed_conv_must_trim_its_future_frames(kt):
    x = spec()
    untrimmed = check(ConvT(kt, "none"), x, align="end")  # extra frames read as the last ones
    assert untrimmed.n_out == T + kt - 1 and untrimmed.lookahead == kt - 1
    assert any("align='end'" in n for n in check(ConvT(kt, "none"), x).notes)
    assert check(ConvT(kt, "last"), x).lookahead == kt - 1  # trimmed on the wrong side
    right = check(ConvT(kt, "first"), x)
    assert right.is_causal and right.receptive_field == kt - 1


# ------------------------------------------------------------------ C14: attention


def test_attention_needs_a_causal_mask():
    bad = check(MHA(False), seq(8), time_dim=1)
    assert bad.lookahead_unbounded and bad.lookahead >= T // 2
    good = check(MHA(True), seq(8), time_dim=1)
    assert good.is_causal and good.receptive_field_unbounded


def test_attention_with_q_k_v_as_separate_inputs():
    x = seq(8)
    attn = nn.MultiheadAttention(8, 2, batch_first=True)
    assert check(attn, (x, x, x), time_dim=1).lookahead_unbounded
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    with pytest.raises(RuntimeError, match="wrap it in an nn.Module"):
        check(lambda q, k, v: attn(q, k, v, attn_mask=mask)[0], (x, x, x), time_dim=1)
    attn.double()
    rep = check(lambda q, k, v: attn(q, k, v, attn_mask=mask)[0], (x, x, x), time_dim=(1, 1, 1))
    assert rep.is_causal


# ------------------------------------------------------------------ C15: normalisation, pooling


def _bn_model():
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(2, 3, (1, 3), padding=(0, 1)), nn.BatchNorm2d(3))  # train mode


def test_batchnorm_left_in_train_mode_leaks_the_future():
    model = _bn_model()
    assert model.training
    as_is = check(model, spec(), mode="as_is")
    assert not as_is.is_causal and as_is.lookahead_unbounded
    deployed = check(model, spec())  # default mode="eval"
    assert deployed.is_causal
    assert deployed.train_eval_mismatch > 0.1
    assert any("model.eval()" in n for n in deployed.notes)
    assert check(model.eval(), spec(), mode="as_is").is_causal


def test_instancenorm_needs_running_statistics():
    plain = nn.InstanceNorm2d(2)  # statistics over (T, F) of this utterance, also in eval
    assert check(plain.eval(), spec()).lookahead_unbounded
    tracked = nn.InstanceNorm2d(2, track_running_stats=True)
    tracked.running_mean.fill_(0.3)
    tracked.running_var.fill_(2.0)
    assert check(tracked, spec()).is_causal  # eval: running statistics
    assert not check(tracked.train(), spec(), mode="as_is").is_causal  # train: instance statistics


@pytest.mark.parametrize("pool", [nn.MaxPool2d, nn.AvgPool2d])
def test_pooling_along_time_leaks_pooling_along_frequency_does_not(pool):
    assert check(pool((3, 1), stride=1, padding=(1, 0)), spec()).lookahead == 1
    down_up = nn.Sequential(pool((2, 1)), nn.Upsample(scale_factor=(2, 1), mode="nearest"))
    assert check(down_up, spec()).lookahead == 1
    assert check(pool((1, 2)), spec(f=6)).is_causal
    causal_time = nn.Sequential(nn.ZeroPad2d((0, 0, 2, 0)), pool((3, 1), stride=1))
    assert check(causal_time, spec()).is_causal


def test_global_normalisation_by_the_peak_is_unbounded():
    rep = check(lambda x: x / x.abs().amax(dim=(1, 2, 3), keepdim=True), spec())
    assert rep.lookahead_unbounded and rep.receptive_field_unbounded


# ------------------------------------------------------------------ waveform level


W512 = torch.hann_window(512, dtype=torch.float64)


def centred_stft(x):
    return torch.stft(x, 512, 128, window=W512, center=True, return_complex=True)


def test_centred_stft_reads_half_a_window_ahead_of_its_frame_centre():
    rep = check_waveform(centred_stft, 2048, 16000, output_hop=128)
    assert rep.unit == "samples" and rep.lookahead == 255
    assert rep.lookahead_ms == pytest.approx(16.0, abs=0.1)


def test_sedemo_stft_reads_nothing_after_the_end_of_its_frame():
    cfg = sstft.DEFAULT
    rep = check_waveform(sstft.stft, 2048, cfg.sample_rate, output_hop=cfg.hop, frame_offset=cfg.hop - 1)
    assert rep.is_causal
    assert cfg.n_fft - 2 <= rep.receptive_field <= cfg.n_fft - 1  # the window, w[0] = 0


def test_identity_round_trips_have_no_lookahead_but_processing_shows_the_latency():
    def centred_roundtrip(x):
        return torch.istft(centred_stft(x), 512, 128, window=W512, center=True, length=x.shape[-1])

    assert check_waveform(centred_roundtrip, 2048, 16000, block=128).lookahead == 0
    assert check_waveform(lambda x: sstft.istft(sstft.stft(x), length=x.shape[-1]), 2048, 16000,
                          block=160).lookahead == 0
    gain = torch.linspace(0.2, 1.0, sstft.DEFAULT.n_freqs, dtype=torch.float64)[:, None]
    rep = check_waveform(lambda x: sstft.istft(sstft.stft(x) * gain, length=x.shape[-1]), 2048, 16000,
                         block=160)
    # output sample n now waits for every frame that covers it: the window (20 ms)
    assert 320 - 4 <= rep.lookahead <= 320 - 1
    assert rep.lookahead_ms == pytest.approx(20.0, abs=0.3)


def test_waveform_fir_filters_and_peak_normalisation():
    h = torch.randn(1, 1, 15, dtype=torch.float64)
    centred = check_waveform(lambda x: F.conv1d(x[:, None], h, padding=7)[:, 0], 1024, 16000, block=16)
    assert centred.lookahead == 7 and centred.lookahead_ms == pytest.approx(7 / 16)
    causal = check_waveform(lambda x: F.conv1d(F.pad(x[:, None], (14, 0)), h)[:, 0], 1024, 16000, block=16)
    assert causal.is_causal and causal.receptive_field == 14
    assert check_waveform(lambda x: x / x.abs().max(), 1024, 16000, n_probe=8, block=8).lookahead_unbounded


# ------------------------------------------------------------------ the checker itself


def test_gradient_map_shows_the_dependency_window():
    t_out = 20
    g = gradient_map(nn.Conv1d(2, 3, 3, padding=1), torch.randn(1, 2, T), time_dim=2, t_out=t_out)
    assert g.shape == (T,) and g[t_out + 1] > 0 and np.all(g[t_out + 2:] == 0)
    causal = nn.Sequential(nn.ConstantPad1d((2, 0), 0.0), nn.Conv1d(2, 3, 3))
    g = gradient_map(causal, torch.randn(1, 2, T), time_dim=2, t_out=t_out)
    assert np.all(g[t_out + 1:] == 0) and g[t_out - 2] > 0 and np.all(g[: t_out - 2] == 0)
    g = gradient_map(RNN(nn.GRU, True), seq(), time_dim=1, t_out=0)
    assert np.all(g[:10] > 0)


def test_report_reads_well():
    rep = check(nn.Conv2d(2, 3, (3, 3), padding=1), spec(), hop=160, sample_rate=16000)
    assert isinstance(rep, CausalityReport)
    text = str(rep)
    assert "NOT causal" in text and "1 frame (10.0 ms)" in text
    assert "<table>" in rep._repr_html_()
    d = rep.as_dict()
    assert d["lookahead"] == 1 and d["is_causal"] is False and d["lookahead_ms"] == pytest.approx(10.0)
    futures = [p for p in rep.probes if p.kind == "future"]
    assert len(futures) == T - 1 and max(p.extent for p in futures) == 1
    assert "unbounded" in str(check(RNN(nn.LSTM, True), seq(), time_dim=1))
    assert check(nn.Conv1d(2, 3, 1), torch.randn(1, 2, T)).lookahead_ms is None


def test_the_users_model_is_not_modified():
    model = _bn_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    check(model, spec(), mode="as_is")
    assert model.training and next(model.parameters()).dtype == torch.float32
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_dropout_in_train_mode_is_repeatable_and_not_a_mismatch():
    model = nn.Sequential(nn.ConstantPad1d((2, 0), 0.0), nn.Conv1d(2, 3, 3), nn.Dropout(0.5))
    rep = check(model, torch.randn(1, 2, T), mode="as_is")
    assert rep.is_causal and rep.train_eval_mismatch == 0.0
    assert train_eval_mismatch(_bn_model(), spec()) > 0.1


def test_inputs_without_time_and_errors():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(2, 2, 3, padding=1)

        def forward(self, x, g):
            return self.conv(x) * g[:, :, None]

    x, g = torch.randn(1, 2, T), torch.rand(1, 2)
    assert check(Scaled(), (x, g), time_dim=(2, None)).lookahead == 1
    with pytest.raises(ValueError, match="one time_dim per input"):
        check(Scaled(), (x, g), time_dim=2)
    with pytest.raises(ValueError, match="mode"):
        check(Scaled(), (x, g), time_dim=(2, None), mode="train")
    with pytest.raises(RuntimeError, match="not deterministic"):
        check(lambda x: x + torch.rand_like(x), x)


def test_long_examples_use_a_subset_of_probes():
    rep = check(nn.Conv1d(1, 1, 5, padding=2), torch.randn(1, 1, 300))
    assert rep.lookahead == 2 and sum(p.kind == "future" for p in rep.probes) == 64
    assert check(nn.Conv1d(1, 1, 5, padding=2), torch.randn(1, 1, 300), n_probe=9).lookahead == 2


def test_a_non_finite_example_is_refused():
    """Regression: a NaN in the example made every output NaN, no change was ever seen,
    and a non-causal layer was reported with lookahead 0."""
    x = torch.randn(1, 1, T)
    x[0, 0, 5] = float("nan")
    with pytest.raises(ValueError, match=r"example input 0 \(shape \(1, 1, 40\)\) contains 1 NaN or infinite"):
        check(nn.Conv1d(1, 1, 5, padding=2), x)
    with pytest.raises(ValueError, match="NaN or infinite"):
        check_waveform(lambda w: w, 100, example=torch.full((1, 100), float("inf")))
    with pytest.raises(ValueError, match="model's output on the example holds"):
        check(lambda v: v / 0.0, torch.randn(1, 1, T))
    assert check(nn.Conv1d(1, 1, 5, padding=2), torch.randn(1, 1, T)).lookahead == 2


def _arrival_loop(model, spec):
    """Reference for LSTMEnhancer.estimate_without_waiting: a literal frame-by-frame loop.
    At frame t the stream has frames <= t: the spliced future slots hold frame t, each
    layer's forward direction carries its (h, c), a backward direction starts from zero
    at frame t. torch.lstm_cell per layer and direction."""
    c = model.config
    feats = model._log_feats(spec)  # (1, F, T)
    n_frames = feats.shape[-1]
    rnn = model.lstm
    state = [(torch.zeros(1, c.hidden, dtype=spec.real.dtype),) * 2 for _ in range(c.layers)]
    outs = []
    for t in range(n_frames):
        past = [feats[..., max(t - k, 0)] for k in range(c.context, 0, -1)]
        inp = torch.cat(past + [feats[..., t]] * (1 + c.right_context), dim=-1)  # (1, D)
        for layer in range(c.layers):
            w = [getattr(rnn, f"{n}_l{layer}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h, cc = torch.lstm_cell(inp, state[layer], *w)
            state[layer] = (h, cc)
            if c.bidirectional:
                wr = [getattr(rnn, f"{n}_l{layer}_reverse") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                zero = torch.zeros(1, c.hidden, dtype=inp.dtype)
                hb, _ = torch.lstm_cell(inp, (zero, zero), *wr)
                h = torch.cat([h, hb], dim=-1)
            inp = h
        outs.append(inp)
    return model.output_head(torch.stack(outs, dim=1), spec)["spec"]


@pytest.mark.parametrize("overrides", [dict(bidirectional=True, layers=2),
                                       dict(context=2, right_context=3, layers=2),
                                       dict(bidirectional=True, right_context=1, layers=1)])
def test_a_stream_that_does_not_wait_matches_a_frame_by_frame_loop(overrides):
    from sedemo.dsp.stft import stft

    torch.manual_seed(0)
    model = models.build_model("lstm_mask", hidden=16, **overrides).double().eval()
    spec = stft(torch.randn(1, 4000, dtype=torch.float64))
    with torch.no_grad():
        got = model.estimate_without_waiting(spec)["spec"]
        ref = _arrival_loop(model, spec)
        offline = model(spec)
    torch.testing.assert_close(got, ref)
    assert not torch.allclose(got, offline)  # the model reads the future offline


def test_a_causal_lstm_streams_the_same_without_waiting():
    torch.manual_seed(0)
    model = models.build_model("lstm_mask", hidden=16, context=2).eval()
    x = 0.1 * np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    np.testing.assert_allclose(streaming.enhance_without_waiting(model, x), models.enhance(model, x), atol=1e-6)
    with pytest.raises(TypeError, match="LSTM enhancers"):
        streaming.enhance_without_waiting(models.build_model("crn"), x)
    with pytest.raises(ValueError):
        streaming.enhance_without_waiting(model, np.stack([x, x], axis=-1))  # stereo
