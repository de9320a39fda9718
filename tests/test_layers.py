"""Causal building blocks (sedemo.layers): shapes, causality through the checker, streaming
step-by-step equal to offline, bounded states, cumulative layer norm (chapter 7)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sedemo.causality import check
from sedemo.layers import (
    CausalConv1d,
    CausalConv2d,
    CausalConvTranspose2d,
    CausalMultiheadAttention,
    ChunkedAttention,
    CumulativeLayerNorm,
    state_nbytes,
    stream,
)

T = 40
TOL = 1e-5


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def streamed_equals_offline(layer, x, chunk_sizes=(1, 3)):
    layer.eval()
    with torch.no_grad():
        y = layer(x)
        for c in chunk_sizes:
            ys, _ = stream(layer, x, chunk_size=c)
            assert ys.shape == y.shape
            assert (ys - y).abs().max() <= TOL, f"chunk {c}: {(ys - y).abs().max()}"
    return y


# ------------------------------------------------------------------ convolutions


@pytest.mark.parametrize("k,dilation,lookahead", [(3, 1, 0), (3, 1, 1), (5, 1, 2), (3, 2, 0), (3, 2, 3)])
def test_causal_conv1d(k, dilation, lookahead):
    layer = CausalConv1d(2, 3, k, dilation=dilation, lookahead=lookahead)
    x = torch.randn(2, 2, T)
    y = streamed_equals_offline(layer, x)
    assert y.shape == (2, 3, T)
    rep = check(layer, x[:1])
    assert rep.lookahead == lookahead and not rep.lookahead_unbounded
    assert rep.receptive_field == dilation * (k - 1) - lookahead


@pytest.mark.parametrize("stride,lookahead", [(2, 0), (2, 1), (3, 2)])
def test_strided_conv1d_shapes_and_streaming(stride, lookahead):
    layer = CausalConv1d(2, 4, 4, stride=stride, lookahead=lookahead, groups=2)
    x = torch.randn(1, 2, 31)
    y = streamed_equals_offline(layer, x, chunk_sizes=(stride, 2 * stride))
    assert y.shape == (1, 4, -(-31 // stride))
    # output t reads nothing after input t*stride + lookahead
    x2 = x.clone()
    x2[..., 5 * stride + lookahead + 1 :] += 1.0
    with torch.no_grad():
        assert torch.equal(layer(x2)[..., : 6], layer(x)[..., : 6])


@pytest.mark.parametrize("kernel,dilation,lookahead", [((2, 3), 1, 0), ((3, 3), 1, 1), ((3, 5), (2, 1), 2)])
def test_causal_conv2d(kernel, dilation, lookahead):
    layer = CausalConv2d(2, 3, kernel, stride=(1, 2), dilation=dilation, lookahead=lookahead, freq_padding=1)
    x = torch.randn(2, 2, T, 9)
    y = streamed_equals_offline(layer, x)
    kf = kernel[1]
    assert y.shape == (2, 3, T, (9 + 2 - kf) // 2 + 1)
    rep = check(layer, x[:1], hop=160, sample_rate=16000)
    assert rep.lookahead == lookahead and rep.lookahead_ms == pytest.approx(10.0 * lookahead)
    dt = dilation[0] if isinstance(dilation, tuple) else dilation
    assert rep.receptive_field == dt * (kernel[0] - 1) - lookahead


def test_conv2d_asymmetric_frequency_padding_and_errors():
    layer = CausalConv2d(1, 2, (2, 4), freq_padding=(2, 1))
    assert layer(torch.randn(1, 1, 7, 10)).shape == (1, 2, 7, 10)
    with pytest.raises(ValueError, match="time stride of 1"):
        CausalConv2d(1, 2, (2, 3), stride=2)
    with pytest.raises(ValueError, match="lookahead must be between 0 and 1"):
        CausalConv2d(1, 2, (2, 3), lookahead=2)
    with pytest.raises(ValueError, match="4-D input"):
        layer(torch.randn(1, 7, 10))
    with pytest.raises(ValueError, match="lookahead"):
        CausalConv1d(1, 1, 3, lookahead=-1)


@pytest.mark.parametrize("kt,lookahead", [(2, 0), (2, 1), (3, 0), (3, 2)])
def test_causal_conv_transpose2d(kt, lookahead):
    layer = CausalConvTranspose2d(3, 2, (kt, 3), stride=(1, 2), output_padding=(0, 1), lookahead=lookahead)
    x = torch.randn(2, 3, T, 4)
    y = streamed_equals_offline(layer, x)
    assert y.shape == (2, 2, T, (4 - 1) * 2 + 3 + 1)
    rep = check(layer, x[:1])
    assert rep.lookahead == lookahead and rep.receptive_field == kt - 1 - lookahead


def test_conv_transpose2d_options_and_errors():
    layer = CausalConvTranspose2d(1, 1, (2, 3), stride=(1, 2), output_padding=1, freq_padding=1)
    assert layer(torch.randn(1, 1, 5, 4)).shape == (1, 1, 5, (4 - 1) * 2 - 2 + 3 + 1)
    with pytest.raises(ValueError, match="time stride of 1"):
        CausalConvTranspose2d(1, 1, (2, 3), stride=(2, 2))
    with pytest.raises(ValueError, match="output_padding along time"):
        CausalConvTranspose2d(1, 1, (2, 3), stride=(1, 2), output_padding=(1, 1))


def test_conv_stream_with_lookahead_lags_and_flushes():
    layer = CausalConv1d(1, 1, 3, lookahead=2).eval()
    state, sizes = None, []
    for t in range(4):
        y, state = layer.step(torch.randn(1, 1, 1), state)
        sizes.append(y.shape[2])
    assert sizes == [0, 0, 1, 1]  # frame t comes out once frame t + 2 is in
    assert state_nbytes(state) == 2 * 4  # dilation*(k-1) float32 frames


def test_init_state_is_the_zero_history():
    layer = CausalConv2d(2, 3, (3, 3), freq_padding=1).eval()
    x = torch.randn(1, 2, 5, 7)
    c0 = layer.init_state(x)
    assert c0.shape == (1, 2, 2, 9) and not c0.any()
    with torch.no_grad():
        assert torch.equal(layer.step(x, c0)[0], layer.step(x, None)[0])


# ------------------------------------------------------------------ attention


def test_attention_shapes_and_weights():
    attn = CausalMultiheadAttention(8, 2, window=5)
    x = torch.randn(2, 12, 8)
    assert attn(x).shape == x.shape
    w = attn.attention_weights(x)
    assert w.shape == (2, 2, 12, 12)
    assert torch.allclose(w.sum(-1), torch.ones(2, 2, 12))
    t, j = torch.meshgrid(torch.arange(12), torch.arange(12), indexing="ij")
    assert (w[:, :, (j > t) | (t - j >= 5)] == 0).all()
    with pytest.raises(ValueError, match="divisible"):
        CausalMultiheadAttention(10, 3)


@pytest.mark.parametrize("window", [None, 1, 6])
def test_causal_attention_passes_the_checker(window):
    attn = CausalMultiheadAttention(8, 2, window=window)
    rep = check(attn, torch.randn(1, T, 8), time_dim=1)
    assert rep.is_causal
    if window is None:
        assert rep.receptive_field_unbounded  # every past frame, however far
    else:
        assert rep.receptive_field == window - 1 and not rep.receptive_field_unbounded


@pytest.mark.parametrize("chunk,n_mem", [(4, 1), (5, 2), (3, 0)])
def test_chunked_attention_passes_the_checker(chunk, n_mem):
    rep = check(ChunkedAttention(8, 2, chunk, n_mem), torch.randn(1, T, 8), time_dim=1)
    assert rep.is_causal and rep.receptive_field == (n_mem + 1) * chunk - 1


@pytest.mark.parametrize(
    "layer",
    [CausalMultiheadAttention(8, 2), CausalMultiheadAttention(8, 4, window=7), ChunkedAttention(8, 2, 4, 2),
     ChunkedAttention(8, 2, 5, 0)],
    ids=["full", "window", "chunked", "chunk-only"],
)
def test_attention_streaming_equals_offline(layer):
    y = streamed_equals_offline(layer, torch.randn(2, 30, 8), chunk_sizes=(1, 4))
    assert y.shape == (2, 30, 8)


def _cache_growth(layer, n_steps=60):
    layer.eval()
    state, sizes = None, []
    with torch.no_grad():
        for _ in range(n_steps):
            _, state = layer.step(torch.randn(1, 1, 8), state)
            sizes.append(state_nbytes(state))
    return sizes


def test_full_attention_cache_grows_linearly_windowed_and_chunked_stay_bounded():
    frame = 2 * 8 * 4  # keys + values, d_model float32 values each
    full = _cache_growth(CausalMultiheadAttention(8, 2))
    assert full == [frame * (t + 1) for t in range(60)]
    window = _cache_growth(CausalMultiheadAttention(8, 2, window=8))
    assert max(window) == frame * 7 and window[-1] == window[10]
    chunked = _cache_growth(ChunkedAttention(8, 2, chunk_size=4, n_memory_chunks=2))
    assert max(chunked) == frame * (3 * 4 - 1) and max(chunked[30:]) == max(chunked[:30])
    assert CausalMultiheadAttention.state_nbytes(None) == 0
    assert state_nbytes({"a": [torch.zeros(3), (torch.zeros(2, dtype=torch.float64), None)], "n": 5}) == 28


# ------------------------------------------------------------------ cumulative layer norm


def cln_loop(x, gain, bias, eps):
    """Float64 re-derivation of cLN (Luo & Mesgarani 2019) with an explicit loop over frames."""
    x = x.double()
    y = torch.empty_like(x)
    shape = (1, -1, 1) if x.dim() == 3 else (1, -1, 1, 1)
    for b in range(x.shape[0]):
        for t in range(x.shape[2]):
            past = x[b, :, : t + 1]
            mean = past.mean()
            var = ((past - mean) ** 2).mean()
            y[b, :, t] = (x[b, :, t] - mean) / torch.sqrt(var + eps)
    return y * gain.double().view(shape) + bias.double().view(shape)


@pytest.mark.parametrize("shape", [(2, 3, 25), (2, 3, 25, 6)])
def test_cumulative_layer_norm_matches_a_loop(shape):
    norm = CumulativeLayerNorm(3)
    with torch.no_grad():
        norm.gain.uniform_(0.5, 1.5)
        norm.bias.normal_()
    x = torch.randn(shape) * 3 + 2
    ref = cln_loop(x, norm.gain, norm.bias, norm.eps)
    assert (norm(x).double() - ref).abs().max() < TOL
    assert (norm.double()(x.double()) - ref).abs().max() < 1e-10
    streamed_equals_offline(norm.float(), x, chunk_sizes=(1, 7))
    assert check(norm, x[:1], mode="as_is").is_causal


def test_global_layer_norm_leaks_cumulative_does_not():
    x = torch.randn(1, 3, T, 5)
    assert check(nn.GroupNorm(1, 3), x).lookahead_unbounded  # statistics over (C, T, F)
    rep = check(CumulativeLayerNorm(3), x)
    assert rep.is_causal and rep.receptive_field_unbounded
    assert sum(p.numel() for p in CumulativeLayerNorm(3).parameters()) == 6
    with pytest.raises(ValueError, match="expects"):
        CumulativeLayerNorm(3)(torch.randn(1, 4, 5))


# ------------------------------------------------------------------ a small encoder-decoder


class TinyCRN(nn.Module):
    """Encoder (CausalConv2d, freq stride 2) -> cLN -> ELU -> decoder (CausalConvTranspose2d)."""

    def __init__(self):
        super().__init__()
        self.enc = CausalConv2d(1, 4, (2, 3), stride=(1, 2))
        self.norm = CumulativeLayerNorm(4)
        self.dec = CausalConvTranspose2d(4, 1, (2, 3), stride=(1, 2))

    def forward(self, x):
        return self.dec(torch.nn.functional.elu(self.norm(self.enc(x))))

    def step(self, x, state=None):
        c1, c2, c3 = state or (None, None, None)
        h, c1 = self.enc.step(x, c1)
        h, c2 = self.norm.step(h, c2)
        y, c3 = self.dec.step(torch.nn.functional.elu(h), c3)
        return y, (c1, c2, c3)


def test_composed_blocks_stay_causal_and_stream():
    model = TinyCRN().eval()
    x = torch.randn(1, 1, T, 9)
    rep = check(model, x, mode="as_is")
    assert rep.is_causal and rep.receptive_field_unbounded  # cLN remembers the whole past
    with torch.no_grad():
        y = model(x)
        assert y.shape == x.shape
        state, outs = None, []
        for t in range(T):
            out, state = model.step(x[:, :, t : t + 1], state)
            outs.append(out)
        assert (torch.cat(outs, dim=2) - y).abs().max() <= TOL
