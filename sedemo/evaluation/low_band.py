"""Rumble and infrasonic drift: how much of a signal's power lies below a few tens of Hz,
per voice and per noise family of a corpus, and the groups of mixtures that chapter 5
compares a model trained on high-passed speech on.

* :func:`low_band_share`: the share of a signal's power below a cutoff (whole-signal rFFT);
* :func:`low_band_tables`: the stored report of ``scripts/low_band_report.py``
  (:data:`LOW_BAND_FILE`) as a speech and a noise frame;
* :func:`drifting_voices` and :func:`drift_groups`: the voices whose own recordings carry
  drift, and a group label per scored mixture.

Nobody hears this band, but SI-SDR and the mixtures' SNR count it.
Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["low_band_share", "LOW_BAND_FILE", "low_band_tables", "drifting_voices", "drift_groups"]


def low_band_share(x, cutoff_hz: float, sample_rate: int = 16000) -> float:
    """The share (0-1) of a signal's power that lies below ``cutoff_hz``, from the rFFT of the
    whole zero-mean ``(L,)`` signal (no segmenting, so content down to ``1 / L`` s counts):
    ``Σ_{0<f<fc} |X(f)|² / Σ_{f>0} |X(f)|²``. 0 for a silent signal. Chapter 5 (rumble and
    infrasonic drift in "clean" recordings and in noise, which SI-SDR and the mixtures' SNR
    count although nobody hears them).
    Chapter: 05_complex_mapping."""
    v = np.asarray(x, dtype=np.float64)
    if v.ndim != 1 or not np.isfinite(v).all():
        raise ValueError(f"low_band_share: x must be a finite 1-D signal, got shape {v.shape}")
    if not (0.0 < cutoff_hz <= sample_rate / 2):
        raise ValueError(f"low_band_share: cutoff_hz must be in (0, {sample_rate / 2:g}], got {cutoff_hz}")
    p = np.abs(np.fft.rfft(v - v.mean())) ** 2
    f = np.fft.rfftfreq(len(v), 1.0 / sample_rate)
    total = float(p[1:].sum())
    return float(p[1:][f[1:] < cutoff_hz].sum() / total) if total > 0 else 0.0


#: The stored output of ``scripts/low_band_report.py`` (the extended corpus and the held-out
#: 0 A.D. validation set), read by :func:`low_band_tables`.
LOW_BAND_FILE = Path(__file__).resolve().parents[1] / "results" / "corpus" / "low-band.json"


def low_band_tables(path=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stored low-band report (:data:`LOW_BAND_FILE`, or ``path``) as two frames: the clean
    speech per ``(set, split, speaker)`` and the noise per ``(set, split, noise_type)``, with
    the columns ``n``, ``mean_below_<fc>`` and ``max_below_<fc>`` (shares 0-1 of
    :func:`low_band_share`, ``fc`` in Hz). Chapter 5.
    Chapter: 05_complex_mapping."""
    stored = json.loads(Path(path or LOW_BAND_FILE).read_text())
    frames = []
    for part, key in (("speech", "speaker"), ("noise", "noise_type")):
        rows = [{"set": name, **r} for name, s in stored["sets"].items() for r in s[part]]
        frames.append(pd.DataFrame(rows).set_index(["set", "split", key]))
    return frames[0], frames[1]


def drifting_voices(speech: pd.DataFrame, sets=("corpus", "0ad"), share: float = 0.05,
                    cutoff_hz: int = 20) -> list[str]:
    """The voices whose own "clean" recordings carry infrasonic drift: those whose mean share
    of power below ``cutoff_hz`` (column ``mean_below_<cutoff_hz>`` of the speech frame of
    :func:`low_band_tables`) exceeds ``share`` (0-1) in any split of any of ``sets``; sorted.
    Chapter 5 (a model trained on high-passed speech is punished for removing what such a
    reference keeps).
    Chapter: 05_complex_mapping."""
    column = f"mean_below_{cutoff_hz}"
    if column not in speech.columns:
        raise ValueError(f"drifting_voices: the speech table has no column {column!r}; "
                         f"choose cutoff_hz among {[c.rsplit('_', 1)[1] for c in speech.columns if c.startswith('mean_below_')]}")
    missing = [s for s in sets if s not in speech.index.get_level_values("set")]
    if missing:
        raise ValueError(f"drifting_voices: no set {missing} in the speech table; it has "
                         f"{sorted(set(speech.index.get_level_values('set')))}")
    worst = speech.loc[list(sets), column].groupby(level="speaker").max()
    return sorted(worst.index[worst > share])


def drift_groups(rows: pd.DataFrame, voices) -> pd.Series:
    """A group label per scored mixture (rows with the columns ``speaker``, ``set`` and
    ``noise_type``, as :func:`sedemo.evaluation.peers.item_rows` gives them plus a ``set``
    tag): ``"voices with drift"`` when the speaker is one of ``voices`` (see
    :func:`drifting_voices`), else ``"<set>: <noise_type>"``. Chapter 5 (the high-pass
    comparison, per group and per seed).
    Chapter: 05_complex_mapping."""
    missing = [c for c in ("speaker", "set", "noise_type") if c not in rows.columns]
    if missing:
        raise ValueError(f"drift_groups: the rows lack the columns {missing}; tag each with its set first")
    return pd.Series(np.where(rows.speaker.isin(list(voices)), "voices with drift",
                              rows.set.astype(str) + ": " + rows.noise_type.astype(str)),
                     index=rows.index, name="group")
