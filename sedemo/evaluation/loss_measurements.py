"""The measurements of chapter 6 that need no trained model: where the gradient of L1
and L2 goes (claim C2), how the STFT coefficients are distributed (C4), how losses rank
degradations of one utterance (C5), how the energy ratios react to gain, filtering and
DC (C6), and how a batch of utterances at different SNRs shares the gradient (C6).

Each function returns the tables the chapter shows, plus what it plots or plays.
Chapter: 06_losses.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sedemo import losses, metrics
from sedemo.dsp import features, stft
from sedemo.evaluation import analysis, baselines, scoring

__all__ = [
    "gradient_shares", "CoefficientFits", "coefficient_fits", "Degradations", "degradation_scores",
    "RatioPerturbations", "ratio_perturbations", "RATIO_METRICS", "batch_gradient_shares", "BatchShares", "BATCH_SNRS",
    "Measurements", "measure_all", "analytic_verdicts",
]

#: the three energy ratios of claim C6, as ``(estimate, reference) -> dB``
RATIO_METRICS = {"SNR (dB)": lambda e, r: metrics.snr(estimate=e, reference=r),
                 "SI-SDR (dB)": lambda e, r: metrics.si_sdr(estimate=e, reference=r),
                 "SD-SDR (dB)": lambda e, r: metrics.sd_sdr(estimate=e, reference=r)}
#: SNRs (dB) of the five versions of one estimate in :func:`batch_gradient_shares`
BATCH_SNRS = (-5, 0, 5, 10, 20)


def gradient_shares(items, sample_rate: int = 16000) -> pd.DataFrame:
    """Claim C2: for each item, three estimates (the noisy input, the Wiener baseline, the
    oracle IRM) and the share of the MSE and of the MAE waveform gradient that falls on
    speech-absent samples, with the error level in absent and active samples (dB).
    Returns the mean over ``items`` per estimate. Chapter: 06_losses."""
    estimators = {"noisy input": lambda y, s: y,
                  "Wiener baseline": lambda y, s: baselines.wiener(y),
                  "oracle IRM": scoring.oracle_enhancer("IRM")}
    rows = []
    for it in items:
        s, y = (v.astype(np.float64) for v in it.load())
        absent = analysis.speech_absent_mask(s, sample_rate)
        for name, enhance in estimators.items():
            est = np.asarray(enhance(y, s), dtype=np.float64)
            err = est - s
            rows.append({
                "estimate": name, "id": it.id,
                "absent samples": absent.mean(),
                "MSE grad. share": analysis.gradient_share(analysis.waveform_gradient(losses.mse, est, s), absent),
                "MAE grad. share": analysis.gradient_share(analysis.waveform_gradient(losses.mae, est, s), absent),
                "error level, absent (dB)": 10 * np.log10(np.mean(err[absent] ** 2)),
                "error level, active (dB)": 10 * np.log10(np.mean(err[~absent] ** 2)),
            })
    return pd.DataFrame(rows).groupby("estimate", sort=False).mean(numeric_only=True)


@dataclass
class CoefficientFits:
    """Claim C4: ``table`` (one row per (coefficients, normalised by): the fits of
    :func:`sedemo.evaluation.analysis.compare_fits`), the sampled ``values`` of each row,
    ``n_utterances``, ``n_coefficients`` (per variant, before sampling) and
    ``subsample_error``, the largest NLL change of the Gaussian/Laplacian fits between
    the sample and all values (nats); ``spectra``: the STFTs fitted (``"raw"`` and
    ``"compressed (c = 0.3)"``, one per utterance). Chapter: 06_losses."""

    table: pd.DataFrame
    values: dict = field(repr=False)
    n_utterances: int
    n_coefficients: int
    subsample_error: float
    spectra: dict = field(repr=False, default_factory=dict)


def coefficient_fits(items, n_utterances: int = 150, n_sample: int = 400_000, seed: int = 0,
                     cfg: stft.STFTConfig = stft.DEFAULT) -> CoefficientFits:
    """Claim C4: Gaussian, Laplacian and generalised-Gaussian fits to the Re/Im STFT
    coefficients of the clean speech of ``n_utterances`` distinct utterances of ``items``
    (raw, and power-law compressed with c = 0.3), normalised per utterance, per band or
    locally; ``n_sample`` coefficients drawn per variant (``seed``). Chapter: 06_losses."""
    seen, clean = set(), []
    for it in items:
        s = it.load()[0]
        key = hashlib.md5(s.tobytes()).hexdigest()  # mixtures reuse clean utterances: keep each once
        if key not in seen:
            seen.add(key)
            clean.append(s.astype(np.float64))
        if len(clean) == n_utterances:
            break
    spectra = {"raw": [stft.stft(s, cfg) for s in clean]}
    spectra["compressed (c = 0.3)"] = [features.compress(S, 0.3) for S in spectra["raw"]]
    rng = np.random.default_rng(seed)
    values, rows, subsample_error = {}, [], 0.0
    for kind, modes in {"raw": ["utterance", "band", "local"], "compressed (c = 0.3)": ["utterance", "band"]}.items():
        for mode in modes:
            pooled = np.concatenate([analysis.normalised_coefficients(S, mode) for S in spectra[kind]])
            x = rng.choice(pooled, n_sample, replace=False)
            values[kind, mode] = x
            rows.append({"coefficients": kind, "normalised by": mode, **analysis.compare_fits(x)})
            subsample_error = max(subsample_error,
                                  abs(analysis.fit_gaussian(pooled)[1] - analysis.fit_gaussian(x)[1]),
                                  abs(analysis.fit_laplace(pooled)[1] - analysis.fit_laplace(x)[1]))
    table = pd.DataFrame(rows).set_index(["coefficients", "normalised by"])
    return CoefficientFits(table, values, len(clean), len(pooled), subsample_error, spectra)


@dataclass
class Degradations:
    """Claim C5: the degraded ``estimates`` of one reference, the ``table`` of each loss
    (columns) on each (rows), and each loss's ``rank`` of the degradations (1 = the
    smallest loss). Chapter: 06_losses."""

    estimates: dict = field(repr=False)
    table: pd.DataFrame
    rank: pd.DataFrame


def degradation_scores(ref, sample_rate: int = 16000, cfg: stft.STFTConfig = stft.DEFAULT) -> Degradations:
    """Claim C5: ten degradations of the clean ``ref`` (white noise at three SNRs, two
    low-passes, two gains, two delays, random phase) scored by the embedding loss (a
    frozen random network) and five waveform and spectral losses. Chapter: 06_losses."""
    estimates = {
        "white noise, 20 dB SNR": analysis.white_noise_at_snr(ref, 20, rng=1),
        "white noise, 10 dB SNR": analysis.white_noise_at_snr(ref, 10, rng=1),
        "white noise, 0 dB SNR": analysis.white_noise_at_snr(ref, 0, rng=1),
        "low-pass 4 kHz": analysis.lowpass(ref, 4000, sample_rate),
        "low-pass 2 kHz": analysis.lowpass(ref, 2000, sample_rate),
        "gain x0.5 (-6 dB)": 0.5 * ref,
        "gain x2 (+6 dB)": 2.0 * ref,
        "delay 1 sample": analysis.delay(ref, 1),
        "delay 1 ms (16 samples)": analysis.delay(ref, 16),
        "same magnitude, random phase": analysis.resynthesised_with_random_phase(ref, cfg, rng=1),
    }
    scorers = {
        "embedding (random net)": analysis.as_loss_scorer(losses.embedding_loss),
        "SI-SDR loss (dB)": analysis.as_loss_scorer(losses.si_sdr_loss),
        "SNR loss (dB)": analysis.as_loss_scorer(losses.snr_loss),
        "spectral L1": analysis.as_loss_scorer(losses.spectral_l1),
        "compressed complex": analysis.as_loss_scorer(losses.compressed_complex_loss),
        "MR-STFT": analysis.as_loss_scorer(losses.multi_resolution_stft_loss),
    }
    table = analysis.score_table(ref, estimates, scorers)
    return Degradations(estimates, table, table.rank(method="min").astype(int))


@dataclass
class RatioPerturbations:
    """Claim C6: ``table`` of SNR, SI-SDR and SD-SDR for each of the perturbed ``estimates``
    of ``base`` (the clean reference plus white noise at 20 dB: "a good estimate"), and
    ``gain`` the same ratios for each gain in ``gains``; ``speech_rms`` of the reference.
    Chapter: 06_losses."""

    estimates: dict = field(repr=False)
    base: np.ndarray = field(repr=False)
    speech_rms: float
    table: pd.DataFrame
    gains: np.ndarray = field(repr=False)
    gain: pd.DataFrame


def ratio_perturbations(ref, sample_rate: int = 16000) -> RatioPerturbations:
    """Claim C6: the energy ratios under gain, polarity, low-pass, pre-emphasis and DC
    offsets of an estimate, and over 41 gains from 0.1 to 10. Chapter: 06_losses."""
    base = analysis.white_noise_at_snr(ref, 20, rng=2)
    speech_rms = float(np.sqrt(np.mean(ref**2)))
    estimates = {
        "unperturbed (20 dB white noise)": base,
        "gain x0.1": 0.1 * base, "gain x0.5": 0.5 * base, "gain x2": 2 * base, "gain x10": 10 * base,
        "polarity flip (x-1)": -base,
        "clean, low-pass 4 kHz": analysis.lowpass(ref, 4000, sample_rate),
        "clean, low-pass 2 kHz": analysis.lowpass(ref, 2000, sample_rate),
        "clean, pre-emphasis 0.97": analysis.preemphasis(ref, 0.97),
        "DC offset, -20 dB re speech RMS": base + 0.1 * speech_rms,
        "DC offset, 0 dB re speech RMS": base + speech_rms,
    }
    gains = np.logspace(-1, 1, 41)
    return RatioPerturbations(estimates, base, speech_rms, analysis.score_table(ref, estimates, RATIO_METRICS), gains,
                              analysis.score_table(ref, {g: g * base for g in gains}, RATIO_METRICS))


@dataclass
class BatchShares:
    """Claim C6, ratio vs log SDR: ``table`` (rows: utterance SNR; columns: (where, loss))
    of the share of the gradient each utterance of the batch gets, and the batch itself,
    ``estimates`` and ``references`` ``(len(snrs), L)``. Chapter: 06_losses."""

    table: pd.DataFrame
    estimates: np.ndarray = field(repr=False)
    references: np.ndarray = field(repr=False)


def batch_gradient_shares(clean, noisy, snrs=BATCH_SNRS) -> BatchShares:
    """Claim C6, ratio vs log SDR: a batch of versions of one estimate, ``clean`` plus its
    own noise (``noisy - clean``) scaled to each SNR of ``snrs``, and the share of the
    gradient each utterance gets from the ratio SDR, log SDR and SI-SDR losses, on the
    waveform and through a shared 16-tap filter. Rows: utterance SNR. Chapter: 06_losses."""
    s, n = np.asarray(clean, dtype=np.float64), np.asarray(noisy, dtype=np.float64) - np.asarray(clean, np.float64)
    batch_ref = np.stack([s] * len(snrs))
    batch_est = np.stack([s + n * np.sqrt(np.sum(s**2) / np.sum(n**2) * 10 ** (-snr_db / 10)) for snr_db in snrs])
    batch_losses = {"ratio SDR (ratio_sdr_loss)": losses.ratio_sdr_loss, "log SDR (snr_loss)": losses.snr_loss,
                    "SI-SDR (si_sdr_loss)": losses.si_sdr_loss}
    shares = {}
    for name, fn in batch_losses.items():
        for where, taps in [("waveform", None), ("shared 16-tap filter", 16)]:
            norms = analysis.utterance_gradient_norms(fn, batch_est, batch_ref, taps=taps)
            shares[where, name] = norms / norms.sum()
    table = pd.DataFrame(shares, index=[f"{v} dB" for v in snrs])
    table.index.name = "utterance SNR"
    return BatchShares(table, batch_est, batch_ref)


@dataclass
class Measurements:
    """Every measurement of chapter 6 that needs no trained model, on one corpus: the items
    used (``c2_items``: one test mixture per SNR and noise type; ``clean_items``: those of
    at least 3 s), ``c2`` (:func:`gradient_shares`), ``fits`` (:func:`coefficient_fits`),
    ``ref`` (3 s of the first clean item, float64), ``degradations``
    (:func:`degradation_scores`), ``perturbed`` (:func:`ratio_perturbations`), ``batch``
    (:func:`batch_gradient_shares` on 2 s of the second item; its clean and noisy signals
    are ``batch_clean`` and ``batch_noisy``). Chapters: 06_losses, 06_losses_trained."""

    c2_items: list = field(repr=False)
    clean_items: list = field(repr=False)
    c2: pd.DataFrame
    fits: CoefficientFits
    ref: np.ndarray = field(repr=False)
    degradations: Degradations = field(repr=False)
    perturbed: RatioPerturbations = field(repr=False)
    batch_clean: np.ndarray = field(repr=False)
    batch_noisy: np.ndarray = field(repr=False)
    batch: BatchShares = field(repr=False)


def measure_all(corpus, sample_rate: int = 16000, cfg: stft.STFTConfig = stft.DEFAULT, n_utterances: int = 150,
                n_sample: int = 400_000) -> Measurements:
    """Run every measurement of chapter 6 that needs no trained model on ``corpus`` (a
    :class:`sedemo.data.Corpus`): C2 on one test mixture per SNR and noise type, C4 on
    ``n_utterances`` distinct clean training utterances (``n_sample`` coefficients per
    variant), C5 and C6 on clean test utterances of at least 3 s. About 20 s on one CPU
    thread. Chapters: 06_losses, 06_losses_trained."""
    test_items = corpus.items("test")
    c2_items = scoring.balanced_subset(test_items, per_cell=1)
    clean_items = [it for it in c2_items if it.seconds >= 3.0]
    if len(clean_items) < 2:
        raise ValueError("the measurements need two test mixtures of at least 3 s: rebuild the corpus "
                         "(python -m sedemo.data build)")
    ref = clean_items[0].load()[0].astype(np.float64)[: 3 * sample_rate]
    s, y = (v.astype(np.float64)[: 2 * sample_rate] for v in clean_items[1].load())
    return Measurements(
        c2_items=c2_items, clean_items=clean_items, c2=gradient_shares(c2_items, sample_rate),
        fits=coefficient_fits(corpus.items("train"), n_utterances=n_utterances, n_sample=n_sample, cfg=cfg),
        ref=ref, degradations=degradation_scores(ref, sample_rate, cfg), perturbed=ratio_perturbations(ref, sample_rate),
        batch_clean=s, batch_noisy=y, batch=batch_gradient_shares(s, y))


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def analytic_verdicts(m: Measurements) -> pd.DataFrame:
    """The verdicts of the claims (or claim parts) that ``m`` measures without training:
    C2's gradient part (L1 gives speech-absent samples a larger share of the gradient than
    L2, for both the Wiener and the oracle IRM output), C4's fit (the Laplacian fits raw and
    compressed per-band coefficients better than the Gaussian: "agree"; raw only: "partly"),
    C5's explanation (ranks of a 1-ms delay) and C6 (SI-SDR moves < 0.01 dB over gains of
    0.1..10 while SNR moves more, and the -5-dB utterance of a batch gets more than twice
    the filter gradient with ratio SDR than with log SDR). One row per claim part,
    columns claim, guidebook, our measurement, verdict.
    Chapters: 06_losses, 06_losses_trained."""
    w, irm = m.c2.loc["Wiener baseline"], m.c2.loc["oracle IRM"]
    c2_agree = w["MAE grad. share"] > w["MSE grad. share"] and irm["MAE grad. share"] > irm["MSE grad. share"]
    raw_band, comp_band = m.fits.table.loc[("raw", "band")], m.fits.table.loc[("compressed (c = 0.3)", "band")]
    c4_verdict = ("agree" if raw_band.delta_nll > 0 and comp_band.delta_nll > 0
                  else "partly" if raw_band.delta_nll > 0 else "disagree")
    spread = m.perturbed.gain.max() - m.perturbed.gain.min()
    shares = m.batch.table
    worst_ratio = shares[("shared 16-tap filter", "ratio SDR (ratio_sdr_loss)")].iloc[0]
    worst_log = shares[("shared 16-tap filter", "log SDR (snr_loss)")].iloc[0]
    c6_agree = spread["SI-SDR (dB)"] < 0.01 < spread["SNR (dB)"] and worst_ratio > 2 * worst_log
    rank = m.degradations.rank
    delay = "delay 1 ms (16 samples)"
    rows = [
        ("C2", "time domain: L1 attends to small signals more than L2 (gradient part)",
         f"speech-absent frames ({_pct(w['absent samples'])} of the samples) get {_pct(w['MSE grad. share'])} of the "
         f"L2 gradient but {_pct(w['MAE grad. share'])} of the L1 gradient (Wiener output; oracle IRM output: "
         f"{_pct(irm['MSE grad. share'])} vs {_pct(irm['MAE grad. share'])})", "agree" if c2_agree else "disagree"),
        ("C4", "STFT coefficients look Laplacian (fit part)",
         f"raw Re/Im (per-band scale): the Laplacian fits better by {raw_band.delta_nll:.2f} nats/coefficient, "
         f"generalised-Gaussian shape {raw_band.gennorm_beta:.2f}; compressed |S|^0.3: difference "
         f"{comp_band.delta_nll:+.2f} nats, shape {comp_band.gennorm_beta:.2f}", c4_verdict),
        ("C5", "embedding losses act as regularisers",
         "explained; with a frozen random-feature stand-in, the embedding distance ranks a 1-ms delay as "
         f"#{rank.loc[delay, 'embedding (random net)']} of {len(rank)} degradations, "
         f"SI-SDR as #{rank.loc[delay, 'SI-SDR loss (dB)']}", "explained"),
        ("C6", "energy-ratio losses: SDR, log-SDR, SI-SDR",
         f"gain 0.1..10: SI-SDR moves {spread['SI-SDR (dB)']:.3f} dB, SNR {spread['SNR (dB)']:.0f} dB, "
         f"SD-SDR {spread['SD-SDR (dB)']:.0f} dB; in a batch of -5..20 dB versions of an "
         f"estimate, the -5 dB one gets {_pct(worst_ratio)} of the parameter gradient with ratio SDR, "
         f"{_pct(worst_log)} with log SDR", "agree" if c6_agree else "partly"),
    ]
    return pd.DataFrame(rows, columns=["claim", "guidebook", "our measurement", "verdict"])
