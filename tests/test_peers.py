"""sedemo.evaluation.peers: the stored results of benchmarks/peers.py and the tables made
from them (chapters 5 and 7). The means are re-derived from the stored per-item rows."""
import json

import numpy as np
import pytest

from sedemo.evaluation import peers

R = peers.load_peers()
PEERS = ("rnnoise", "nsnet2", "gtcrn", "deepfilternet3")


def test_every_peer_and_the_noisy_input_are_stored_for_every_test_item():
    names = set(R["systems"])
    assert {"noisy", *PEERS} <= names
    ids = {r["id"] for r in R["systems"]["noisy"]["items"]}
    assert len(ids) == R["corpus"]["n_items"]
    for n in names:
        assert {r["id"] for r in R["systems"][n]["items"]} == ids


@pytest.mark.parametrize("metric", ["pesq_wb", "stoi", "si_sdr"])
def test_stored_means_are_the_means_of_the_stored_items(metric):
    skipped = {u["id"] for u in R.get("unscored", []) if metric in u.get("errors", {})}
    for name, s in R["systems"].items():
        vals = [r[metric] for r in s["items"] if r["id"] not in skipped]
        assert s["mean"][metric] == pytest.approx(np.mean(vals), rel=1e-9)
        for snr, cell in s["by_snr"].items():
            v = [r[metric] for r in s["items"] if r["id"] not in skipped and float(r["snr_db"]) == float(snr)]
            assert cell[metric] == pytest.approx(np.mean(v), rel=1e-9)


def test_quality_table_holds_the_stored_means():
    t = peers.quality_table(R)
    assert len(t) == len(R["systems"])
    for name in PEERS:
        assert t.loc[peers.LABELS[name], "STOI"] == R["systems"][name]["mean"]["stoi"]


def test_difference_intervals_bracket_the_difference():
    t = peers.difference_table(R, n_boot=300)
    assert len(t) == len(R["systems"]) - 1
    col = [c for c in t.columns if c.startswith("SI-SDR")][0]
    for name in PEERS:
        diff = R["systems"][name]["mean"]["si_sdr"] - R["systems"]["noisy"]["mean"]["si_sdr"]
        d, lo, hi = (float(x) for x in t.loc[peers.LABELS[name], col].replace("[", "").replace("]", "").replace(",", "").split())
        assert d == pytest.approx(diff, abs=0.006) and lo <= d <= hi


def test_cost_table_has_a_row_per_enhancer_and_the_streaming_rows():
    t = peers.cost_table(R)
    assert all(peers.LABELS[p] in t.index for p in PEERS)
    assert (t["CPU s per s (1 thread)"] > 0).all()
    extra = sum(k in s for s in R["systems"].values() for k in ("cost_streaming", "cost_streaming_onnx"))
    assert len(t) == len(R["systems"]) - 1 + extra


def test_snr_table_columns_are_the_test_snrs():
    t = peers.snr_table(R, "stoi")
    assert list(t.columns) == sorted(float(k) for k in R["systems"]["noisy"]["by_snr"])


def test_snr_table_selects_and_orders_systems():
    names = list(R["systems"])[::-1][:3]
    t = peers.snr_table(R, "stoi", systems=names)
    full = peers.snr_table(R, "stoi")
    assert len(t) == 3
    for row, name in zip(t.index, names):
        assert row in full.index
        assert t.loc[row].tolist() == pytest.approx([R["systems"][name]["by_snr"][k]["stoi"]
                                                     for k in sorted(R["systems"][name]["by_snr"], key=float)])
    with pytest.raises(ValueError, match="choose one of"):
        peers.snr_table(R, "stoi", systems=["noisy", "nonesuch"])


def test_missing_results_file_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="benchmarks/peers.py"):
        peers.load_peers(tmp_path / "none.json")


def test_results_file_is_package_data():
    import tomllib
    from pathlib import Path

    cfg = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert "results/peers/*.json" in cfg["tool"]["setuptools"]["package-data"]["sedemo"]
    assert json.loads(peers.PEERS_FILE.read_text())["systems"]


def test_unknown_metric_or_system_lists_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        peers.snr_table(R, "pesq_nb")
    with pytest.raises(ValueError, match="choose one of"):
        peers.difference_table(R, against="clean")


def test_cost_table_names_how_each_system_ran():
    kinds = peers.cost_table(R)["how it was run"]
    assert kinds[peers.LABELS["rnnoise"]] == "frame by frame, C"
    assert kinds[peers.LABELS["nsnet2"]] == "whole file"
    assert "?" not in set(kinds)
    assert peers.cost_table(R, long=True)["how it was run"].str.len().min() > 20


def test_choose_default_takes_the_model_ahead_on_most_metrics():
    def sys_(p, s, q):
        return {"mean": {"pesq_wb": p, "stoi": s, "si_sdr": q}}

    results = {"metrics": ["pesq_wb", "stoi", "si_sdr"],
               "systems": {"noisy": sys_(1.2, 0.7, 2.0), "a": sys_(1.5, 0.80, 7.0), "b": sys_(1.4, 0.82, 8.0),
                           "c": sys_(1.6, 0.79, 6.0)}}
    best, table = peers.choose_default(results, ["a", "b", "c"])
    assert best == "b" and table.loc["b", "wins"] == 2 and table.loc["c", "wins"] == 1
    best, _ = peers.choose_default(results, ["a", "c"])  # 1 win each for... a: stoi, si_sdr; c: pesq
    assert best == "a"
    results["systems"]["d"] = sys_(1.5, 0.80, 7.0)
    best, _ = peers.choose_default(results, ["a", "d"])  # a tie everywhere: the first with the top PESQ
    assert best in ("a", "d")
    with pytest.raises(Exception, match="zzz"):
        peers.choose_default(results, ["a", "zzz"])


def test_the_default_model_is_the_validation_choice():
    """``python -m sedemo enhance``'s default is the model that the stored validation results
    choose: the corpus's validation split and the held-out 0 A.D. noise, pooled (never the
    test split)."""
    from sedemo.__main__ import DEFAULT_MODEL

    if not peers.VALID_FILE.exists() or not peers.BANK_VALID_FILE.exists():
        pytest.skip("no validation results stored yet")
    results = peers.load_peers(peers.VALID_FILE)
    bank = peers.load_peers(peers.BANK_VALID_FILE)
    assert results["corpus"]["split"] == "valid" and bank["corpus"]["split"] == "valid"
    assert bank["corpus"]["root"].endswith("noise-bank-valid")
    pooled = peers.pool_results({"corpus": results, "0ad": bank})
    candidates = [n for n, s in pooled["systems"].items() if s.get("kind") == "sedemo model"]
    best, _ = peers.choose_default(pooled, candidates)
    assert DEFAULT_MODEL == best
    assert DEFAULT_MODEL in candidates and len(candidates) >= 3


def test_pool_results_recomputes_the_means_over_every_set():
    def sys_(rows):
        return {"kind": "sedemo model", "items": [{"id": f"v{i}", "pesq_wb": p, "stoi": s, "si_sdr": q}
                                                  for i, (p, s, q) in enumerate(rows)],
                "mean": {"pesq_wb": -1.0, "stoi": -1.0, "si_sdr": -1.0}}

    a = {"metrics": ["pesq_wb", "stoi", "si_sdr"], "corpus": {"n_items": 2}, "command": "A",
         "systems": {"x": sys_([(1.0, 0.5, 1.0), (2.0, 0.7, 3.0)]), "y": sys_([(1.5, 0.6, 2.0), (1.5, 0.6, 2.0)]),
                     "only_a": sys_([(9.0, 0.9, 9.0), (9.0, 0.9, 9.0)])}}
    b = {"metrics": ["pesq_wb", "stoi", "si_sdr"], "corpus": {"n_items": 1}, "command": "B",
         "systems": {"x": sys_([(float("nan"), 0.9, 5.0)]), "y": sys_([(1.0, 0.6, 2.0)])}}
    pooled = peers.pool_results({"corpus": a, "bank": b})
    assert set(pooled["systems"]) == {"x", "y"} and pooled["corpus"]["n_items"] == 3
    x = pooled["systems"]["x"]
    assert x["mean"]["pesq_wb"] == pytest.approx(1.5)  # the NaN left out
    assert x["mean"]["stoi"] == pytest.approx((0.5 + 0.7 + 0.9) / 3)
    assert [it["id"] for it in x["items"]] == ["corpus:v0", "corpus:v1", "bank:v0"]
    best, table = peers.choose_default(pooled, ["x", "y"])
    assert best == "x" and table.loc["x", "wins"] == 3
    with pytest.raises(ValueError, match="only_a"):
        peers.pool_results({"corpus": a, "bank": b}, systems=["x", "only_a"])


def test_side_reads_where_the_interval_lies():
    from sedemo.evaluation import uncertainty

    rows = [{"id": f"i{k}", "system": s, "stoi": v + (0.1 if s == "a" else 0.0) + (-0.2 if s == "b" else 0.0)}
            for k, v in enumerate(np.linspace(0.5, 0.9, 20)) for s in ("a", "b", "c", "base")]
    t = uncertainty.difference_table(rows, ["a", "b", "base"], "c", ("stoi",))
    assert uncertainty.side(t.loc["a"], "stoi") == "ahead"
    assert uncertainty.side(t.loc["b"], "stoi") == "behind"
    assert uncertainty.side(t.loc["base"], "stoi") == "no supported difference"


def test_commands_lists_the_first_run_then_the_added_ones():
    r = {"command": "a", "added": [{"command": "b"}, {"command": "c"}]}
    assert peers.commands(r) == ["a", "b", "c"]
    assert peers.commands({"command": "a"}) == ["a"]
    r = {"command": "a", "systems": {"x": {}, "y": {}, "z": {}},
         "added": [{"command": "b", "systems": ["y"]}, {"command": "c", "systems": ["z"]}]}
    assert [peers.commands(r, n) for n in ("x", "y", "z")] == [["a"], ["b"], ["c"]]
    with pytest.raises(ValueError, match="unknown system 'w'"):
        peers.commands(r, "w")
    pooled = peers.pool_results({"x": peers.load_peers(peers.VALID_FILE), "y": peers.load_peers(peers.BANK_VALID_FILE)})
    assert pooled["command"].count("benchmarks/peers.py") == (
        len(peers.commands(peers.load_peers(peers.VALID_FILE))) + len(peers.commands(peers.load_peers(peers.BANK_VALID_FILE))))


@pytest.mark.parametrize("seeds_file, main_file", [(peers.SEEDS_VALID_FILE, peers.VALID_FILE),
                                                   (peers.SEEDS_BANK_VALID_FILE, peers.BANK_VALID_FILE)])
def test_seed_replicates_are_scored_on_the_same_validation_mixtures(seeds_file, main_file):
    """The other seeds of a comparison live in files of their own (not candidates of the
    default), scored on exactly the mixtures of the main validation file: the same ids, SNRs
    and noisy-input scores, and every replicate named <candidate>_s<seed> of a stored candidate."""
    seeds, main = peers.load_peers(seeds_file), peers.load_peers(main_file)
    assert seeds["corpus"]["split"] == main["corpus"]["split"] == "valid"
    a, b = seeds["systems"]["noisy"]["items"], main["systems"]["noisy"]["items"]
    assert [r["id"] for r in a] == [r["id"] for r in b] and [r["snr_db"] for r in a] == [r["snr_db"] for r in b]
    np.testing.assert_allclose([r["si_sdr"] for r in a], [r["si_sdr"] for r in b], atol=1e-6)
    replicates = [n for n, s in seeds["systems"].items() if s.get("kind") == "sedemo model"]
    assert replicates and all(n.rsplit("_s", 1)[0] in main["systems"] for n in replicates)
    assert not set(replicates) & set(main["systems"])


def test_load_valid_pair_reads_both_validation_sets_of_a_diagnostic():
    sets = peers.load_valid_pair("clicks")
    assert list(sets) == list(peers.VALID_SETS)
    folder = peers.PEERS_FILE.parent
    assert sets["corpus validation split"] == peers.load_peers(folder / "peers-clicks-valid.json")
    assert sets["held-out 0 A.D. noise"] == peers.load_peers(folder / "peers-clicks-bank-valid.json")
    text = peers.commands_text(sets)
    assert text.startswith("corpus validation split: ") and "\n  " in text  # wrapped, indented
    assert "sedemo/results/peers/peers-clicks-valid.json" in text.split()  # whole, not broken at a hyphen
    assert "--out" in text.split()
    pooled = peers.pool_valid_pair(sets)
    assert pooled == peers.pool_results({"corpus": sets["corpus validation split"], "0ad": sets["held-out 0 A.D. noise"]})
    n = sum(r["corpus"]["n_items"] for r in sets.values())
    assert pooled["corpus"]["n_items"] == n and len(pooled["systems"]["rnnoise"]["items"]) == n


def test_load_valid_pair_names_the_stored_tags():
    with pytest.raises(FileNotFoundError, match=r"choose a stored tag \(.*clicks.*df16k.*dfhl") as err:
        peers.load_valid_pair("nope")
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="expected the sets"):
        peers.pool_valid_pair({"corpus": peers.load_peers(peers.VALID_FILE)})
