"""How sure is a difference between two systems? Paired bootstrap confidence intervals
over the test items (Efron & Tibshirani 1993; the standard tool of speech-enhancement
comparisons on a fixed test set): resample the items with replacement, recompute the
mean difference, and read the interval from the percentiles. Pairing (the same items for
both systems) removes the item-to-item variation that both systems share.

A 95 % interval that excludes 0 says the difference would very likely hold on other
items *like these*; it says nothing about other speakers, noises or recordings. The
cluster bootstrap (``cluster="speaker"``) asks the wider question for one of them: it
resamples whole voices (every item of a drawn voice, as often as it is drawn), so the
interval covers how much the difference changes from voice to voice (Davison & Hinkley
1997, sec. 3.8; Field & Welsh 2007). With a handful of voices that interval is itself
rough: a percentile interval from nine clusters can only be as good as nine draws allow.
Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["paired_bootstrap", "difference_table", "grouped_difference_table", "side", "comparison_table",
           "interval_text", "cluster_differences"]


def paired_bootstrap(rows, a: str, b: str, metric: str, n_boot: int = 2000, level: float = 0.95,
                     seed: int = 0, cluster: str | None = None) -> dict:
    """Mean of ``metric(a) - metric(b)`` over the items both systems were scored on, with
    a percentile bootstrap interval. ``rows``: the per-item rows of
    :func:`sedemo.evaluation.scoring.score_systems` (``id``, ``system``, metrics).

    ``cluster``: a column of the rows (``"speaker"``) whose values group the items. Then
    the bootstrap draws ``K`` of the ``K`` groups with replacement and averages the
    differences of all their items (a group drawn twice counts twice): the interval of a
    difference on *other groups like these*, which is wider than the items' when the
    difference changes from group to group. Each item must belong to one group, and
    there must be at least two. ``None``: the items are resampled one by one.

    Returns ``{"diff", "low", "high", "n"}`` (``n``: paired items), plus ``"clusters"``
    (the number of groups) with ``cluster``. Raises ``ValueError`` when the systems share
    no item or ``metric`` or ``cluster`` is missing. Chapter: 05_complex_mapping."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_boot < 100:
        raise ValueError(f"n_boot must be >= 100 for a percentile interval, got {n_boot}")
    df = pd.DataFrame(list(rows))
    diff = _paired_diff(df, a, b, metric)
    d = diff.to_numpy(float)
    if d.size == 0:
        raise ValueError(f"systems {a!r} and {b!r} share no scored item")
    rng = np.random.default_rng(seed)
    tail = 100 * (1 - level) / 2
    if cluster is None:
        means = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
        low, high = np.percentile(means, [tail, 100 - tail])
        return {"diff": float(d.mean()), "low": float(low), "high": float(high), "n": int(d.size)}
    groups = _item_groups(df[df.system.isin([a, b])], cluster).reindex(diff.index)
    codes, names = pd.factorize(groups)
    k = len(names)
    if k < 2:
        raise ValueError(f"a cluster bootstrap needs at least two values of {cluster!r}; the paired items have {k}")
    sums = np.bincount(codes, weights=d, minlength=k)
    sizes = np.bincount(codes, minlength=k).astype(float)
    draws = rng.integers(0, k, size=(n_boot, k))
    means = sums[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    low, high = np.percentile(means, [tail, 100 - tail])
    return {"diff": float(d.mean()), "low": float(low), "high": float(high), "n": int(d.size), "clusters": int(k)}


def _paired_diff(df: pd.DataFrame, a: str, b: str, metric: str) -> pd.Series:
    """``metric(a) - metric(b)`` per item id, over the items both systems were scored on."""
    if metric not in df.columns:
        raise ValueError(f"no metric {metric!r} in the rows; they have {sorted(c for c in df.columns if c not in ('id', 'system'))}")
    wide = df.pivot_table(index="id", columns="system", values=metric, aggfunc="mean")
    for s in (a, b):
        if s not in wide.columns:
            raise ValueError(f"no system {s!r} in the rows; choose one of {sorted(wide.columns)}")
    return (wide[a] - wide[b]).dropna()


def _item_groups(df: pd.DataFrame, cluster: str) -> pd.Series:
    """The value of ``cluster`` of each item id (one per id, or ``ValueError``)."""
    if cluster not in df.columns:
        raise ValueError(f"no column {cluster!r} to cluster by; the rows have {sorted(df.columns)}")
    if df[cluster].isna().any():
        raise ValueError(f"some rows have no {cluster!r}; give every item one, or cluster by another column")
    per_id = df.groupby("id")[cluster].nunique()
    if (per_id > 1).any():
        raise ValueError(f"item {per_id[per_id > 1].index[0]!r} has more than one {cluster!r}; "
                         "each item must belong to one group")
    return df.groupby("id")[cluster].first()


def cluster_differences(rows, a: str, b: str, cluster: str = "speaker",
                        metrics=("pesq_wb", "stoi", "si_sdr")) -> pd.DataFrame:
    """Mean paired difference ``metric(a) - metric(b)`` within each group of ``cluster``
    (e.g. each test voice), one row per group, with the number of paired ``items``: what
    the cluster bootstrap of :func:`paired_bootstrap` resamples. ``items`` counts the
    group's items scored on at least one metric; each metric's mean is over the items
    scored on it (PESQ refuses an item without speech). Raises ``ValueError`` as
    :func:`paired_bootstrap` does. Chapter: 05_complex_mapping."""
    df = pd.DataFrame(list(rows))
    groups = _item_groups(df[df.system.isin([a, b])], cluster)
    out = {}
    for m in metrics:
        out[m] = _paired_diff(df, a, b, m)
    table = pd.DataFrame(out)
    if table.empty:
        raise ValueError(f"systems {a!r} and {b!r} share no scored item")
    table[cluster] = groups.reindex(table.index)
    counts = table.groupby(cluster).size()
    means = table.groupby(cluster)[list(metrics)].mean()
    means["items"] = counts
    means.columns.name = f"{a} minus {b}"
    return means


def difference_table(rows, systems, baseline: str, metrics=("pesq_wb", "stoi", "si_sdr"), **options) -> pd.DataFrame:
    """One row per system of ``systems``: for each metric the mean paired difference to
    ``baseline`` and its interval (:func:`paired_bootstrap`, ``options`` passed on), as
    columns ``(metric, "diff")``, ``(metric, "low")``, ``(metric, "high")``.
    Chapter: 05_complex_mapping."""
    out = {}
    for s in systems:
        rec = {}
        for m in metrics:
            r = paired_bootstrap(rows, s, baseline, m, **options)
            rec[(m, "diff")], rec[(m, "low")], rec[(m, "high")] = r["diff"], r["low"], r["high"]
        out[s] = rec
    table = pd.DataFrame.from_dict(out, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.index.name = f"minus {baseline}"
    return table


def interval_text(table: pd.DataFrame, digits=3) -> pd.DataFrame:
    """A :func:`difference_table` as text for the page: one column per metric, headed as
    the book's tables head it (``"SI-SDR (dB)"``), each cell ``"+0.231 [+0.180, +0.240]"``
    (difference [low, high]). ``digits``: decimals, one number for every metric or a dict
    ``{metric: decimals}`` (3 for a metric it leaves out). Chapter: 05_complex_mapping."""
    from sedemo.evaluation.verdicts import METRIC_LABELS

    out = pd.DataFrame(index=table.index)
    for m in dict.fromkeys(c[0] for c in table.columns):
        d = digits.get(m, 3) if isinstance(digits, dict) else int(digits)
        out[METRIC_LABELS.get(m, m)] = [f"{a:+.{d}f} [{lo:+.{d}f}, {hi:+.{d}f}]" for a, lo, hi in
                                        table[[(m, "diff"), (m, "low"), (m, "high")]].to_numpy()]
    out.index.name = table.index.name
    return out


def side(row, metric: str) -> str:
    """Where a difference's 95 % interval lies: ``"ahead"`` (above 0), ``"behind"`` (below 0)
    or ``"no supported difference"`` (it includes 0). ``row``: one row of a
    :func:`difference_table` (or of :func:`grouped_difference_table`), e.g.
    ``table.loc["ulcrn"]``. Chapter: 05_complex_mapping."""
    low, high = row[(metric, "low")], row[(metric, "high")]
    return "ahead" if low > 0 else "behind" if high < 0 else "no supported difference"


def grouped_difference_table(rows, systems, baseline: str, by: str = "snr_db",
                             metrics=("pesq_wb", "stoi", "si_sdr"), **options) -> pd.DataFrame:
    """:func:`difference_table` within each value of ``by`` (e.g. each test SNR): the rows
    whose ``by`` equals that value, paired as there; index ``(by, system)``, the columns of
    :func:`difference_table` (``(metric, "diff" | "low" | "high")``). The intervals of a
    breakdown are wider than the overall one (fewer items per group). ``options`` go to
    :func:`paired_bootstrap`. Chapter: 05_complex_mapping."""
    df = pd.DataFrame(list(rows))
    if by not in df.columns:
        raise ValueError(f"no column {by!r} in the rows; they have {sorted(df.columns)}")
    parts = []
    for value, group in df.groupby(by, sort=True):
        t = difference_table(group.to_dict("records"), systems, baseline, metrics, **options)
        t.index = pd.MultiIndex.from_product([[value], t.index], names=[by, f"minus {baseline}"])
        parts.append(t)
    return pd.concat(parts)


def comparison_table(rows_by_set: dict, pairs, digits=None, set_name: str = "validation set",
                     **options) -> pd.DataFrame:
    """Several paired comparisons on several sets of rows, as text for the page: for each
    ``(system, control)`` of ``pairs`` and each ``{label: rows}`` of ``rows_by_set``, the
    difference and its 95 % interval (:func:`difference_table`, then :func:`interval_text`
    with ``digits``, by default 3 decimals and 2 for SI-SDR). Index ``("<system> minus
    <control>", label)`` named ``("comparison", set_name)``; one column per metric.
    ``options`` go to :func:`difference_table` (``metrics``, ``n_boot``, ...).
    Chapter: 05_complex_mapping."""
    if not rows_by_set or not pairs:
        raise ValueError("comparison_table needs at least one set of rows and one (system, control) pair")
    digits = {"si_sdr": 2} if digits is None else digits
    parts = {}
    for a, control in pairs:
        parts[f"{a} minus {control}"] = pd.concat(
            {label: interval_text(difference_table(rows, [a], control, **options), digits=digits)
             for label, rows in rows_by_set.items()})
    return pd.concat(parts).droplevel(2).rename_axis(["comparison", set_name])
