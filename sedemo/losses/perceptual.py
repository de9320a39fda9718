"""Perceptual proxies: a differentiable STOI-like loss (claim C8) and an embedding loss
on a fixed feature network (claim C5). Chapter: 06_losses.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import torch

from sedemo._utils import ArrayLike
from sedemo.dsp.features import mel_filterbank
from sedemo.dsp.stft import STFTConfig, stft

from sedemo.losses._contract import _check_eps, _cplx_sq, _item_mean, _reduce, _waveforms


# ----------------------------------------------------------------------------
# A differentiable STOI-like loss
# ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _third_octave_np(n_fft: int, sample_rate: int, n_bands: int, min_freq: float) -> np.ndarray:
    k = np.arange(n_bands)
    centre = min_freq * 2.0 ** (k / 3.0)
    lo, hi = centre * 2.0 ** (-1.0 / 6.0), centre * 2.0 ** (1.0 / 6.0)
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    bands = ((freqs[None, :] >= lo[:, None]) & (freqs[None, :] < hi[:, None])).astype(np.float64)
    empty = np.flatnonzero(bands.sum(1) == 0)
    if empty.size:
        raise ValueError(
            f"third-octave band {int(empty[0])} ({lo[empty[0]]:.0f}-{hi[empty[0]]:.0f} Hz) holds no "
            f"STFT bin with n_fft={n_fft} at {sample_rate} Hz; use a larger n_fft or a higher min_freq"
        )
    if hi[-1] > sample_rate / 2:
        raise ValueError(f"the top third-octave band reaches {hi[-1]:.0f} Hz, above the Nyquist "
                         f"frequency {sample_rate / 2:.0f} Hz; use fewer bands")
    return bands


def third_octave_bands(n_fft: int = 512, sample_rate: int = 16000, n_bands: int = 15,
                       min_freq: float = 150.0) -> torch.Tensor:
    """One-third-octave band matrix ``(n_bands, n_fft//2 + 1)`` of 0/1 weights, as in STOI.

    Band ``j`` has centre ``min_freq·2^(j/3)`` (150 Hz to 3.8 kHz for the defaults)
    and edges ``centre·2^(∓1/6)``; it holds the STFT bins whose frequency
    ``k·sample_rate/n_fft`` lies in ``[low, high)``. Raises ``ValueError`` when a
    band holds no bin. Used by :func:`stoi_like_loss`. Chapter 6 (C8).
    Chapter: 06_losses.
    """
    return torch.from_numpy(_third_octave_np(int(n_fft), int(sample_rate), int(n_bands), float(min_freq)).copy())


def _unit_norm(x: torch.Tensor, dim: int, eps: float) -> torch.Tensor:
    x = x - x.mean(dim, keepdim=True)
    return x / (x.square().sum(dim, keepdim=True) + eps).sqrt()


def stoi_like_loss(
    *, estimate: ArrayLike, reference: ArrayLike, sample_rate: int = 16000, n_fft: int = 512,
    hop: int = 256, n_bands: int = 15, min_freq: float = 150.0, segment_frames: int = 30,
    eps: float = 1e-8, reduction: str = "mean",
) -> torch.Tensor:
    """A differentiable STOI-like loss, ``1 − d`` with ``d`` an ESTOI-like correlation.

    Per ``(batch, time)`` item:

    1. STFT with a Hann window of ``n_fft`` = 512 samples and ``hop`` = 256 (32 ms
       frames every 16 ms at 16 kHz; :func:`sedemo.dsp.stft.stft`);
    2. one-third-octave band envelopes ``X[j, t] = sqrt(Σ_{k∈band j} |X[k, t]|² + eps)``,
       15 bands from 150 Hz (:func:`third_octave_bands`), as in STOI;
    3. every segment of ``N = segment_frames`` = 30 consecutive frames (step one
       frame), a ``J × N`` matrix for the clean and for the estimated envelopes;
    4. ESTOI-like normalisation of each segment: every row (band) made zero-mean
       and unit-norm over time, then every column (frame) zero-mean and unit-norm
       over bands; ``d`` = mean over segments and frames of the column
       correlations ``x̄_nᵀ ȳ_n`` (range −1 to 1);
    5. loss = ``1 − d``: 0 for a perfect estimate (up to eps), about 1 for an
       unrelated one, at most 2.

    What it leaves out, compared with real STOI/ESTOI (:func:`sedemo.metrics.stoi`,
    Taal et al. 2011, Jensen & Taal 2016): no resampling to 10 kHz (so other frame,
    hop and segment durations: 32/16/480 ms instead of 25.6/12.8/384 ms); no
    removal of silent frames (pauses count, with the near-constant clean envelope
    correlating poorly with anything); no clipping of the estimate's envelope at
    −15 dB SDR and no per-band STOI correlation (this is the ESTOI normalisation);
    bins are assigned to bands by their centre frequency. It therefore tracks
    ESTOI's ranking rather than its values (chapter 6 and the tests check the rank
    agreement with pystoi).

    ``eps`` (default 1e-8) inside the envelope's square root and the two
    normalisations keeps the gradient finite; a silent reference or an all-zero
    estimate gives ``d = 0`` (loss 1). Likewise a segment in which the reference is
    exactly constant (digital silence longer than a segment) contributes 0 even for
    a perfect estimate, so the minimum is 0 only for signals without such
    stretches (add a tiny noise floor to the reference if needed). Needs at least ``segment_frames`` STFT frames
    (``segment_frames·hop`` samples, 0.48 s by default), else ``ValueError``.
    Chapter 6 (C8: does optimising an intelligibility proxy improve only that metric?).
    Chapter: 06_losses.
    """
    fn = "stoi_like_loss"
    _check_eps(fn, eps=eps)
    e, r = _waveforms(fn, estimate, reference)
    cfg = STFTConfig(n_fft=int(n_fft), hop=int(hop), window="hann", sample_rate=int(sample_rate))
    bands = third_octave_bands(n_fft, sample_rate, n_bands, min_freq).to(device=e.device, dtype=e.dtype)
    if cfg.n_frames(e.shape[-1]) < segment_frames:
        raise ValueError(
            f"{fn}(): the signals ({e.shape[-1]} samples) give {cfg.n_frames(e.shape[-1])} STFT "
            f"frames, fewer than one segment of {segment_frames} frames; need at least "
            f"{segment_frames * hop} samples ({segment_frames * hop / sample_rate:.2f} s)"
        )

    def segments(x):
        env = (torch.matmul(bands, _cplx_sq(stft(x, cfg))) + eps).sqrt()  # (B, J, T)
        return env.unfold(-1, segment_frames, 1).transpose(1, 2)  # (B, M, J, N)

    def normalised(seg):
        return _unit_norm(_unit_norm(seg, -1, eps), -2, eps)

    corr = (normalised(segments(r)) * normalised(segments(e))).sum(-2)  # (B, M, N)
    return _reduce(1.0 - _item_mean(corr), reduction, fn)


# ----------------------------------------------------------------------------
# Embedding (deep feature) loss with a fixed, offline feature network

def weak_cell_loss(
    *, estimate: ArrayLike, reference: ArrayLike, sample_rate: int = 16000, n_fft: int = 512,
    hop: int = 256, n_bands: int = 15, min_freq: float = 150.0, weak_db: float = -20.0,
    range_db: float = 40.0, floor_db: float = -60.0, eps: float = 1e-12, reduction: str = "mean",
) -> torch.Tensor:
    """The error left where the speech is weak in its band, in dB re the band's loudest frame:
    :func:`sedemo.losses.spectral.weak_frame_loss` made time-frequency, on STOI's grid.

    Inputs ``(batch, time)`` waveforms; returns ``(batch,)`` with ``reduction="none"``. Per item, with the STFTs ``Ŝ``, ``S`` (Hann, ``n_fft`` = 512, ``hop`` =
    256, as :func:`stoi_like_loss`) and STOI's one-third-octave bands ``j``
    (:func:`third_octave_bands`):

        ``P_s[j,t] = Σ_{k∈j} |S[k,t]|²``,  ``P_e[j,t] = Σ_{k∈j} |Ŝ[k,t] − S[k,t]|²``,
        ``M_j = max_t P_s[j,t]``

        cells ``C = {(j,t) : frame t within range_db of the loudest frame (all bands summed),
        and 10·log10(P_s[j,t]/M_j) < weak_db}``

        ``loss = mean_{(j,t)∈C} max(10·log10((P_e[j,t] + eps)/M_j), floor_db)``

    STOI drops the frames more than 40 dB below the loudest and correlates each band's
    envelope separately (Taal et al. 2011), so noise left in a band where the speech dips
    (inside a loud frame too) flattens that band's envelope; a split by whole frames does not
    see it. The minimum is the exact estimate; a cell zeroed costs the speech's own level
    there. An item without such cells contributes 0. Units: dB (lower is better). Why:
    chapter 5 found the default model's STOI gap at low SNR in the noise part of its output
    (:func:`sedemo.evaluation.speech_noise.swap_stoi`), and the frame-wise
    :func:`sedemo.losses.spectral.weak_frame_loss` did not move it;
    :func:`sedemo.losses.combined.si_sdr_compressed_stoi_loss` adds this term with
    ``weak_cell_weight``. Reference: none published (this book, chapter 5); the grid and the
    frame range follow STOI's (C. Taal et al., TASLP 2011).
    Chapter: 05_complex_mapping.
    """
    fn = "weak_cell_loss"
    _check_eps(fn, eps=eps)
    if not (range_db > 0 and weak_db <= 0 and floor_db < weak_db):
        raise ValueError(f"{fn}(): need range_db > 0, weak_db <= 0 and floor_db < weak_db (dB re the band's "
                         f"loudest frame), got weak_db={weak_db!r}, range_db={range_db!r}, floor_db={floor_db!r}")
    e, r = _waveforms(fn, estimate, reference)
    cfg = STFTConfig(n_fft=int(n_fft), hop=int(hop), window="hann", sample_rate=int(sample_rate))
    bands = third_octave_bands(n_fft, sample_rate, n_bands, min_freq).to(device=e.device, dtype=e.dtype)
    se, sr = stft(e, cfg), stft(r, cfg)
    p_s = torch.matmul(bands, _cplx_sq(sr))  # (B, J, T)
    p_e = torch.matmul(bands, _cplx_sq(se - sr))
    tiny = torch.finfo(p_s.dtype).tiny
    with torch.no_grad():
        frame = _cplx_sq(sr).sum(-2)  # (B, T): all bins, as STOI's frame energy
        kept = 10 * torch.log10(frame.clamp_min(tiny) / frame.amax(-1, keepdim=True).clamp_min(tiny)) >= -range_db
        m = p_s.amax(-1, keepdim=True).clamp_min(tiny)  # (B, J, 1)
        cell = 10 * torch.log10(p_s.clamp_min(tiny) / m)
        weak = (cell < weak_db) & kept.unsqueeze(1) & (p_s.amax(-1, keepdim=True) > 0)
    # the other cells enter as 0 dB (no gradient), so a silent reference stays finite
    ratio = torch.where(weak, (p_e + eps) / m, torch.ones_like(p_e))
    err_db = (10 * torch.log10(ratio)).clamp_min(floor_db)
    per_item = (err_db * weak).sum((-2, -1)) / weak.sum((-2, -1)).clamp_min(1)
    return _reduce(per_item, reduction, fn)

# ----------------------------------------------------------------------------
class RandomFeatureNet(torch.nn.Module):
    """A small, fixed, randomly initialised feature network: log-mel -> 3 dilated Conv1d.

    ``x (batch, time)`` -> list of 3 activations ``(batch, channels, frames)``.
    Front end: STFT with a 512-sample Hann window and a 160-sample hop (10 ms at
    16 kHz), power, 40-band mel filterbank (:func:`sedemo.dsp.features.mel_filterbank`),
    ``log(mel + 1e-5)``. Then three ``Conv1d`` layers along time (kernel 5,
    dilations 1, 2, 4, ``channels`` = 64, same padding, ReLU), a receptive field of
    29 frames (0.29 s). Weights are drawn once from ``N(0, 2/fan_in)`` (He
    initialisation) with a private ``torch.Generator`` seeded by ``seed`` (the
    global RNG is untouched), biases are 0; the parameters never require grad.
    Same seed, same network, on every machine.

    Why a random network: no pretrained wav2vec 2.0 or PANN weights are available
    offline in this project, so the book cannot ship them. Random convolutional
    features on a log-mel front end are a known stand-in for a perceptual
    embedding: they still compare local spectro-temporal patterns at several time
    scales (a "deep feature" distance) instead of samples. They are not trained on
    speech, so they do not encode phonetic knowledge. Chapter 6 (C5).
    Chapter: 06_losses.
    """

    def __init__(self, seed: int = 0, n_mels: int = 40, channels: int = 64, kernel_size: int = 5,
                 dilations: Sequence[int] = (1, 2, 4), sample_rate: int = 16000,
                 n_fft: int = 512, hop: int = 160):
        super().__init__()
        self.cfg = STFTConfig(n_fft=n_fft, hop=hop, window="hann", sample_rate=sample_rate)
        self.register_buffer("mel", mel_filterbank(n_mels, n_fft, sample_rate))
        gen = torch.Generator().manual_seed(int(seed))
        layers, c_in = [], n_mels
        for d in dilations:
            conv = torch.nn.Conv1d(c_in, channels, kernel_size, dilation=d, padding=d * (kernel_size - 1) // 2)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * math.sqrt(2.0 / (c_in * kernel_size)))
                conv.bias.zero_()
            layers.append(conv)
            c_in = channels
        self.convs = torch.nn.ModuleList(layers)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = torch.log(torch.matmul(self.mel, _cplx_sq(stft(x, self.cfg))) + 1e-5)
        feats = []
        for conv in self.convs:
            h = torch.relu(conv(h))
            feats.append(h)
        return feats


class EmbeddingLoss(torch.nn.Module):
    """Lp distance between embeddings of a fixed feature network (a "deep feature" loss).

        ``mean_l  mean | φ_l(ŝ) − φ_l(s) |^p``

    over the layers ``l`` the network returns (one tensor or a list) and their
    elements. ``network``: any ``torch.nn.Module`` mapping ``(batch, time)``
    waveforms to embeddings (e.g. an encoder you trained yourself); ``None`` uses
    :class:`RandomFeatureNet` ``(seed=seed)``, a frozen, seeded random conv stack on
    log-mel features, which stands in for wav2vec 2.0 / PANN embeddings because no
    pretrained weights can be downloaded or shipped here (see its docstring). The
    network is frozen (``requires_grad_(False)``, kept in ``eval()``): the loss must
    not train it. Gradients flow through it to the estimate. Inputs are cast to the
    network's dtype (``EmbeddingLoss().double()`` for float64).

    Use it as a **regulariser** added to a signal loss (e.g. ``Combined([(1,
    si_sdr_loss), (w, EmbeddingLoss())])``), not alone: an embedding is not
    invertible, so many signals share it (claim C5, chapter 6). Minimum 0 at ``ŝ = s``.
    Reference: F. G. Germain, Q. Chen, V. Koltun, "Speech denoising with deep
    feature losses", Interspeech 2019.

    >>> import torch
    >>> loss = EmbeddingLoss(seed=0)
    >>> s = torch.randn(2, 8000)
    >>> float(loss(estimate=s, reference=s))
    0.0

    Chapter: 06_losses.
    """

    def __init__(self, network: torch.nn.Module | None = None, p: float = 1, seed: int = 0):
        super().__init__()
        if not (isinstance(p, (int, float)) and p >= 1):
            raise ValueError(f"EmbeddingLoss: p must be a number >= 1, got {p!r}")
        if network is not None and not isinstance(network, torch.nn.Module):
            raise TypeError(f"EmbeddingLoss: network must be a torch.nn.Module, got {type(network).__name__}")
        self.network = RandomFeatureNet(seed=seed) if network is None else network
        self.network.requires_grad_(False)
        self.network.eval()
        self.p = p

    def train(self, mode: bool = True):
        super().train(mode)
        self.network.eval()  # the feature network always stays in inference mode
        return self

    def _dtype(self, fallback: torch.dtype) -> torch.dtype:
        for t in list(self.network.parameters()) + list(self.network.buffers()):
            if t.is_floating_point():
                return t.dtype
        return fallback

    def forward(self, *, estimate: ArrayLike, reference: ArrayLike, reduction: str = "mean") -> torch.Tensor:
        e, r = _waveforms("EmbeddingLoss", estimate, reference)
        dtype = self._dtype(e.dtype)
        fe, fr = self.network(e.to(dtype)), self.network(r.to(dtype))
        fe = [fe] if isinstance(fe, torch.Tensor) else list(fe)
        fr = [fr] if isinstance(fr, torch.Tensor) else list(fr)
        per_layer = []
        for a, b in zip(fe, fr):
            d = (a - b).abs()
            per_layer.append(_item_mean(d.square() if self.p == 2 else d.pow(self.p)))
        return _reduce(torch.stack(per_layer).mean(0), reduction, "EmbeddingLoss")


class ModelEncoder(torch.nn.Module):
    """The encoder of a trained enhancement model as a frozen feature network: waveforms
    ``(batch, time)`` -> the list of the encoder's activations (the model's
    ``encode(stft(x))``; the STFT of the model's own ``stft_config``).

    With the book's pretrained ULCRN (:func:`sedemo.models.load_pretrained`, trained on
    8.5 h of speech of 42 speakers in 25 languages, none of them in chapter 6's test
    split) this is a *trained* speech embedding, the offline stand-in for wav2vec 2.0 or
    PANN features in claim C5: its layers respond to what the model learned to separate
    speech from noise. Frozen and kept in ``eval()``. Chapter 6 (C5).
    Chapter: 06_losses.
    """

    #: magnitude floor of the encoder's power-law compression (1e-5, -100 dB re a full-scale
    #: bin): without it the gradient of ``|Y|^(c-1)`` is unbounded at ``|Y| -> 0`` and a run
    #: diverged (chapter 6, C5); speech and noise bins of the corpus lie far above it
    FLOOR = 1e-5

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        if not callable(getattr(model, "encode", None)):
            raise TypeError(f"ModelEncoder: {type(model).__name__} has no encode(); use a model with an "
                            "encoder that returns its activations (e.g. the ULCRN)")
        self.model = model
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.eval()
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.model.encode(stft(x, self.model.stft_config), floor=self.FLOOR)


def encoder_network(name: str) -> ModelEncoder:
    """:class:`ModelEncoder` of the pretrained model ``name`` (a name of
    :func:`sedemo.models.load_pretrained` with an ``encode`` method: ``"ulcrn"``), built once
    per process. Chapter: 06_losses."""
    key = ("encoder", str(name))
    if key not in _EMBEDDING_CACHE:
        from sedemo import models

        _EMBEDDING_CACHE[key] = ModelEncoder(models.load_pretrained(name))
    return _EMBEDDING_CACHE[key]


_EMBEDDING_CACHE: dict = {}


def embedding_loss(*, estimate: ArrayLike, reference: ArrayLike, p: float = 1, seed: int = 0,
                   network: torch.nn.Module | None = None, encoder: str | None = None,
                   reduction: str = "mean") -> torch.Tensor:
    """Functional form of :class:`EmbeddingLoss` (same formula and network).

    ``encoder``: the name of a pretrained model whose encoder gives the embedding
    (:func:`encoder_network`, e.g. ``"ulcrn"``: a trained network). Without ``network``
    or ``encoder`` it uses the :class:`RandomFeatureNet` of ``seed``, built once per
    (seed, dtype, device) and cached. A regulariser (C5), chapter 6.
    Chapter: 06_losses.
    """
    e, _ = _waveforms("embedding_loss", estimate, reference)
    if network is not None and encoder is not None:
        raise ValueError("embedding_loss: give network= or encoder=, not both")
    if encoder is not None:
        network = encoder_network(encoder)
    if network is None:
        key = (int(seed), e.dtype, str(e.device))
        if key not in _EMBEDDING_CACHE:
            _EMBEDDING_CACHE[key] = RandomFeatureNet(seed=seed).to(device=e.device, dtype=e.dtype)
        network = _EMBEDDING_CACHE[key]
    return EmbeddingLoss(network=network, p=p)(estimate=estimate, reference=reference, reduction=reduction)


