"""What an enhancer does to the speech and to the noise, separately: the phase-inversion
method (Hagerman and Olofsson, Acta Acustica 2004) and the speech-distortion index and
noise-reduction factor of Chen, Benesty, Huang and Doclo (IEEE TASLP 2006), per band and
per class of frame speech level. Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import signal

from sedemo.evaluation.analysis import BANDS_HZ, _band_powers, _pair

#: The floor of :func:`distortion_and_residual`'s ratios (dB): an exact zero reads as this.
RATIO_FLOOR_DB = -100.0


def _ratio_db(num: float, den: float) -> float:
    """``10·log10(num / den)`` floored at :data:`RATIO_FLOOR_DB` (also for ``num`` = 0); NaN
    when ``den`` is 0."""
    if not den > 0:
        return float("nan")
    return max(10.0 * np.log10(num / den), RATIO_FLOOR_DB) if num > 0 else RATIO_FLOOR_DB


def _parts(out_plus, out_minus, clean, noise, who: str):
    """The checked float64 inputs of the phase-inversion method and its two parts:
    ``(speech_part, noise_part, clean, noise)``, ``speech_part = (out_plus + out_minus)/2``,
    ``noise_part = (out_plus − out_minus)/2``; one-line errors name ``who``."""
    op, s = _pair(out_plus, clean, who)
    om, n = _pair(out_minus, noise, who)
    if op.shape != om.shape:
        raise ValueError(f"{who}: out_plus and out_minus must have one length, got {op.shape}, {om.shape}")
    if not np.any(s) or not np.any(n):
        raise ValueError(f"{who}: the clean signal or the noise is all zeros; pass both "
                         "(noise = mixture - clean) and the system's outputs for clean + noise and clean - noise")
    return 0.5 * (op + om), 0.5 * (op - om), s, n


def distortion_and_residual(out_plus, out_minus, clean, noise, sample_rate: int = 16000,
                            bands=BANDS_HZ) -> pd.DataFrame:
    """What an enhancer does to the speech and to the noise, separately, per band, by phase
    inversion (Hagerman and Olofsson, Acta Acustica 2004).

    The system is run twice, on ``s + n`` (``out_plus``) and on ``s − n`` (``out_minus``),
    both outputs aligned with the input. For a system that treats the two alike, the speech
    part of its output is ``ŝ_s = (out_plus + out_minus) / 2`` and the noise part
    ``ŝ_n = (out_plus − out_minus) / 2`` (exact for any linear or time-varying linear
    system, a fair approximation for the others). Per band ``b`` (Hz, default
    :data:`BANDS_HZ`), in dB, ``P_b`` the band power of the Welch spectrum (512-point Hann
    segments, as :func:`band_noise_reduction`):

    * ``distortion_db = 10·log10(P_b(ŝ_s − s) / P_b(s))``: the speech-distortion index of
      Chen, Benesty, Huang and Doclo (IEEE TASLP 2006), what the system did to the speech,
      level and phase (0 dB: as much error as speech; :data:`RATIO_FLOOR_DB` for none);
    * ``residual_db = 10·log10(P_b(ŝ_n) / P_b(n))``: the share of the noise left, the inverse
      of their noise-reduction factor (0 dB: the noise passes; lower is more removed).

    Both are lower-is-better; turning a gain down lowers the residual and raises the
    distortion. A delay left in the outputs counts as distortion: align them first.
    ``out_plus``, ``out_minus``, ``clean``, ``noise``: ``(L,)`` signals at ``sample_rate``.
    A band with no speech (or no noise) power gives NaN for that ratio. Returns a frame
    indexed by band (``"0-1 kHz"``, ...) with columns ``distortion_db``, ``residual_db``.
    Chapter: 05_complex_mapping."""
    speech_part, noise_part, s, n = _parts(out_plus, out_minus, clean, noise, "distortion_and_residual")
    too_high = [(lo, hi) for lo, hi in bands if lo >= sample_rate / 2]
    if too_high:
        raise ValueError(f"distortion_and_residual: band(s) {too_high} start at or above Nyquist ({sample_rate / 2:g} Hz); "
                         "pass bands below it")
    _, ps = _band_powers(s, sample_rate, bands)
    _, pn = _band_powers(n, sample_rate, bands)
    _, pd_ = _band_powers(speech_part - s, sample_rate, bands)
    _, pr = _band_powers(noise_part, sample_rate, bands)

    return pd.DataFrame({f"{lo / 1000:g}-{hi / 1000:g} kHz": {"distortion_db": _ratio_db(d, s_), "residual_db": _ratio_db(r, n_)}
                         for (lo, hi), s_, n_, d, r in zip(bands, ps, pn, pd_, pr)}).T


#: Level classes of :func:`split_by_speech_level` (dB relative to the loudest frame).
LEVEL_EDGES_DB: tuple[float, ...] = (0.0, -10.0, -20.0, -30.0, -40.0)


def split_by_speech_level(out_plus, out_minus, clean, noise, sample_rate: int = 16000,
                          band: tuple[float, float] = (1000.0, 4000.0), edges=LEVEL_EDGES_DB,
                          n_fft: int = 512) -> pd.DataFrame:
    """:func:`distortion_and_residual`'s two numbers in one band, split by how loud the speech
    is in each frame: does a system leave as much noise between words as on them?

    The phase-inversion parts (``ŝ_s = (out_plus + out_minus)/2``, ``ŝ_n = (out_plus −
    out_minus)/2``) and the clean speech and noise go through one STFT (``n_fft``-point Hann,
    half overlap, :func:`scipy.signal.stft`); each frame's speech level is the clean power in
    ``band`` (Hz) in dB relative to the loudest frame, and falls into a class
    ``edges[k] >= level > edges[k + 1]`` (default 0, -10, -20, -30, -40 dB; quieter frames
    are left out, as STOI leaves out frames 40 dB below the loudest: Taal et al. 2011).
    Per class, in dB: ``distortion_db = 10·log10(Σ|Ŝ_s − S|² / Σ|S|²)`` and ``residual_db =
    10·log10(Σ|Ŝ_n|² / Σ|N|²)`` over the band's bins and the class's frames (floored at
    :data:`RATIO_FLOOR_DB`; NaN for a class without frames), and ``frames``. Signals: aligned ``(L,)`` at ``sample_rate``. Returns a
    frame indexed by class (``"0 to -10 dB"``, ...). Chapter: 05_complex_mapping."""
    speech_part, noise_part, s, n = _parts(out_plus, out_minus, clean, noise, "split_by_speech_level")
    lo, hi = map(float, band)
    if not 0 <= lo < hi <= sample_rate / 2:
        raise ValueError(f"split_by_speech_level: band must be (lo, hi) Hz with 0 <= lo < hi <= {sample_rate / 2:g}, got {band}")
    edges = [float(e) for e in edges]
    if len(edges) < 2 or any(a <= b for a, b in zip(edges, edges[1:])):
        raise ValueError(f"split_by_speech_level: edges must fall, e.g. (0, -10, -20), got {tuple(edges)}")

    def spec(x):
        return signal.stft(x, fs=sample_rate, window="hann", nperseg=n_fft, noverlap=n_fft // 2)[2][sel_f]

    f = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    sel_f = (f >= lo) & (f < hi)
    S, N, Ss, Sn = spec(s), spec(n), spec(speech_part), spec(noise_part)
    power = np.sum(np.abs(S) ** 2, axis=0)
    level = 10.0 * np.log10(np.maximum(power, 1e-30) / max(power.max(), 1e-30))
    rows = {}
    for a, b in zip(edges, edges[1:]):
        t = (level <= a) & (level > b)
        sums = [np.sum(np.abs(x[:, t]) ** 2) for x in (Ss - S, S, Sn, N)]
        rows[f"{a:g} to {b:g} dB"] = {"distortion_db": _ratio_db(sums[0], sums[1]),
                                      "residual_db": _ratio_db(sums[2], sums[3]), "frames": int(t.sum())}
    return pd.DataFrame(rows).T.astype({"frames": int})


def swap_stoi(parts: dict, clean, sample_rate: int = 16000) -> pd.DataFrame:
    """STOI of one system's speech part with another's noise part: which part holds a STOI gap?

    ``parts``: ``name -> (out_plus, out_minus)``, each system's aligned outputs for ``s + n``
    and ``s − n`` (as :func:`distortion_and_residual`), so that its speech part is ``ŝ_s^X =
    (out_plus + out_minus)/2`` and its noise part ``ŝ_n^X = (out_plus − out_minus)/2``. Returns
    a frame with one row per speech source (the systems, then ``"clean"``: ``s`` itself) and one
    column per noise source (the systems, then ``"none"``): entry ``(X, Y)`` is
    ``STOI(s, ŝ_s^X + ŝ_n^Y)`` (:func:`sedemo.metrics.stoi`, Taal et al. 2011). The diagonal
    is each system's own output (``ŝ_s^X + ŝ_n^X = out_plus``). If swapping in system B's
    noise part raises A's STOI to B's, A's gap is in what it leaves of the noise; if it takes
    B's speech part to do so, the gap is in what A does to the speech. Row ``"clean"`` is the
    noise part alone on the clean speech, column ``"none"`` the speech part alone. Signals:
    ``(L,)`` at ``sample_rate``, one length. Chapter: 05_complex_mapping."""
    from sedemo.metrics import stoi

    if not isinstance(parts, dict) or not parts:
        raise ValueError("swap_stoi: parts must be a non-empty dict name -> (out_plus, out_minus)")
    speech, noise = {}, {}
    ref = None
    for name, pair in parts.items():
        if name in ("clean", "none"):
            raise ValueError(f"swap_stoi: {name!r} is a reserved row/column name; rename that system")
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(f"swap_stoi: parts[{name!r}] must be (out_plus, out_minus)")
        out_plus, out_minus = pair
        # the noise is only needed by the checks of _parts; any non-zero stand-in of one length will do
        sp, np_, s, _ = _parts(out_plus, out_minus, clean, np.ones_like(np.asarray(clean, np.float64)),
                               f"swap_stoi ({name})")
        speech[name], noise[name], ref = sp, np_, s
    speech["clean"] = ref
    noise["none"] = np.zeros_like(ref)
    return pd.DataFrame({col: {row: stoi(estimate=sp + noise[col], reference=ref, sample_rate=sample_rate)
                               for row, sp in speech.items()} for col in noise})


def level_summary(rows: pd.DataFrame, systems, snr_db: float = -5.0) -> pd.DataFrame:
    """One row per system of a results file scored with ``--speech-noise-split``: the means of
    PESQ-WB, STOI and SI-SDR (dB) over all its rows, STOI at ``snr_db``, and at ``snr_db`` the
    noise left (dB, 1-4 kHz, :func:`split_by_speech_level`) in the loudest and the quietest
    level class and the fall between them. ``rows``: a frame of
    :func:`sedemo.evaluation.peers.item_rows` (columns ``system``, ``snr_db``, ``pesq_wb``,
    ``stoi``, ``si_sdr``, ``level_residual_db``); ``systems``: the rows wanted, in order (an
    unknown name is an error naming the known ones). Chapter: 05_complex_mapping."""
    known = list(dict.fromkeys(rows["system"]))
    missing = [s for s in systems if s not in known]
    if missing:
        raise ValueError(f"level_summary: unknown system(s) {missing}; the rows hold {known}")
    at = rows[rows["snr_db"] == snr_db]
    if at.empty:
        raise ValueError(f"level_summary: no rows at {snr_db:g} dB; the rows hold SNRs {sorted(set(rows['snr_db']))}")
    out = {}
    for name in systems:
        mine, low = rows[rows["system"] == name], at[at["system"] == name]
        levels = pd.DataFrame(list(low["level_residual_db"])).mean()
        loud, quiet = levels.index[0], levels.index[-1]
        out[name] = {"PESQ-WB": mine["pesq_wb"].mean(), "STOI": mine["stoi"].mean(), "SI-SDR (dB)": mine["si_sdr"].mean(),
                     f"{snr_db:g} dB: STOI": low["stoi"].mean(),
                     f"{snr_db:g} dB: noise left, loudest frames (dB)": levels[loud],
                     f"{snr_db:g} dB: noise left, frames {quiet} (dB)": levels[quiet],
                     f"{snr_db:g} dB: fall (dB)": levels[loud] - levels[quiet]}
    return pd.DataFrame(out).T
