"""ULCRN: an ultra-light causal convolutional recurrent network with a complex mask, in
the class of GTCRN (Rong et al., ICASSP 2024) and LiSenNet (Yan et al., ICASSP 2025).
Chapter: 05_complex_mapping.

The ingredients that make a model of 20-50 K parameters work, each a few lines here:

* **ERB band compression** (:func:`sedemo.dsp.features.erb_band_matrices`): the low
  bins kept, the high bins merged into bands on the ERB scale, so the network sees
  64 frequency positions instead of 161, and the mask is interpolated back;
* **subband feature extraction** (SFE): each position also sees its two neighbours
  (three bins stacked as channels), a cheap widening of the receptive field in
  frequency;
* **grouped temporal convolution blocks** (GT blocks): pointwise - depthwise causal
  dilated convolution along time - pointwise, with a residual; the dilations
  (1, 2, 5 by default) give the encoder about 17 frames (170 ms) of context;
* **temporal recurrent attention** (TRA): a small GRU over the per-channel energy
  gates the channels of each block, frame by frame;
* **dual-path recurrence** (DPRNN-style, Luo et al. 2020): a bidirectional GRU along
  frequency inside each frame (causal: it only sees the current frame) and a
  unidirectional GRU along time for each frequency position;
* a **complex ratio mask** ``M`` (tanh-bounded real and imaginary parts) applied to the
  noisy STFT: ``S = M Y``; with ``df_order`` ``N`` > 1, a **causal deep filter** on the
  low bins adds ``Σ_{k=1}^{N-1} W_k Y(t - k)`` (tanh-bounded taps from a second head that
  starts at zero; DeepFilterNet's idea, H. Schröter et al., ICASSP 2022), so that the
  harmonics of a voice, a few bins apart below 1.6 kHz, can be picked out of the noise
  with what the last frames held.

Every operation is either per frame (convolutions with a time kernel of 1, the
frequency GRU, the per-frame layer norms, BatchNorm in ``eval()``) or causal with a
state (the dilated depthwise convolutions keep their last ``2 d`` input frames, the
GRUs their hidden state). The model is written once, as ``_run(re, im, state)`` on
real tensors: offline inference passes the zero state and all frames, ``step`` the
carried state and the next frames, so streaming equals offline by construction (and
the same function is what the ONNX export traces).
"""
from __future__ import annotations

from dataclasses import asdict

import torch
import torch.nn.functional as F
from torch import nn

from sedemo.dsp.features import compress_scale, erb_band_matrices
from sedemo.models.base import SEModel, _param_dtype
from sedemo.models.configs import ULCRNConfig

def _sfe(x: torch.Tensor) -> torch.Tensor:
    """Subband feature extraction: ``(B, C, T, F) -> (B, 3C, T, F)``, each position with
    its lower and upper neighbour (zeros beyond the edges)."""
    p = F.pad(x, (1, 1))
    return torch.cat([p[..., :-2], x, p[..., 2:]], dim=1)


class _TRA(nn.Module):
    """Temporal recurrent attention: ``gate = sigmoid(W GRU(mean_f x^2))`` per channel and frame."""

    def __init__(self, ch: int):
        super().__init__()
        self.gru = nn.GRU(ch, ch, batch_first=True)
        self.fc = nn.Linear(ch, ch)

    def forward(self, x, h):
        e = x.pow(2).mean(-1).transpose(1, 2)  # (B, T, C)
        g, h = self.gru(e, h)
        g = torch.sigmoid(self.fc(g)).transpose(1, 2).unsqueeze(-1)  # (B, C, T, 1)
        return x * g, h


class _GTBlock(nn.Module):
    """Residual block: 1x1 conv (C -> 2C), BN, ELU; depthwise causal conv (3 frames
    dilated by ``d`` x 3 positions), BN, ELU; 1x1 conv (2C -> C), BN; TRA gate; + input."""

    def __init__(self, ch: int, dilation: int, attention: bool):
        super().__init__()
        self.dilation = dilation
        self.pw1 = nn.Sequential(nn.Conv2d(ch, 2 * ch, 1), nn.BatchNorm2d(2 * ch), nn.ELU())
        self.dw = nn.Conv2d(2 * ch, 2 * ch, (3, 3), padding=(0, 1), dilation=(dilation, 1), groups=2 * ch)
        self.dw_post = nn.Sequential(nn.BatchNorm2d(2 * ch), nn.ELU())
        self.pw2 = nn.Sequential(nn.Conv2d(2 * ch, ch, 1), nn.BatchNorm2d(ch))
        self.tra = _TRA(ch) if attention else None

    def history(self) -> int:
        return 2 * self.dilation

    def forward(self, x, hist, h):
        y = self.pw1(x)
        full = torch.cat([hist, y], dim=2)  # the past 2d frames, then these
        new_hist = full[:, :, full.shape[2] - self.history():]
        y = self.pw2(self.dw_post(self.dw(full)))
        if self.tra is not None:
            y, h = self.tra(y, h)
        return x + y, new_hist, h


class _DPBlock(nn.Module):
    """Dual-path recurrence on ``(B, C, T, Fb)``: a bidirectional GRU along frequency inside
    each frame, then a GRU along time per frequency position; each followed by a linear
    layer, a layer norm over (frequency, channels) of the frame, and a residual."""

    def __init__(self, ch: int, n_bands: int):
        super().__init__()
        self.intra = nn.GRU(ch, ch // 2, batch_first=True, bidirectional=True)
        self.intra_fc = nn.Linear(2 * (ch // 2), ch)
        self.intra_norm = nn.LayerNorm([n_bands, ch])
        self.inter = nn.GRU(ch, ch, batch_first=True)
        self.inter_fc = nn.Linear(ch, ch)
        self.inter_norm = nn.LayerNorm([n_bands, ch])

    def forward(self, x, h):
        b, c, t, f = x.shape
        z = x.permute(0, 2, 3, 1)  # (B, T, F, C)
        y, _ = self.intra(z.reshape(b * t, f, c))
        z = z + self.intra_norm(self.intra_fc(y).reshape(b, t, f, c))
        y, h = self.inter(z.transpose(1, 2).reshape(b * f, t, c), h)
        y = self.inter_fc(y).reshape(b, f, t, c).transpose(1, 2)
        z = z + self.inter_norm(y)
        return z.permute(0, 3, 1, 2), h


class ULCRN(SEModel):
    """Ultra-light causal CRN with ERB bands, subband features, GT blocks, dual-path GRUs and
    a complex ratio mask; see :class:`sedemo.models.ULCRNConfig` and the module text.

    ``estimate`` returns ``{"spec": M Y, "mask": M}`` (``M`` complex ``(B, F, T)``).
    References: X. Rong, T. Sun, X. Zhang, Y. Hu, C. Zhu, J. Lu, "GTCRN: a speech
    enhancement model requiring ultralow computational resources", ICASSP 2024;
    H. Yan et al., "LiSenNet", ICASSP 2025; Y. Luo, Z. Chen, T. Yoshioka, "Dual-path
    RNN", ICASSP 2020. Chapter: 05_complex_mapping.
    """

    def __init__(self, config: ULCRNConfig):
        super().__init__(config)
        c = config
        ana, syn = erb_band_matrices(c.n_freqs, c.low_bins, c.erb_bands, c.sample_rate)
        self.register_buffer("erb_analysis", ana, persistent=False)
        self.register_buffer("erb_synthesis", syn, persistent=False)
        ch, nb = c.channels, (c.low_bins + c.erb_bands) // 4
        self.conv1 = nn.Sequential(nn.Conv2d(9, ch, (1, 5), stride=(1, 2), padding=(0, 2)),
                                   nn.BatchNorm2d(ch), nn.ELU())
        self.conv2 = nn.Sequential(nn.Conv2d(ch, ch, (1, 5), stride=(1, 2), padding=(0, 2), groups=2),
                                   nn.BatchNorm2d(ch), nn.ELU())
        self.enc_blocks = nn.ModuleList(_GTBlock(ch, d, c.attention) for d in c.dilations)
        self.dp_blocks = nn.ModuleList(_DPBlock(ch, nb) for _ in range(c.rnn_blocks))
        self.dec_blocks = nn.ModuleList(_GTBlock(ch, d, c.attention) for d in c.dilations[::-1])
        self.deconv2 = nn.Sequential(
            nn.ConvTranspose2d(ch, ch, (1, 5), stride=(1, 2), padding=(0, 2), output_padding=(0, 1), groups=2),
            nn.BatchNorm2d(ch), nn.ELU())
        self.deconv1 = nn.Sequential(
            nn.ConvTranspose2d(ch, 2, (1, 5), stride=(1, 2), padding=(0, 2), output_padding=(0, 1)),
            nn.BatchNorm2d(2))
        if c.df_order > 1:  # the deep filter's past taps on the low bins, zero at the start
            self.df_head = nn.ConvTranspose2d(ch, 2 * (c.df_order - 1), (1, 5), stride=(1, 2),
                                              padding=(0, 2), output_padding=(0, 1))
            nn.init.zeros_(self.df_head.weight)
            nn.init.zeros_(self.df_head.bias)

    # ------------------------------------------------------------------ the one computation
    def _features(self, re, im, floor: float = 0.0):
        """``(B, F, T)`` real and imaginary parts -> ``(B, 9, T, Fb)``: compressed (re, im,
        magnitude) on the ERB bands, with SFE. ``floor``: a magnitude below which the
        compression's scale ``|Y|^(c-1)`` stops growing (0: the model's own computation)."""
        scale, mag2 = compress_scale(re, im, self.config.compress)  # |Y|^(c-1); 0 stays 0
        mag = mag2.sqrt()
        if floor > 0:  # finite gradients at |Y| -> 0 (sqrt's and the power's)
            floored = mag2.clamp_min(floor * floor)
            scale, mag = floored.pow((self.config.compress - 1.0) / 2.0), floored.sqrt()
        x = torch.stack([re * scale, im * scale, mag * scale], dim=1)  # (B, 3, F, T)
        x = torch.matmul(self.erb_analysis, x)  # (B, 3, Fb, T)
        return _sfe(x.transpose(2, 3))  # (B, 9, T, Fb)

    def _run(self, re, im, state):
        """Real ``(B, F, T)`` parts of the noisy STFT and a state -> the mask's parts, the deep
        filter's past taps ``(B, 2 (N - 1), T, low_bins)`` (re, im per tap; ``None`` when
        ``df_order`` is 1) and the new state."""
        x = self._features(re, im)
        e1 = self.conv1(x)
        x = self.conv2(e1)
        conv, tra, rnn = list(state["conv"]), list(state["tra"]), list(state["rnn"])
        k = 0
        skips = []
        for blk in self.enc_blocks:
            x, conv[k], tra[k] = blk(x, conv[k], tra[k])
            skips.append(x)
            k += 1
        for i, blk in enumerate(self.dp_blocks):
            x, rnn[i] = blk(x, rnn[i])
        for blk, skip in zip(self.dec_blocks, skips[::-1]):
            x, conv[k], tra[k] = blk(x + skip, conv[k], tra[k])
            k += 1
        x = self.deconv2(x) + e1
        m = torch.tanh(self.deconv1(x))  # (B, 2, T, Fb)
        m = torch.matmul(self.erb_synthesis, m.transpose(2, 3))  # (B, 2, F, T)
        taps = None
        if self.config.df_order > 1:  # the low positions of the band axis are the low bins themselves
            taps = torch.tanh(self.df_head(x)[..., : self.config.low_bins])
        return m[:, 0], m[:, 1], taps, {**state, "conv": conv, "tra": tra, "rnn": rnn}

    def encode(self, noisy_spec: torch.Tensor, floor: float = 0.0) -> list[torch.Tensor]:
        """The encoder's activations for a noisy STFT ``(B, F, T)`` complex: the two
        strided convolutions and each GT block, ``(B, C, T, Fb/2)`` and ``(B, C, T, Fb/4)``
        (``C`` = ``channels``). Causal, like the whole model. ``floor``: see
        :meth:`_features`; a loss that takes gradients through the encoder needs one,
        because ``|Y|^(c-1)`` is unbounded as ``|Y| -> 0``. Used as a trained speech
        embedding by :class:`sedemo.losses.ModelEncoder` (claim C5).
        Chapter: 06_losses."""
        spec = self._prepare(noisy_spec)
        x = self.conv1(self._features(spec.real, spec.imag, floor))
        feats = [x]
        x = self.conv2(x)
        feats.append(x)
        state = self.init_state(spec.shape[0])
        for k, blk in enumerate(self.enc_blocks):
            x, _, _ = blk(x, state["conv"][k], state["tra"][k])
            feats.append(x)
        return feats

    def new_weights_over(self, source) -> tuple[str, ...] | None:
        """A ULCRN with a deep filter may start from the same ULCRN without one (``df_order``
        1, every other field equal): it adds only ``df_head``, which starts at zero, so the
        grown model starts with the source's output. Chapter: 05_complex_mapping."""
        have, want = asdict(source.config), asdict(self.config)
        if have.get("df_order") == 1 and {k for k in want if have.get(k) != want[k]} == {"df_order"}:
            return ("df_head.",)
        return None

    @staticmethod
    def _masked(mr, mi, re, im):
        return mr * re - mi * im, mr * im + mi * re

    def _filtered(self, mr, mi, taps, re, im, state):
        """``M Y`` on every bin plus, when ``taps`` is given, the deep filter's past taps on
        the low bins: ``Σ_{k=1}^{N-1} W_k(f, t) Y(f, t - k)``, the previous frames taken from
        ``state["df"]`` ``(B, 2, low_bins, N - 1)`` (re, im; zeros at the start of a
        stream, as zero padding offline). Returns ``((re, im) of S, state)``."""
        sr, si = self._masked(mr, mi, re, im)
        if taps is None:
            return (sr, si), state
        lo, n, order = self.config.low_bins, re.shape[-1], self.config.df_order
        hist = state["df"]
        yr = torch.cat([hist[:, 0], re[:, :lo]], dim=-1)  # (B, lo, N - 1 + n)
        yi = torch.cat([hist[:, 1], im[:, :lo]], dim=-1)
        lr, li = sr[:, :lo], si[:, :lo]
        for k in range(1, order):
            wr, wi = taps[:, 2 * k - 2].transpose(1, 2), taps[:, 2 * k - 1].transpose(1, 2)  # (B, lo, n)
            pr, pi = yr[..., order - 1 - k: order - 1 - k + n], yi[..., order - 1 - k: order - 1 - k + n]
            lr, li = lr + wr * pr - wi * pi, li + wr * pi + wi * pr
        state = {**state, "df": torch.stack([yr[..., -(order - 1):], yi[..., -(order - 1):]], dim=1)}
        return (torch.cat([lr, sr[:, lo:]], dim=1), torch.cat([li, si[:, lo:]], dim=1)), state

    def estimate(self, noisy_spec: torch.Tensor) -> dict:
        """``{"spec": S, "mask": M}``, complex ``(B, F, T)``: ``S = M Y`` (plus the deep
        filter's past taps on the low bins when ``df_order`` > 1; ``mask`` is then the
        filter's current tap on those bins)."""
        spec = self._prepare(noisy_spec)
        state = self.init_state(spec.shape[0])
        mr, mi, taps, state = self._run(spec.real, spec.imag, state)
        (sr, si), _ = self._filtered(mr, mi, taps, spec.real, spec.imag, state)
        return {"spec": torch.complex(sr, si), "mask": torch.complex(mr, mi)}

    @torch.no_grad()
    def past_tap_share(self, noisy_spec: torch.Tensor) -> float:
        """How much the deep filter's past taps contribute: ``Σ |S - M Y|² / Σ |S|²`` over
        the low bins and all frames (0 when ``df_order`` is 1 or the taps are zero; in
        float64; measured in ``eval()`` mode, the training flag restored afterwards).
        ``noisy_spec``: complex ``(B, F, T)`` or ``(F, T)`` (the STFT of
        ``self.stft_config``). Chapter: 05_complex_mapping."""
        spec = noisy_spec if noisy_spec.dim() == 3 else noisy_spec.unsqueeze(0)
        if self.config.df_order == 1:  # no past taps at all
            return 0.0
        was_training = self.training
        try:
            out = self.eval().estimate(spec)
        finally:
            self.train(was_training)
        y = self._prepare(spec)
        lo = self.config.low_bins
        s, my = out["spec"][:, :lo].to(torch.complex128), (out["mask"] * y)[:, :lo].to(torch.complex128)
        total = float((s.abs() ** 2).sum())
        if total == 0.0:
            raise ValueError("past_tap_share: the output's low bins are all zero (silent input?); "
                             "pass a spectrum with speech in it")
        return float(((s - my).abs() ** 2).sum()) / total

    # ------------------------------------------------------------------ streaming (ch. 7)
    def init_state(self, batch: int = 1):
        """``{"conv": past frames of each depthwise conv (B, 2C, 2d, Fb/4), "tra": each TRA GRU's
        hidden state (1, B, C), "rnn": each time GRU's hidden state (1, B*Fb/4, C)}``, and with
        ``df_order`` ``N`` > 1 ``"df"``: the last ``N - 1`` noisy frames of the low bins
        ``(B, 2, low_bins, N - 1)``; zeros (``Fb = low_bins + erb_bands`` band positions,
        ``Fb/4`` after the two strided convs).
        Chapter: 07_causality."""
        c = self.config
        dtype, device = _param_dtype(self), self.erb_analysis.device
        nb, ch = (c.low_bins + c.erb_bands) // 4, c.channels
        blocks = list(self.enc_blocks) + list(self.dec_blocks)
        conv = [torch.zeros(batch, 2 * ch, b.history(), nb, dtype=dtype, device=device) for b in blocks]
        tra = [torch.zeros(1, batch, ch, dtype=dtype, device=device) if c.attention else None
               for _ in blocks]
        rnn = [torch.zeros(1, batch * nb, ch, dtype=dtype, device=device) for _ in self.dp_blocks]
        if c.df_order == 1:
            return {"conv": conv, "tra": tra, "rnn": rnn}
        df = torch.zeros(batch, 2, c.low_bins, c.df_order - 1, dtype=dtype, device=device)
        return {"conv": conv, "tra": tra, "rnn": rnn, "df": df}

    def step(self, frame_spec, state=None):
        """Enhance the next ``n`` frames ``(B, F, n)`` (or one frame ``(B, F)``); returns
        ``(out, state)``; equal to the offline output at those frames (``eval()``).
        Chapter: 07_causality."""
        spec, squeeze = self._step_input(frame_spec)
        if state is None:
            state = self.init_state(spec.shape[0])
        out, state = self.step_parts(spec.real, spec.imag, state)
        out = torch.complex(*out)
        return (out[..., 0] if squeeze else out), state

    def step_parts(self, re, im, state):
        """The step on real and imaginary parts ``(B, F, n)``: ``((re, im) of S, state)`` (``S``
        as in :meth:`estimate`); what the ONNX export traces (no complex tensors).
        Chapter: 07_causality."""
        mr, mi, taps, state = self._run(re, im, state)
        return self._filtered(mr, mi, taps, re, im, state)
