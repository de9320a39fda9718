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


def _clustered_rows(diffs, groups):
    rows = _rows(diffs)
    for r in rows:
        r["speaker"] = groups[int(r["id"][1:])]
    return rows


def test_cluster_bootstrap_of_uniform_groups_is_the_bootstrap_of_their_means():
    # 6 voices of 5 items each, the same difference within a voice: resampling voices is
    # resampling 6 numbers, which the item bootstrap of those 6 numbers re-derives draw by draw
    k, size = 6, 5
    voice_diff = np.array([0.3, -0.1, 0.05, 0.4, 0.2, -0.2])
    ids = [f"i{i}" for i in range(k * size)]
    order = np.argsort(ids)  # the rows are paired in the order of their ids
    groups = [f"v{i // size}" for i in range(k * size)]
    diffs = voice_diff[[i // size for i in range(k * size)]]
    r = uncertainty.paired_bootstrap(_clustered_rows(diffs, groups), "model", "noisy", "pesq_wb",
                                     n_boot=3000, seed=5, cluster="speaker")
    assert r["clusters"] == k and r["n"] == k * size and r["diff"] == pytest.approx(voice_diff.mean())
    first_seen = list(dict.fromkeys(np.array(groups)[order]))  # the groups in the order the bootstrap codes them
    means_in_order = np.array([voice_diff[int(g[1:])] for g in first_seen])
    rng = np.random.default_rng(5)
    direct = means_in_order[rng.integers(0, k, size=(3000, k))].mean(axis=1)
    assert (r["low"], r["high"]) == pytest.approx(tuple(np.percentile(direct, [2.5, 97.5])))


def test_cluster_bootstrap_matches_a_float64_loop_with_unequal_groups():
    rng = np.random.default_rng(7)
    sizes = [3, 9, 5, 1, 7]
    groups = [f"v{g}" for g, s in enumerate(sizes) for _ in range(s)]
    diffs = rng.normal(0.1, 0.3, len(groups))
    r = uncertainty.paired_bootstrap(_clustered_rows(diffs, groups), "model", "noisy", "pesq_wb",
                                     n_boot=500, seed=2, cluster="speaker")
    ids = sorted(f"i{i}" for i in range(len(groups)))
    by_group: dict = {}
    for i in ids:  # the items of each group, the groups in the order of their first item
        by_group.setdefault(groups[int(i[1:])], []).append(diffs[int(i[1:])])
    lists = list(by_group.values())
    draws = np.random.default_rng(2).integers(0, len(lists), size=(500, len(lists)))
    means = []
    for row in draws:  # a drawn group brings all its items, as often as it is drawn
        items = [x for j in row for x in lists[j]]
        means.append(float(np.mean(np.asarray(items, dtype=np.float64))))
    assert (r["low"], r["high"]) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))


def test_a_voice_effect_widens_the_cluster_interval_but_not_the_items_one():
    # 8 voices x 15 items: each voice has its own offset (some ahead, some behind), tiny item noise
    rng = np.random.default_rng(11)
    offsets = rng.normal(0.05, 0.2, 8)
    groups = [f"v{i // 15}" for i in range(120)]
    diffs = offsets[[i // 15 for i in range(120)]] + rng.normal(0, 0.01, 120)
    rows = _clustered_rows(diffs, groups)
    items = uncertainty.paired_bootstrap(rows, "model", "noisy", "pesq_wb")
    voices = uncertainty.paired_bootstrap(rows, "model", "noisy", "pesq_wb", cluster="speaker")
    assert items["diff"] == voices["diff"]
    assert (voices["high"] - voices["low"]) > 3 * (items["high"] - items["low"])
    table = uncertainty.cluster_differences(rows, "model", "noisy", metrics=("pesq_wb",))
    assert list(table["items"]) == [15] * 8
    assert table["pesq_wb"].to_numpy() == pytest.approx(
        [diffs[[i for i in range(120) if groups[i] == g]].mean() for g in table.index])
    t = uncertainty.difference_table(rows, ["model"], "noisy", metrics=("pesq_wb",), cluster="speaker")
    assert t.loc["model", ("pesq_wb", "low")] == pytest.approx(voices["low"])


def test_cluster_bootstrap_refuses_what_it_cannot_resample():
    rows = _clustered_rows(np.full(6, 0.1), ["a"] * 6)
    with pytest.raises(ValueError, match="at least two"):
        uncertainty.paired_bootstrap(rows, "model", "noisy", "pesq_wb", cluster="speaker")
    with pytest.raises(ValueError, match="no column 'room'"):
        uncertainty.paired_bootstrap(rows, "model", "noisy", "pesq_wb", cluster="room")
    mixed = _clustered_rows(np.full(6, 0.1), ["a", "b"] * 3)
    mixed[0]["speaker"] = "c"  # item i0 is 'c' for one system, 'a' for the other
    with pytest.raises(ValueError, match="more than one 'speaker'"):
        uncertainty.paired_bootstrap(mixed, "model", "noisy", "pesq_wb", cluster="speaker")
    with pytest.raises(ValueError, match="choose one of"):
        uncertainty.cluster_differences(rows, "gcrn", "noisy", metrics=("pesq_wb",))


def test_cluster_bootstrap_needs_a_group_for_the_compared_systems_only():
    rows = _clustered_rows(np.linspace(0.0, 0.2, 8), ["a", "b"] * 4)
    rows += [{"id": "i0", "system": "other", "pesq_wb": 1.0, "speaker": None}]  # a third system without one
    r = uncertainty.paired_bootstrap(rows, "model", "noisy", "pesq_wb", cluster="speaker", n_boot=200)
    assert r["clusters"] == 2
    rows[0]["speaker"] = None
    with pytest.raises(ValueError, match="some rows have no 'speaker'"):
        uncertainty.paired_bootstrap(rows, "model", "noisy", "pesq_wb", cluster="speaker")
