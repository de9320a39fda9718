"""sedemo.evaluation.uncertainty: the paired bootstrap against a float64 re-derivation."""
from __future__ import annotations

import numpy as np
import pytest

from sedemo.evaluation import uncertainty


def _rows(diffs, base=None, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(2.0, 0.5, len(diffs)) if base is None else base
    rows = []
    for i, (b, d) in enumerate(zip(base, diffs)):
        rows += [{"id": f"i{i}", "system": "noisy", "pesq_wb": b}, {"id": f"i{i}", "system": "model", "pesq_wb": b + d}]
    return rows


def test_interval_contains_the_mean_and_matches_a_direct_bootstrap():
    diffs = np.random.default_rng(1).normal(0.3, 0.2, 60)
    r = uncertainty.paired_bootstrap(_rows(diffs), "model", "noisy", "pesq_wb", n_boot=4000, seed=3)
    assert r["n"] == 60 and r["diff"] == pytest.approx(diffs.mean())
    assert r["low"] < r["diff"] < r["high"]
    rng = np.random.default_rng(3)
    ordered = diffs[np.argsort([f"i{i}" for i in range(60)])]  # items in the order of their ids
    means = ordered[rng.integers(0, 60, size=(4000, 60))].mean(axis=1)
    assert (r["low"], r["high"]) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))
    # the normal approximation: half-width about 1.96 * sd / sqrt(n)
    assert r["high"] - r["low"] == pytest.approx(2 * 1.96 * diffs.std(ddof=1) / np.sqrt(60), rel=0.15)


def test_pairing_removes_the_shared_item_variation():
    diffs = np.full(40, 0.1) + np.random.default_rng(2).normal(0, 0.01, 40)
    base = np.random.default_rng(4).normal(2.0, 1.0, 40)  # items differ a lot, the difference does not
    r = uncertainty.paired_bootstrap(_rows(diffs, base), "model", "noisy", "pesq_wb")
    assert 0.09 < r["low"] < r["high"] < 0.11


def test_difference_table_and_errors():
    rows = _rows(np.full(10, 0.2))
    t = uncertainty.difference_table(rows, ["model"], "noisy", metrics=("pesq_wb",))
    assert t.loc["model", ("pesq_wb", "diff")] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="choose one of"):
        uncertainty.paired_bootstrap(rows, "gcrn", "noisy", "pesq_wb")
    with pytest.raises(ValueError, match="no metric"):
        uncertainty.paired_bootstrap(rows, "model", "noisy", "stoi")
    with pytest.raises(ValueError):
        uncertainty.paired_bootstrap(rows, "model", "noisy", "pesq_wb", level=1.5)


def test_interval_text_writes_difference_low_high_under_the_book_labels():
    rows = _rows(np.linspace(0.1, 0.3, 12))
    t = uncertainty.difference_table(rows, ["model"], "noisy", metrics=("pesq_wb",), n_boot=200)
    d, lo, hi = (t.loc["model", ("pesq_wb", k)] for k in ("diff", "low", "high"))
    text = uncertainty.interval_text(t)
    assert list(text.columns) == ["PESQ-WB"] and text.index.name == t.index.name
    assert text.loc["model", "PESQ-WB"] == f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
    assert uncertainty.interval_text(t, {"pesq_wb": 1}).loc["model", "PESQ-WB"] == f"{d:+.1f} [{lo:+.1f}, {hi:+.1f}]"


def test_grouped_difference_table_is_the_table_of_each_group():
    rng = np.random.default_rng(3)
    rows = []
    for snr, gain in ((0.0, 0.1), (5.0, 0.4)):  # a larger improvement at 5 dB
        for k in range(15):
            base = rng.normal(1.5, 0.3)
            rows += [{"id": f"{snr}-{k}", "system": "noisy", "snr_db": snr, "pesq_wb": base},
                     {"id": f"{snr}-{k}", "system": "model", "snr_db": snr, "pesq_wb": base + gain + rng.normal(0, 0.05)}]
    t = uncertainty.grouped_difference_table(rows, ["model"], "noisy", metrics=("pesq_wb",), n_boot=300)
    assert list(t.index) == [(0.0, "model"), (5.0, "model")]
    for snr in (0.0, 5.0):
        alone = uncertainty.difference_table([r for r in rows if r["snr_db"] == snr], ["model"], "noisy",
                                             metrics=("pesq_wb",), n_boot=300)
        assert t.loc[(snr, "model")].to_dict() == alone.loc["model"].to_dict()
    assert t.loc[(5.0, "model"), ("pesq_wb", "diff")] > t.loc[(0.0, "model"), ("pesq_wb", "high")]
    assert uncertainty.interval_text(t).shape == (2, 1)
    with pytest.raises(ValueError, match="no column"):
        uncertainty.grouped_difference_table(rows, ["model"], "noisy", by="noise_type")


def test_comparison_table_stacks_each_pair_on_each_set():
    sets = {"first": _rows(np.linspace(0.1, 0.3, 12), seed=1), "second": _rows(np.linspace(-0.2, 0.0, 12), seed=2)}
    t = uncertainty.comparison_table(sets, [("model", "noisy")], metrics=("pesq_wb",), n_boot=200)
    assert list(t.index) == [("model minus noisy", "first"), ("model minus noisy", "second")]
    assert t.index.names == ["comparison", "validation set"] and list(t.columns) == ["PESQ-WB"]
    for label, rows in sets.items():
        alone = uncertainty.interval_text(uncertainty.difference_table(rows, ["model"], "noisy",
                                                                       metrics=("pesq_wb",), n_boot=200))
        assert t.loc[("model minus noisy", label), "PESQ-WB"] == alone.loc["model", "PESQ-WB"]
    with pytest.raises(ValueError, match="at least one"):
        uncertainty.comparison_table({}, [("model", "noisy")])
