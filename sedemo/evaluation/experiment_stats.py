"""Statistics over the stored results of :mod:`sedemo.evaluation.experiments`: per-item
seed means and paired bootstrap intervals, learning curves, and whether the ranking of a
claim's variants was still changing when training stopped. Offered as
``experiments.learning_curves`` etc. Chapters: 03_masks, 05_complex_mapping, 06_losses.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["item_means", "difference_intervals", "learning_curves", "ranking_change"]


def item_means(claim: str, out_dir: str | Path | None = None) -> list[dict]:
    """Per-item rows of ``claim``'s runs at its :func:`budget`, each label's metrics
    averaged over its seeds (``{"id", "system": label or "noisy", metric: value}``; SI-SDR
    improvement as ``si_sdr_i``): the input of
    :func:`sedemo.evaluation.uncertainty.paired_bootstrap` over the test items.
    Chapter: 06_losses_trained."""
    import pandas as pd

    from sedemo.evaluation.experiments import results_at_budget

    frames = []
    for res in results_at_budget(claim, out_dir):
        rows = pd.DataFrame(res["rows"])
        noisy = rows[rows.system == "noisy"].set_index("id")
        est = rows[rows.system != "noisy"].set_index("id").copy()
        est["system"] = res["run"]["label"]
        if "si_sdr" in est:
            est["si_sdr_i"] = est["si_sdr"] - noisy.loc[est.index, "si_sdr"]
            noisy = noisy.assign(si_sdr_i=0.0)
        frames += [est.reset_index(), noisy.reset_index()]
    if not frames:
        return []
    df = pd.concat(frames, ignore_index=True)
    numeric = [c for c in df.columns if c not in ("id", "system") and pd.api.types.is_numeric_dtype(df[c])]
    return df.groupby(["id", "system"])[numeric].mean().reset_index().to_dict("records")


def difference_intervals(claim: str, baseline: str, metrics=("pesq_wb", "stoi", "si_sdr_i"),
                         out_dir: str | Path | None = None, **options):
    """Each of ``claim``'s labels minus ``baseline`` (a label or ``"noisy"``): the mean
    paired difference over the test items (seed means, :func:`item_means`) with its 95 %
    paired bootstrap interval (:func:`sedemo.evaluation.uncertainty.difference_table`).
    The interval is over the *items*; the seeds' spread is the other uncertainty, used by
    :func:`sedemo.evaluation.verdicts.compare`. Chapters: 05_complex_mapping, 06_losses_trained."""
    from sedemo.evaluation import uncertainty
    from sedemo.evaluation.experiments import experiment

    rows = item_means(claim, out_dir)
    labels = [lab for lab in dict.fromkeys(r.label for r in experiment(claim)) if lab != baseline]
    return uncertainty.difference_table(rows, labels, baseline, metrics, **options)


def learning_curves(claim: str, out_dir: str | Path | None = None) -> dict:
    """The validation records of ``claim``'s runs: ``{label: [records of seed 0, of seed 1,
    ...]}`` in the order of :func:`experiment` (each record a ``"valid"`` entry of the run's
    training log: ``step``, ``valid_si_sdr``, ``valid_pesq``, their ``_noisy`` values),
    for :func:`sedemo.display.plots.validation_curves`. Chapters: 05_complex_mapping, 06_losses_trained."""
    from sedemo.evaluation.experiments import experiment, results_at_budget

    out: dict = {}
    results = sorted(results_at_budget(claim, out_dir), key=lambda res: res["run"]["seed"])
    for label in dict.fromkeys(r.label for r in experiment(claim)):
        logs = [[rec for rec in res["log"] if rec.get("kind") == "valid"]
                for res in results if res["run"]["label"] == label]
        if logs:
            out[label] = logs
    return out


def ranking_change(claim: str, metric: str = "valid_si_sdr", out_dir: str | Path | None = None,
                   fraction: float = 0.5) -> dict:
    """Was the ranking of ``claim``'s runs still changing when training stopped? The
    seed-mean validation ``metric`` of each label at the validation point nearest to
    ``fraction`` of the budget and at the end: ``{"steps": (mid, end), "mid": {label:
    value}, "end": {label: value}, "gain": {label: end - mid}, "changed": bool}`` where
    ``changed`` says whether some pair of labels swapped places between the two points
    (a pair within 0.05 of each other counts as tied, not ordered). The learning-curve
    check of the verdicts; chapter 6.
    Chapter: 06_losses_trained."""
    from sedemo.evaluation.experiments import RESULTS_DIR

    curves = learning_curves(claim, out_dir)
    if not curves:
        raise FileNotFoundError(f"no results of {claim} under {out_dir or RESULTS_DIR}; "
                                f"run python scripts/loss_experiments.py --claims {claim}")
    steps = sorted({rec["step"] for logs in curves.values() for log in logs for rec in log})
    end = steps[-1]
    mid = min(steps, key=lambda st: abs(st - fraction * end))

    def mean_at(logs, step):
        vals = [rec[metric] for log in logs for rec in log if rec["step"] == step and rec.get(metric) is not None]
        return float(np.mean(vals)) if vals else float("nan")

    at_mid = {lab: mean_at(logs, mid) for lab, logs in curves.items()}
    at_end = {lab: mean_at(logs, end) for lab, logs in curves.items()}

    def order(values):
        labels = list(values)
        return {(a, b) for a in labels for b in labels if values[a] > values[b] + 0.05}

    before, after = order(at_mid), order(at_end)
    changed = any((b, a) in after for a, b in before)
    return {"steps": (mid, end), "mid": at_mid, "end": at_end,
            "gain": {lab: at_end[lab] - at_mid[lab] for lab in curves}, "changed": changed}
