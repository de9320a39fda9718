"""sedemo.evaluation.verdicts: the rules that turn stored results into verdict words."""
from __future__ import annotations

import pandas as pd
import pytest

from sedemo import metrics
from sedemo.evaluation import verdicts


def _table(rows: dict, metrics_=("si_sdr_i", "pesq_wb"), std=0.05, seeds=3):
    cols = pd.MultiIndex.from_tuples([(m, s) for m in metrics_ for s in ("mean", "std")] + [("seeds", "n")])
    data = [[v for m in metrics_ for v in (vals[m], std)] + [seeds] for vals in rows.values()]
    return pd.DataFrame(data, index=list(rows), columns=cols)


def test_labels_and_directions_come_from_the_metrics_table():
    for key, info in metrics.METRICS.items():
        assert verdicts.METRIC_LABELS[key] == info.label
        assert verdicts.HIGHER_IS_BETTER[key] == info.higher_is_better
    assert verdicts.METRIC_LABELS["si_sdr"] == "SI-SDR (dB)" and verdicts.METRIC_LABELS["cd"] == "CD (dB)"
    assert verdicts.HIGHER_IS_BETTER["absent_db"] is False


def test_checker_verdict():
    assert verdicts.checker_verdict([True, True], [True, True]) == "agree"
    assert verdicts.checker_verdict([False, True], [True, True]) == "partly"
    assert verdicts.checker_verdict([True], [False]) == "disagree"
    with pytest.raises(ValueError):
        verdicts.checker_verdict([], [])


def test_beats_architecture():
    groups = {"context": ["ctx"], "loss": ["loss"], "architecture": ["arch"]}
    t = _table({"base": {"si_sdr_i": 5.0, "pesq_wb": 1.5}, "ctx": {"si_sdr_i": 6.0, "pesq_wb": 1.5},
                "loss": {"si_sdr_i": 5.02, "pesq_wb": 1.5}, "arch": {"si_sdr_i": 5.5, "pesq_wb": 1.6}})
    best, parts, word = verdicts.beats_architecture(t, "base", groups, "architecture")
    assert best["context"]["si_sdr_i"] == pytest.approx(1.0) and best["architecture"]["pesq_wb"] == pytest.approx(0.1)
    assert parts == {"context": True, "loss": False} and word == "partly"
    t.loc["loss", ("si_sdr_i", "mean")] = 7.0
    assert verdicts.beats_architecture(t, "base", groups, "architecture")[2] == "agree"


def test_combination_verdict():
    m = ("abs_level_db", "colouration_db", "si_sdr")
    t = _table({"both": {"abs_level_db": 0.5, "colouration_db": 1.0, "si_sdr": 10.0},
                "alone": {"abs_level_db": 4.0, "colouration_db": 2.0, "si_sdr": 10.0}}, m)
    outcomes, word = verdicts.combination_verdict(t, "both", "alone")
    assert outcomes == {"abs_level_db": "better", "colouration_db": "better", "si_sdr": "no supported difference"}
    assert word == "agree"
    t.loc["both", ("colouration_db", "mean")] = 3.0
    assert verdicts.combination_verdict(t, "both", "alone")[1] == "partly"


def test_diagonal_verdict():
    m = ("estoi", "si_sdr", "cd")
    t = _table({"STOI-like": {"estoi": 0.8, "si_sdr": 5.0, "cd": 4.0},
                "SI-SDR": {"estoi": 0.7, "si_sdr": 9.0, "cd": 3.5},
                "spectral": {"estoi": 0.75, "si_sdr": 8.0, "cd": 3.0}}, m)
    own = {"STOI-like": "estoi", "SI-SDR": "si_sdr", "spectral": "cd"}
    best, diagonal, word = verdicts.diagonal_verdict(t, own, m)
    assert best == {"estoi": "STOI-like", "si_sdr": "SI-SDR", "cd": "spectral"} and word == "agree"
    t.loc["SI-SDR", ("cd", "mean")] = 2.0  # lower CD is better: SI-SDR now wins CD too
    assert verdicts.diagonal_verdict(t, own, m)[2] == "partly"


def test_compare_above_input_ignores_two_runs_that_both_damage_the_input():
    t = _table({"a": {"si_sdr_i": 2.0, "pesq_wb": 1.20}, "b": {"si_sdr_i": 1.0, "pesq_wb": 1.05}}, std=0.01)
    # PESQ: both below the noisy input's 1.25 -> not counted, though a is far above b
    assert verdicts.compare(t, "a", "b", "pesq_wb") == "better"
    assert verdicts.compare_above_input(t, "a", "b", "pesq_wb", {"pesq_wb": 1.25}) == verdicts.BOTH_BELOW_INPUT
    # one of them above the input: the ordinary rule
    assert verdicts.compare_above_input(t, "a", "b", "pesq_wb", {"pesq_wb": 1.10}) == "better"
    # no reference for the metric: the ordinary rule
    assert verdicts.compare_above_input(t, "a", "b", "si_sdr_i", {"pesq_wb": 1.25}) == "better"
    # a lower-is-better metric: both *above* the input's value are both worse
    c = _table({"a": {"cd": 5.0}, "b": {"cd": 6.0}}, metrics_=("cd",), std=0.01)
    assert verdicts.compare_above_input(c, "a", "b", "cd", {"cd": 4.0}) == verdicts.BOTH_BELOW_INPUT
    assert verdicts.compare_above_input(c, "a", "b", "cd", {"cd": 5.5}) == "better"
    assert verdicts.verdict_word([verdicts.BOTH_BELOW_INPUT, "no supported difference"]) == "not confirmed"
