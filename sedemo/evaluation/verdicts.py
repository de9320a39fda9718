"""Verdicts: the one rule that turns stored results (means and spreads over seeds)
into "better", "worse" or "no supported difference", and those into a verdict word
on a guidebook claim. Also the labels and directions of every quantity the
trained experiments report. Chapter: 06_losses_trained.
"""
from __future__ import annotations

from sedemo.metrics import METRICS

#: the quantities the trained experiments add to :data:`sedemo.metrics.METRICS`:
#: key -> (table label, higher is better)
DERIVED = {
    "si_sdr_i": ("SI-SDRi (dB)", True),
    "absent_db": ("residual in pauses (dB re speech)", False),
    "absent_db_change": ("residual in pauses vs noisy (dB)", False),
    "level_db": ("level vs clean (dB)", True),
    "abs_level_db": ("|level error| (dB)", False),
    "colouration_db": ("colouration (dB)", False),
}

#: key -> is a higher value better? (metrics and derived quantities; unknown keys: True)
HIGHER_IS_BETTER = {**{k: m.higher_is_better for k, m in METRICS.items()},
                    **{k: hib for k, (_, hib) in DERIVED.items()}}

#: key -> the column label of the chapters' tables
METRIC_LABELS = {**{k: m.label for k, m in METRICS.items()}, **{k: lab for k, (lab, _) in DERIVED.items()}}

__all__ = ["compare", "compare_above_input", "BOTH_BELOW_INPUT", "verdict", "verdict_word", "one_seed_verdict", "checker_verdict", "beats_architecture",
           "combination_verdict", "diagonal_verdict", "HIGHER_IS_BETTER", "METRIC_LABELS", "DERIVED"]


def compare(table, a: str, b: str, metric: str) -> str:
    """Is run ``a`` better than run ``b`` on ``metric`` in a :func:`sedemo.evaluation.experiments.summary` table?

    Returns ``"better"`` or ``"worse"`` only when the difference of the means exceeds
    the sum of the two standard deviations over seeds (a conservative rule for 3
    seeds), else ``"no supported difference"``; ``"one seed: untested"`` when the
    table's ``("seeds", "n")`` column says either run has fewer than two seeds (no
    spread to compare with). Chapter 6 words its verdicts with it.
    Chapter: 06_losses_trained.
    """
    if ("seeds", "n") in table.columns and min(table.loc[a, ("seeds", "n")], table.loc[b, ("seeds", "n")]) < 2:
        return "one seed: untested"
    ma, mb = table.loc[a, (metric, "mean")], table.loc[b, (metric, "mean")]
    sa, sb = table.loc[a, (metric, "std")], table.loc[b, (metric, "std")]
    spread = (0.0 if sa != sa else sa) + (0.0 if sb != sb else sb)  # NaN std (one seed) counts as 0
    return _decide(ma, mb, spread, metric)


#: the outcome of :func:`compare_above_input` when both runs are worse than the input
BOTH_BELOW_INPUT = "both worse than the noisy input (not counted)"


def compare_above_input(table, a: str, b: str, metric: str, noisy: dict) -> str:
    """:func:`compare`, except that a difference between two runs that are *both* worse
    than the unprocessed input on ``metric`` (``noisy[metric]``, e.g. from
    :func:`sedemo.evaluation.experiments.noisy_reference`) is not evidence that either
    works: then :data:`BOTH_BELOW_INPUT`, which :func:`verdict_word` counts as neither
    better nor worse. A metric missing from ``noisy`` is compared as by :func:`compare`.
    Chapter 5 (the trained Re/Im vs magnitude + phase comparison).
    Chapter: 05_complex_mapping."""
    if metric in noisy:
        sign = 1.0 if HIGHER_IS_BETTER.get(metric, True) else -1.0
        ref = sign * noisy[metric]
        if sign * table.loc[a, (metric, "mean")] < ref and sign * table.loc[b, (metric, "mean")] < ref:
            return BOTH_BELOW_INPUT
    return compare(table, a, b, metric)


def _decide(ma: float, mb: float, margin: float, metric: str) -> str:
    """``"better"``/``"worse"`` (in ``metric``'s direction) when means ``ma`` and ``mb``
    differ by more than ``margin``, else ``"no supported difference"``."""
    if not abs(ma - mb) > margin:
        return "no supported difference"
    return "better" if (ma > mb) == HIGHER_IS_BETTER.get(metric, True) else "worse"


def verdict(table, candidates: list[str], baseline: str, metrics=("pesq_wb", "stoi", "si_sdr")) -> tuple[str, str]:
    """Compare the best of ``candidates`` with ``baseline`` on each metric of a
    :func:`sedemo.evaluation.experiments.summary` table (:func:`compare`). Returns ``(text, verdict)`` with the
    verdict ``"agree"`` (better on some metric, worse on none), ``"disagree"`` (worse
    on some, better on none), ``"partly"`` (better on some, worse on others) or ``"not
    confirmed"`` (no difference the seeds support), as chapter 6's summary table
    words it.
    Chapter: 06_losses_trained."""
    parts, outcomes = [], []
    for m in metrics:
        sign = 1 if HIGHER_IS_BETTER.get(m, True) else -1
        best = max(candidates, key=lambda lab: sign * table.loc[lab, (m, "mean")])
        outcomes.append(compare(table, best, baseline, m))
        parts.append(f"{METRIC_LABELS.get(m, m)}: {best} {table.loc[best, (m, 'mean')]:.3f} vs "
                     f"{table.loc[baseline, (m, 'mean')]:.3f} ({outcomes[-1]})")
    return "; ".join(parts), verdict_word(outcomes)


def verdict_word(outcomes) -> str:
    """One word for per-metric outcomes of :func:`compare` / :func:`one_seed_verdict`:
    ``"agree"`` (some "better", no "worse"), ``"disagree"`` (some "worse", no
    "better"), ``"partly"`` (both) or ``"not confirmed"`` (neither). Chapters 5, 6.
    Chapters: 05_complex_mapping, 06_losses_trained."""
    outcomes = list(outcomes)
    better, worse = "better" in outcomes, "worse" in outcomes
    return ("agree" if better and not worse else "disagree" if worse and not better else
            "partly" if better else "not confirmed")


def one_seed_verdict(table, a: str, b: str, metric: str, spread: float) -> str:
    """``"better"``/``"worse"`` when run ``a`` differs from ``b`` on ``metric`` by more
    than twice ``spread`` (:func:`sedemo.evaluation.experiments.typical_spread`; two seeds' spreads added, as in
    :func:`compare`), else ``"no supported difference"``. For one-seed runs.
    Chapter: 06_losses_trained."""
    return _decide(table.loc[a, (metric, "mean")], table.loc[b, (metric, "mean")], 2 * spread, metric)


def checker_verdict(broken_flagged, fixes_causal) -> str:
    """The verdict on a causality rule from the checker's results on its planted mistakes:
    ``broken_flagged`` (per case: the checker flagged every broken layer) and
    ``fixes_causal`` (per case: every fixed layer measured causal). ``"agree"`` when all
    of both hold, ``"partly"`` when some fix is causal, else ``"disagree"``.
    Chapter: 07_causality."""
    broken, fixed = [bool(b) for b in broken_flagged], [bool(f) for f in fixes_causal]
    if not broken or len(broken) != len(fixed):
        raise ValueError("checker_verdict needs one broken_flagged and one fixes_causal value per case")
    if all(broken) and all(fixed):
        return "agree"
    return "partly" if any(fixed) else "disagree"


def beats_architecture(table, baseline: str, groups: dict, architecture: str,
                       metrics=("si_sdr_i", "pesq_wb")) -> tuple[dict, dict, str]:
    """Claim C1's rule: does changing the context or the loss matter more than changing
    the architecture? ``groups`` maps a kind of change (``"context"``, ``"loss"``, and
    ``architecture``) to run labels of a :func:`sedemo.evaluation.experiments.summary`
    table; ``baseline`` is the unchanged run. A kind of change holds when one of its
    runs beats the baseline by more than the seeds' spread (:func:`compare`) on a metric
    and gains at least as much as the best architecture swap on it. Returns ``(best
    change of each kind per metric, holds per non-architecture kind, verdict word)``.
    Chapter: 06_losses_trained."""
    change = {m: table[(m, "mean")] - table.loc[baseline, (m, "mean")] for m in metrics}
    best = {g: {m: max(change[m][labels]) for m in metrics} for g, labels in groups.items()}
    arch_gain = {m: max(change[m][groups[architecture]]) for m in metrics}
    parts = {g: any(compare(table, lab, baseline, m) == "better" and change[m][lab] >= arch_gain[m]
                    for lab in groups[g] for m in metrics)
             for g in groups if g != architecture}
    word = "agree" if all(parts.values()) else "partly" if any(parts.values()) else "disagree"
    return best, parts, word


def combination_verdict(table, combined: str, alone: str) -> tuple[dict, str]:
    """Claim C7's rule: the run trained with SI-SDR plus a spectral term (``combined``)
    against SI-SDR ``alone``: ``"agree"`` when it is better on the absolute level error
    and on colouration and not worse on SI-SDR, ``"partly"`` when better on one of the
    two, else ``"disagree"``. Returns ``({metric: outcome of compare}, word)``.
    Chapter: 06_losses_trained."""
    outcomes = {m: compare(table, combined, alone, m) for m in ("abs_level_db", "colouration_db", "si_sdr")}
    hits = [outcomes["abs_level_db"] == "better", outcomes["colouration_db"] == "better"]
    word = ("agree" if all(hits) and outcomes["si_sdr"] != "worse" else
            "partly" if any(hits) else "disagree")
    return outcomes, word


def diagonal_verdict(table, own_metric: dict, metrics) -> tuple[dict, list, str]:
    """Claim C8's rule: is each loss best on the metric it optimises? ``own_metric`` maps
    a run label to its metric; ``metrics`` are the columns to rank. Returns ``(best label
    per metric, labels on the diagonal, word)``: ``"agree"`` when every loss wins its own
    metric, ``"disagree"`` when none does, else ``"partly"``. Chapter: 06_losses_trained."""
    best = {m: (table[(m, "mean")].idxmax() if HIGHER_IS_BETTER.get(m, True) else table[(m, "mean")].idxmin())
            for m in metrics}
    diagonal = [lab for lab, m in own_metric.items() if best[m] == lab]
    word = "agree" if len(diagonal) == len(own_metric) else "disagree" if not diagonal else "partly"
    return best, diagonal, word
