"""Weighted sums of losses: :class:`Combined` and the named combinations of
chapters 5 and 6 (SI-SDR + compressed, + an intelligibility term; compressed + embedding).
Chapter: 06_losses.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence

import torch

from sedemo._utils import ArrayLike
from sedemo.dsp.stft import DEFAULT, STFTConfig

from sedemo.losses._contract import _reduce, _waveforms
from sedemo.losses.waveform import si_sdr_loss
from sedemo.losses.spectral import compressed_complex_loss, weak_frame_loss
from sedemo.losses.perceptual import embedding_loss, stoi_like_loss, weak_cell_loss


# ----------------------------------------------------------------------------
# Weighted combinations
# ----------------------------------------------------------------------------
def _term_name(fn: Callable) -> str:
    if isinstance(fn, functools.partial):
        opts = ", ".join(f"{k}={v!r}" for k, v in fn.keywords.items())
        return f"{_term_name(fn.func)}({opts})" if opts else _term_name(fn.func)
    return getattr(fn, "__name__", type(fn).__name__)


class Combined:
    """A weighted sum of losses: ``Σ_i w_i · loss_i(**inputs)``.

    ``terms``: a sequence of ``(weight, loss)`` pairs, where ``loss`` is a callable
    taking the same keyword inputs (e.g. ``estimate=``, ``reference=``), a name of
    :data:`LOSSES`, or a ``(name, options)`` pair passed to :func:`get_loss`.
    ``Combined(terms)(estimate=..., reference=..., reduction="mean")`` returns the
    sum; ``.parts(...)`` returns ``{name: weighted value}`` for logging. A
    ``reduction`` other than ``"mean"`` is passed on to every term.
    Chapter 6 (C7) and the training scripts.

    >>> import torch
    >>> loss = Combined([(1.0, "mse"), (0.5, "mae")])
    >>> loss(estimate=torch.ones(1, 4), reference=torch.zeros(1, 4))
    tensor(1.5000)

    Chapter: 06_losses.
    """

    def __init__(self, terms: Sequence[tuple[float, Callable | str | tuple[str, dict]]]):
        if isinstance(terms, (str, bytes)) or not isinstance(terms, Iterable):
            raise TypeError("Combined: terms must be a list of (weight, loss) pairs")
        from sedemo.losses.registry import get_loss  # late: the registry lists the combinations

        parsed = []
        for item in terms:
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise TypeError(f"Combined: each term must be a (weight, loss) pair, got {item!r}")
            w, fn = item
            if not (isinstance(w, (int, float)) and math.isfinite(w)):
                raise ValueError(f"Combined: weight must be a finite number, got {w!r}")
            if isinstance(fn, str):
                fn = get_loss(fn)
            elif isinstance(fn, (tuple, list)) and len(fn) == 2 and isinstance(fn[0], str):
                fn = get_loss(fn[0], **dict(fn[1]))
            elif not callable(fn):
                raise TypeError(f"Combined: {fn!r} is not a loss (a callable or a name of LOSSES)")
            parsed.append((float(w), fn))
        if not parsed:
            raise ValueError("Combined: terms is empty")
        self.terms = parsed

    def _values(self, reduction: str, inputs: dict) -> list[torch.Tensor]:
        extra = {} if reduction == "mean" else {"reduction": reduction}
        return [w * fn(**inputs, **extra) for w, fn in self.terms]

    def __call__(self, *, reduction: str = "mean", **inputs) -> torch.Tensor:
        values = self._values(reduction, inputs)
        return functools.reduce(torch.add, values)

    def parts(self, *, reduction: str = "mean", **inputs) -> dict[str, torch.Tensor]:
        """The weighted value of every term, by name (for logging)."""
        return {f"{w:g}*{_term_name(fn)}": v
                for (w, fn), v in zip(self.terms, self._values(reduction, inputs))}

    def __repr__(self) -> str:
        return "Combined([" + ", ".join(f"({w:g}, {_term_name(fn)})" for w, fn in self.terms) + "])"


def combined_loss(*, terms: Sequence[tuple[float, Callable | str]], reduction: str = "mean",
                  **inputs) -> torch.Tensor:
    """Functional form of :class:`Combined`: ``Σ_i w_i · loss_i(**inputs)``. Chapter 6.

    Chapter: 06_losses."""
    return Combined(terms)(reduction=reduction, **inputs)


#: Weight of the compressed complex loss in :func:`si_sdr_compressed_loss` (see there).
SI_SDR_COMPRESSED_WEIGHT = 30.0


def si_sdr_compressed_loss(
    *, estimate: ArrayLike, reference: ArrayLike, weight: float = SI_SDR_COMPRESSED_WEIGHT,
    c: float = 0.3, lam: float = 0.3, cfg: STFTConfig = DEFAULT, eps: float = 1e-8,
    reduction: str = "mean",
) -> torch.Tensor:
    """SI-SDR loss + weight × compressed complex loss: the combination of claim C7.

        ``si_sdr_loss(ŝ, s) + weight · compressed_complex_loss(ŝ, s; c, λ)``

    SI-SDR alone leaves the gain (and some colouration) free; the compressed
    spectral term (Braun & Tashev 2021) pins the level and the spectral envelope.
    ``weight`` = :data:`SI_SDR_COMPRESSED_WEIGHT` (30) is our choice, not a published
    value. Because the SI-SDR term is exactly gain invariant, the output level at
    the optimum is set by the compressed term for any weight > 0; the weight only
    balances the two terms' pull on the waveform's shape. We chose it so that the
    two terms span similar ranges during training: for the speech-like test signal
    at RMS 0.05-0.1 with white noise at 0-10 dB SNR (default ``cfg``), the
    compressed loss of the noisy input is 0.25-0.8 (30× that: 7-24), while the
    SI-SDR loss has 10-20 dB to go from the input to a good estimate. Tune it for
    other data (chapter 6 reports the value it used). ``eps`` is that of
    :func:`si_sdr_loss`; the compressed term uses its own default (1e-12).
    Chapter 6 (C7).
    Chapter: 06_losses.
    """
    fn = "si_sdr_compressed_loss"
    e, r = _waveforms(fn, estimate, reference)
    a = si_sdr_loss(estimate=e, reference=r, eps=eps, reduction="none")
    b = compressed_complex_loss(estimate=e, reference=r, c=c, lam=lam, cfg=cfg, reduction="none")
    return _reduce(a + weight * b, reduction, fn)


#: Weight of the embedding term in :func:`compressed_embedding_loss` (see there).
EMBEDDING_WEIGHT = 0.01
#: Weight of the embedding term when the embedding is the pretrained ULCRN's encoder
#: (``encoder="ulcrn"``), by the same rule as :data:`EMBEDDING_WEIGHT`: on noisy
#: training mixtures (48 items of 2 s) that embedding distance is a median 3.5 times
#: the compressed loss (10-90 %: 2.0-6.4; the random network's is 21 times), so 0.05
#: makes the term about a sixth of the main one (a tenth to a third), like 0.01 for the
#: random network (about a fifth).
ENCODER_EMBEDDING_WEIGHT = 0.05


def compressed_embedding_loss(
    *, estimate: ArrayLike, reference: ArrayLike, weight: float = EMBEDDING_WEIGHT,
    c: float = 0.3, lam: float = 0.3, cfg: STFTConfig = DEFAULT, p: float = 1, seed: int = 0,
    encoder: str | None = None, reduction: str = "mean",
) -> torch.Tensor:
    """Compressed complex loss + weight × embedding loss: the regularised loss of claim C5.

        ``compressed_complex_loss(ŝ, s; c, λ) + weight · embedding_loss(ŝ, s; p, seed)``

    The embedding term (:func:`embedding_loss`, the frozen random-feature network that
    stands in for wav2vec/PANN here) acts as a regulariser, so its weight is small:
    on noisy training mixtures of the book's corpus the embedding loss is 10-40 times
    the compressed loss (1.2-3.3 vs 0.03-0.26), and ``weight`` = 0.01 makes it about a
    tenth to a third of the main term. Our choice, reported in chapter 6 (C5).
    ``encoder``: embed with a trained network instead (:func:`sedemo.losses.perceptual.encoder_network`,
    e.g. ``"ulcrn"``), then with ``weight`` = :data:`ENCODER_EMBEDDING_WEIGHT`.
    Chapter: 06_losses.
    """
    fn = "compressed_embedding_loss"
    e, r = _waveforms(fn, estimate, reference)
    a = compressed_complex_loss(estimate=e, reference=r, c=c, lam=lam, cfg=cfg, reduction="none")
    b = embedding_loss(estimate=e, reference=r, p=p, seed=seed, encoder=encoder, reduction="none")
    return _reduce(a + weight * b, reduction, fn)




#: Weight of the STOI-like term in :func:`si_sdr_compressed_stoi_loss` (see there).
STOI_WEIGHT = 20.0


def si_sdr_compressed_stoi_loss(
    *, estimate: ArrayLike, reference: ArrayLike, weight: float = SI_SDR_COMPRESSED_WEIGHT,
    stoi_weight: float = STOI_WEIGHT, weak_weight: float = 0.0,
    weak_cell_weight: float = 0.0, reduction: str = "mean",
) -> torch.Tensor:
    """SI-SDR + compressed loss with an intelligibility term added:

        ``si_sdr_compressed_loss(ŝ, s; weight) + stoi_weight · stoi_like_loss(ŝ, s)``

    The STOI-like term (:func:`sedemo.losses.perceptual.stoi_like_loss`, ``1 − d`` with
    ``d`` an ESTOI-like envelope correlation) rewards keeping the band envelopes of the
    speech where the SNR is low, which SI-SDR and the compressed spectrum weigh little
    (Kolbæk et al. 2018 trained on STOI alone). ``stoi_weight`` = :data:`STOI_WEIGHT` (20),
    our choice by the rule of :data:`ENCODER_EMBEDDING_WEIGHT`: on 48 augmented training
    mixtures of the extended corpus, going from the noisy input to the pretrained ULCRN's
    output lowers the main loss a median 60 times as much as the STOI-like loss (6.4 vs
    0.13), so 20 gives the new term about a third of the main term's pull. Inputs
    ``(batch, time)`` waveforms of at least 0.48 s at 16 kHz. ``weak_weight`` > 0 adds
    ``weak_weight · weak_frame_loss(ŝ, s)`` (:func:`sedemo.losses.spectral.weak_frame_loss`,
    dB of error in the frames 20-40 dB below the loudest; chapter 5 tried 0.5 and 1.5);
    ``weak_cell_weight`` > 0 likewise adds
    :func:`sedemo.losses.perceptual.weak_cell_loss` (the same on STOI's band-frame grid);
    0, the default of both, leaves the sum and its cost unchanged.
    Chapter 5 (fine-tuning the ULCRN against its STOI gap at low SNR).
    Chapter: 05_complex_mapping.
    """
    fn = "si_sdr_compressed_stoi_loss"
    for key, w in (("weak_weight", weak_weight), ("weak_cell_weight", weak_cell_weight)):
        if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0):
            raise ValueError(f"{fn}(): {key} must be a finite number >= 0 (0 leaves the term out), got {w!r}")
    e, r = _waveforms(fn, estimate, reference)
    a = si_sdr_compressed_loss(estimate=e, reference=r, weight=weight, reduction="none")
    b = stoi_like_loss(estimate=e, reference=r, reduction="none")
    total = a + stoi_weight * b
    if weak_weight:
        total = total + weak_weight * weak_frame_loss(estimate=e, reference=r, reduction="none")
    if weak_cell_weight:
        total = total + weak_cell_weight * weak_cell_loss(estimate=e, reference=r, reduction="none")
    return _reduce(total, reduction, fn)
