"""TCN: a causal Conv-TasNet-style time-domain model (claim C2). Chapter: 06_losses.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from sedemo import layers as snn
from sedemo._utils import as_tensor
from sedemo.models.configs import TCNConfig
from sedemo.models.base import SEModel, _param_dtype, check_streamable


# --------------------------------------------------------------------------- TCN (time domain, C2)
def _pointwise(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 ``conv`` on ``(B, C, n)`` as a matrix product: what a streaming step computes (the
    same values as ``conv(x)`` to float rounding, without conv1d's per-call overhead on a few frames)."""
    return F.linear(x.transpose(1, 2), conv.weight[:, :, 0], conv.bias).transpose(1, 2)


class _TCNBlock(nn.Module):
    """One Conv-TasNet block: 1x1 conv, PReLU, cLN, depthwise dilated causal conv, PReLU, cLN,
    1x1 conv, residual. Layout ``(B, channels, frames)``."""

    def __init__(self, channels: int, hidden: int, kernel: int, dilation: int):
        super().__init__()
        self.inp = nn.Conv1d(channels, hidden, 1)
        self.act1 = nn.PReLU()
        self.norm1 = snn.CumulativeLayerNorm(hidden)
        self.dconv = snn.CausalConv1d(hidden, hidden, kernel, dilation=dilation, groups=hidden)
        self.act2 = nn.PReLU()
        self.norm2 = snn.CumulativeLayerNorm(hidden)
        self.out = nn.Conv1d(hidden, channels, 1)

    def forward(self, x):
        y = self.norm1(self.act1(self.inp(x)))
        y = self.norm2(self.act2(self.dconv(y)))
        return x + self.out(y)

    def init_state(self, batch, dtype, device):
        h = self.inp.out_channels
        conv = torch.zeros(batch, h, self.dconv.pad_past, dtype=dtype, device=device)
        return (snn.CumulativeLayerNorm.init_state(batch, dtype, device), conv, snn.CumulativeLayerNorm.init_state(batch, dtype, device))

    def step(self, x, state):
        """``n`` new frames ``(B, C, n)``; state: (cLN sums, last ``dilation*(P-1)`` frames, cLN sums).
        The depthwise dilated conv is written out as a sum of ``P`` shifted, scaled copies."""
        c1, c2, c3 = state
        y, c1 = self.norm1.step(self.act1(_pointwise(self.inp, x)), c1)
        inp = torch.cat([c2, y], dim=2)
        conv = self.dconv.conv
        n, d, w = y.shape[2], conv.dilation[0], conv.weight[:, 0]  # w: (H, P)
        acc = conv.bias[:, None] + w[:, :1] * inp.narrow(2, 0, n)
        for k in range(1, w.shape[1]):
            acc = acc + w[:, k : k + 1] * inp.narrow(2, k * d, n)
        c2 = inp.narrow(2, n, inp.shape[2] - n).clone()
        y, c3 = self.norm2.step(self.act2(acc), c3)
        return x + _pointwise(self.out, y), (c1, c2, c3)


class TCN(SEModel):
    """Causal Conv-TasNet-style enhancer on waveforms (claim C2); see :class:`TCNConfig`.

    ``model(noisy)``: ``(B, L)`` waveform -> ``(B, L)`` enhanced waveform
    (``model.domain == "time"``). ``model.estimate(noisy)`` returns ``"wave"`` (the
    output), ``"mask"`` ``(B, N, T)`` and ``"frames"`` (the encoder output ``(B, N,
    T)``). References: Luo & Mesgarani 2019 (``luo2019convtasnet``); Pandey & Wang 2019.

    Framing. With kernel ``K`` and hop ``S``, frame ``t`` covers samples ``[t*S -
    (K-S), t*S + S - 1]`` (``K - S`` zeros before the start, as the streaming
    encoder's initial state) and the decoder overlap-adds its ``K`` output samples
    onto the same positions; there are ``T = floor((L - 1 + K - S) / S) + 1`` frames,
    so every sample gets all the frames that overlap it (zeros are padded after the
    end). Frame ``t`` depends on samples ``<= t*S + S - 1`` only (tested at frame
    level: lookahead 0 with frames stamped at their last sample), so output sample
    ``n`` depends on samples ``<= n + K - 1`` (the framing: 31 samples, 1.94 ms, by
    default). That is the algorithmic latency of one kernel (2 ms), as the
    STFT models' one window (20 ms).

    Streaming: ``state = model.init_state(batch)``, ``out, state = model.step(x,
    state)`` with ``x`` the next ``n*S`` samples ``(B, n*S)`` (``n >= 1``), ``out`` the
    next ``n*S`` samples of the output stream, which is the offline output delayed
    by ``K - S`` samples (the first ``K - S`` stream samples belong to the padding
    before the start). State: the encoder's last ``K - S`` input samples, every
    dilated conv's last ``dilation*(P-1)`` frames, every cLN's running sums and the
    decoder's overlap-add tail of ``K - S`` samples; constant size.
    Chapter: 06_losses.
    """

    domain = "time"

    def __init__(self, config: TCNConfig):
        super().__init__(config)
        c = config
        self.encoder = snn.CausalConv1d(1, c.filters, c.kernel, stride=c.stride,
                                        lookahead=c.stride - 1, bias=False)
        self.in_norm = snn.CumulativeLayerNorm(c.filters)
        self.bottleneck = nn.Conv1d(c.filters, c.bottleneck, 1)
        self.blocks = nn.ModuleList(
            _TCNBlock(c.bottleneck, c.hidden, c.conv_kernel, 2 ** x)
            for _ in range(c.repeats) for x in range(c.blocks)
        )
        self.mask_act = nn.PReLU()
        self.mask_conv = nn.Conv1d(c.bottleneck, c.filters, 1)
        self.decoder = nn.ConvTranspose1d(c.filters, 1, c.kernel, stride=c.stride, bias=False)

    @property
    def receptive_field_frames(self) -> int:
        c = self.config
        return 1 + c.repeats * (c.conv_kernel - 1) * (2 ** c.blocks - 1)

    @property
    def output_delay(self) -> int:
        """Samples by which :meth:`step`'s output stream lags the offline output: ``K - S``."""
        return self.config.kernel - self.config.stride

    def _prepare(self, noisy) -> torch.Tensor:
        x = noisy if isinstance(noisy, torch.Tensor) else as_tensor(noisy)
        if x.is_complex():
            raise TypeError(f"{type(self).__name__} is a time-domain model: it takes the noisy "
                            "waveform (batch, L), not an STFT (use sedemo.models.enhance for both kinds)")
        if x.dim() != 2:
            hint = " Add a batch axis: x.unsqueeze(0)." if x.dim() == 1 else ""
            raise ValueError(f"{type(self).__name__} expects a waveform (batch, L), got shape "
                             f"{tuple(x.shape)}.{hint}")
        if x.shape[-1] < 1:
            raise ValueError(f"{type(self).__name__} needs at least one sample")
        return x.to(_param_dtype(self))

    def _separate(self, w, states=None):
        """Mask ``(B, N, T)`` from the encoder frames ``w``; streaming when ``states`` is a list."""
        if states is None:
            y = self.bottleneck(self.in_norm(w))
            for blk in self.blocks:
                y = blk(y)
            return torch.sigmoid(self.mask_conv(self.mask_act(y))), None
        new = []
        z, c = self.in_norm.step(w, states[0])
        new.append(c)
        y = _pointwise(self.bottleneck, z)
        for blk, state in zip(self.blocks, states[1:]):
            y, state = blk.step(y, state)
            new.append(state)
        return torch.sigmoid(_pointwise(self.mask_conv, self.mask_act(y))), new

    def estimate(self, noisy: torch.Tensor) -> dict:
        x = self._prepare(noisy)
        k, s = self.config.kernel, self.config.stride
        length = x.shape[-1]
        n_frames = (length - 1 + k - s) // s + 1
        # the encoder pads K-S zeros before (its causal padding) and reads S-1 samples past each
        # frame start; zeros after the end complete the last frames
        w = F.relu(self.encoder(F.pad(x, (0, n_frames * s - length)).unsqueeze(1)))  # (B, N, T)
        mask, _ = self._separate(w)
        full = self.decoder(mask * w)[:, 0]  # (B, (T-1)*S + K): index j = sample j - (K-S)
        wave = full[:, k - s : k - s + length]
        return {"wave": wave, "mask": mask, "frames": w}

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """Waveform ``(B, L)`` -> enhanced waveform ``(B, L)``."""
        return self.estimate(noisy)["wave"]

    def init_state(self, batch: int = 1):
        p = next(self.parameters())
        dt, dev = p.dtype, p.device
        k, s = self.config.kernel, self.config.stride
        return {
            "encoder": torch.zeros(batch, 1, k - s, dtype=dt, device=dev),
            "norms": [snn.CumulativeLayerNorm.init_state(batch, dt, dev)] + [b.init_state(batch, dt, dev) for b in self.blocks],
            "decoder": torch.zeros(batch, k - s, dtype=dt, device=dev),
        }

    def step(self, chunk, state=None):
        """Enhance the next ``n*S`` samples ``(B, n*S)`` (or ``(n*S,)`` for batch 1) of a stream.

        Returns ``(out, state)``: ``out`` the next ``n*S`` samples of the output
        stream (the offline output delayed by ``K - S`` samples). Concatenating the
        outputs of successive steps (plus ``K - S`` samples of zeros fed at the end)
        reproduces :meth:`forward` in ``eval()`` mode."""
        x = chunk if isinstance(chunk, torch.Tensor) else as_tensor(chunk)
        squeeze = x.dim() == 1
        x = self._prepare(x.unsqueeze(0) if squeeze else x)
        check_streamable(self)
        k, s = self.config.kernel, self.config.stride
        if x.shape[-1] % s:
            raise ValueError(f"{type(self).__name__}.step takes a whole number of hops of {s} samples, "
                             f"got {x.shape[-1]}; buffer the input (sedemo.streaming.StreamingEnhancer does)")
        if state is None:
            state = self.init_state(x.shape[0])
        n = x.shape[-1]
        inp = torch.cat([state["encoder"], x.unsqueeze(1)], dim=2)[:, 0]  # (B, K-S + n)
        enc = inp[:, None, n:].clone()  # the last K-S samples
        # encoder frames: windows of K samples every S, times the filters (B, N, n/S)
        w = F.relu(torch.matmul(inp.unfold(-1, k, s), self.encoder.conv.weight[:, 0].t()).transpose(1, 2))
        mask, norms = self._separate(w, state["norms"])
        # decoder: each masked frame times the basis signals (B, K, n/S), overlap-added every S samples
        frames = torch.matmul(self.decoder.weight[:, 0].t(), mask * w)
        full = F.fold(frames, output_size=(1, n - s + k), kernel_size=(1, k), stride=(1, s))[:, 0, 0]
        full = torch.cat([full[:, : k - s] + state["decoder"], full[:, k - s :]], dim=-1)
        out = full[:, :n]
        new = {"encoder": enc, "norms": norms, "decoder": full[:, n:].clone()}
        return (out[0] if squeeze else out), new


