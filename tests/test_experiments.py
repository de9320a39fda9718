"""Tests of sedemo.experiments: the run definitions are valid and a run round-trips."""
from __future__ import annotations

import pytest

from sedemo import experiments, losses, models, train


@pytest.mark.parametrize("claim", experiments.CLAIMS)
def test_every_run_names_a_model_and_a_loss(claim):
    runs = experiments.experiment(claim, seeds=(0, 1, 2), steps=10)
    assert len({r.key for r in runs}) == len(runs)  # one file per run
    assert {r.seed for r in runs} == {0, 1, 2}
    for r in runs:
        if r.model == "tcn" and "tcn" not in models.MODELS:
            pytest.skip("the time-domain model is not registered yet")
        assert r.model in models.MODELS
        assert r.loss in train.available_losses() or r.loss in losses.LOSSES
        models.config_for(r.model, **{**experiments.LITE.get(r.model, {}), **r.overrides})


def test_unknown_claim():
    with pytest.raises(ValueError, match="trained experiments exist for"):
        experiments.experiment("C6")


def test_run_writes_a_result_and_summary_reads_it(tiny_corpus, tmp_path):
    runs = [experiments.Run("C3", "SA tiny", "lstm_mask", "sa", seed=s, steps=2, overrides={"hidden": 8})
            for s in (0, 1)]
    for r in runs:
        path = experiments.run(r, tmp_path, corpus=str(tiny_corpus.root), which=("si_sdr",))
        assert path.exists()
        assert experiments.run(r, tmp_path, corpus=str(tiny_corpus.root)) == path  # kept, not rerun
    results = experiments.load_results(tmp_path, "C3")
    assert len(results) == 2 and results[0]["command"].startswith("python -m sedemo.train")
    table = experiments.summary(results, which=("si_sdr",))
    assert table.loc["SA tiny", ("seeds", "n")] == 2
    assert ("si_sdr_i", "std") in table.columns


def test_compare_needs_the_difference_to_exceed_the_spread():
    import pandas as pd

    cols = pd.MultiIndex.from_tuples([("si_sdr", "mean"), ("si_sdr", "std"), ("cd", "mean"), ("cd", "std")])
    t = pd.DataFrame([[6.0, 0.2, 3.0, 0.1], [5.0, 0.3, 3.5, 0.1], [5.9, 0.3, 3.05, 0.1]],
                     index=["a", "b", "c"], columns=cols)
    assert experiments.compare(t, "a", "b", "si_sdr") == "better"
    assert experiments.compare(t, "b", "a", "si_sdr") == "worse"
    assert experiments.compare(t, "a", "c", "si_sdr") == "no supported difference"
    assert experiments.compare(t, "a", "b", "cd") == "better"  # lower cepstral distance is better
