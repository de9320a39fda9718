"""GCRN: gated convolutional recurrent network for complex spectral mapping
(Tan & Wang, TASLP 2020). Chapter: 05_complex_mapping.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from sedemo.models.configs import GCRNConfig, _freq_sizes
from sedemo.dsp.features import compress, decompress_parts
from sedemo.models.base import SEModel, _param_dtype, _unit_phase
from sedemo.models.blocks import GroupedLSTM, _ConvBlock, _bottleneck, _bottleneck_step, _conv_states, _decoder, _run_decoder, _step_layers


class GCRN(SEModel):
    """Gated convolutional recurrent network (Tan & Wang 2020) and its variants; see :class:`GCRNConfig`.

    Reference: K. Tan, D. Wang, "Learning complex spectral mapping with gated
    convolutional recurrent networks for monaural speech enhancement", IEEE/ACM
    TASLP 28, 2020. Chapter 5 (claims C10, C11).
    Chapter: 05_complex_mapping.
    """

    def __init__(self, config: GCRNConfig):
        super().__init__(config)
        c = config
        self.freq_sizes = _freq_sizes(c.n_freqs, len(c.channels), c.kernel[1])
        chans = (2 if c.inputs == "complex" else 1,) + c.channels
        self.encoder = nn.ModuleList(
            _ConvBlock(chans[i], chans[i + 1], c.kernel, c.norm, gated=True) for i in range(len(c.channels))
        )
        flat = c.channels[-1] * self.freq_sizes[-1]
        hidden = c.lstm_hidden or flat
        if flat % c.lstm_groups:
            raise ValueError(f"the bottleneck size {flat} is not divisible by lstm_groups={c.lstm_groups}")
        self.lstm = GroupedLSTM(flat, hidden, c.lstm_layers, c.lstm_groups, c.rearrange)
        self.proj = nn.Linear(hidden, flat) if hidden != flat else nn.Identity()
        dec_ch = c.decoder_channels if c.decoder_channels is not None else c.channels[::-1][1:]
        n_out = {"complex": 2, "magnitude": 1, "mag_phase": 2}[c.target]
        per = n_out // c.n_decoders
        self.decoders = nn.ModuleList(
            _decoder(c.channels, dec_ch, per, c.kernel, c.norm, True, self.freq_sizes)
            for _ in range(c.n_decoders)
        )

    def estimate(self, noisy_spec: torch.Tensor) -> dict:
        """``{"spec": Ŝ}`` plus ``"magnitude"`` (compressed, targets ``magnitude``/``mag_phase``)
        and ``"phase"`` (radians, ``mag_phase``)."""
        c = self.config
        spec = self._prepare(noisy_spec)
        xc = compress(spec, c.compress).transpose(1, 2)  # (B, T, F)
        x = torch.stack([xc.real, xc.imag], 1) if c.inputs == "complex" else xc.abs().unsqueeze(1)
        skips = []
        for layer in self.encoder:
            x = layer(x)
            skips.append(x)
        x = _bottleneck(self.lstm, self.proj, x)
        y = torch.cat([_run_decoder(dec, x, skips) for dec in self.decoders], dim=1)  # (B, n_out, T, F)
        return self.output_head(y, spec)

    def _input(self, spec):
        c = self.config
        xc = compress(spec, c.compress).transpose(1, 2)  # (B, T, F)
        return torch.stack([xc.real, xc.imag], 1) if c.inputs == "complex" else xc.abs().unsqueeze(1)

    def init_state(self, batch: int = 1):
        """``{"enc": per-layer (conv history, norm state), "rnn": grouped-LSTM states,
        "dec": one such list per decoder}``, zeros. Chapter 7."""
        c = self.config
        dtype, device = _param_dtype(self), next(self.parameters()).device
        fs = self.freq_sizes
        n = len(c.channels)
        return {"enc": _conv_states(self.encoder, batch, fs[:n], dtype, device),
                "rnn": self.lstm.init_state(batch, dtype, device),
                "dec": [_conv_states(dec, batch, fs[n:0:-1], dtype, device) for dec in self.decoders]}

    def step(self, frame_spec, state=None):
        """Enhance the next ``n`` frames ``(B, F, n)`` (or ``(B, F)``); returns ``(out, state)``.
        Equals the offline output at those frames (``eval()`` mode). Chapter 7."""
        spec, squeeze = self._step_input(frame_spec)
        if state is None:
            state = self.init_state(spec.shape[0])
        x, enc, skips = _step_layers(self.encoder, self._input(spec), state["enc"])
        x, rnn = _bottleneck_step(self.lstm, self.proj, x, state["rnn"])
        ys, decs = [], []
        for dec, state in zip(self.decoders, state["dec"]):
            y, state, _ = _step_layers(dec, x, state, skips)
            ys.append(y)
            decs.append(state)
        out = self.output_head(torch.cat(ys, dim=1), spec)["spec"]
        return (out[..., 0] if squeeze else out), {"enc": enc, "rnn": rnn, "dec": decs}

    def output_head(self, y, spec) -> dict:
        c = self.config
        y = y.transpose(2, 3)  # (B, n_out, F, T)
        if c.target == "complex":
            return {"spec": decompress_parts(y[:, 0], y[:, 1], c.compress)}
        mag_c = F.softplus(y[:, 0])
        mag = mag_c.pow(1.0 / c.compress)
        if c.target == "magnitude":
            return {"spec": mag * _unit_phase(spec), "magnitude": mag_c}
        phase = y[:, 1]
        return {"spec": torch.complex(mag * torch.cos(phase), mag * torch.sin(phase)),
                "magnitude": mag_c, "phase": phase}


