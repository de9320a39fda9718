"""Tests of sedemo.evaluation.experiments: the run definitions are valid and a run round-trips."""
from __future__ import annotations

import numpy as np
import pytest

from sedemo.evaluation import experiments, verdicts
from sedemo import losses, models, train


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
    assert verdicts.compare(t, "a", "b", "si_sdr") == "better"
    assert verdicts.compare(t, "b", "a", "si_sdr") == "worse"
    assert verdicts.compare(t, "a", "c", "si_sdr") == "no supported difference"
    assert verdicts.compare(t, "a", "b", "cd") == "better"  # lower cepstral distance is better


def test_compare_needs_two_seeds_when_the_table_says_how_many():
    import pandas as pd

    cols = pd.MultiIndex.from_tuples([("si_sdr", "mean"), ("si_sdr", "std"), ("seeds", "n")])
    t = pd.DataFrame([[6.0, float("nan"), 1], [5.0, 0.1, 3], [4.0, 0.1, 3]], index=["one", "a", "b"], columns=cols)
    assert verdicts.compare(t, "one", "a", "si_sdr") == "one seed: untested"
    assert verdicts.compare(t, "a", "b", "si_sdr") == "better"


def test_a_run_shared_by_two_claims_is_trained_once(tiny_corpus, tmp_path):
    first = experiments.Run("C7", "SI-SDR", "lstm_mask", "si_sdr", seed=0, steps=2, overrides={"hidden": 8})
    same = experiments.Run("C8", "SI-SDR (C8)", "lstm_mask", "si_sdr", seed=0, steps=2, overrides={"hidden": 8})
    other = experiments.Run("C8", "seed 1", "lstm_mask", "si_sdr", seed=1, steps=2, overrides={"hidden": 8})
    assert first.fingerprint == same.fingerprint != other.fingerprint
    p1 = experiments.run(first, tmp_path, corpus=str(tiny_corpus.root), which=("si_sdr", "level_db", "band_err"))
    p2 = experiments.run(same, tmp_path, corpus=str(tiny_corpus.root))
    import json

    a, b = json.loads(p1.read_text()), json.loads(p2.read_text())
    assert b["reused_from"] == p1.name and b["rows"] == a["rows"] and b["run"]["label"] == "SI-SDR (C8)"
    assert "band_err_4_8" in a["rows"][1] and "level_db" in a["rows"][1]
    # seed 0 keeps a listening excerpt of the 0 dB item, copied for the reusing run
    ex1, ex2 = experiments.excerpt_path(tmp_path, first), experiments.excerpt_path(tmp_path, same)
    assert ex1.exists() and ex2.read_bytes() == ex1.read_bytes()
    assert a["excerpt"]["item"] == experiments.excerpt_item(tiny_corpus.items("test")).id


def test_architecture_comparison_is_parameter_matched():
    runs = experiments.experiment("ARCH", seeds=(0,))
    assert [r.model for r in runs] == ["crn", "gcrn", "gcrn_1dec", "gcrn_mag", "gcrn_magphase"]
    n = {r.model: models.count_parameters(models.build_model(r.model, **{**experiments.LITE[r.model], **r.overrides}))
         for r in runs}
    assert abs(n["gcrn_1dec"] - n["gcrn"]) / n["gcrn"] < 0.01  # one wider decoder vs two (C11)
    assert n["gcrn_magphase"] == n["gcrn"]
    assert experiments.experiment("ARCH", seeds=(0, 1, 2)) == runs  # one seed only
    # C1's architecture rows are the same trained models: trained once, reused
    c1 = {r.model: r.fingerprint for r in experiments.experiment("C1") if r.model in ("crn", "gcrn")}
    assert c1 == {r.model: r.fingerprint for r in runs if r.model in ("crn", "gcrn")}


def test_one_seed_verdict_uses_twice_the_typical_spread():
    import pandas as pd

    cols = pd.MultiIndex.from_tuples([("si_sdr", "mean"), ("si_sdr", "std"), ("cd", "mean"), ("cd", "std")])
    t = pd.DataFrame([[6.0, float("nan"), 3.0, float("nan")], [5.5, float("nan"), 3.5, float("nan")]],
                     index=["a", "b"], columns=cols)
    assert verdicts.one_seed_verdict(t, "a", "b", "si_sdr", spread=0.2) == "better"
    assert verdicts.one_seed_verdict(t, "b", "a", "si_sdr", spread=0.2) == "worse"
    assert verdicts.one_seed_verdict(t, "a", "b", "si_sdr", spread=0.3) == "no supported difference"
    assert verdicts.one_seed_verdict(t, "a", "b", "cd", spread=0.1) == "better"  # lower CD is better


def test_typical_spread_is_the_median_seed_std(tiny_corpus, tmp_path):
    import statistics

    for s in (0, 1):
        for label, hidden in (("x", 8), ("y", 6)):
            experiments.run(experiments.Run("C3", label, "lstm_mask", "sa", seed=s, steps=2,
                                            overrides={"hidden": hidden}),
                            tmp_path, corpus=str(tiny_corpus.root), which=("si_sdr",))
    t = experiments.summary(experiments.load_results(tmp_path, "C3"), which=("si_sdr",))
    expected = statistics.median([t.loc["x", ("si_sdr", "std")], t.loc["y", ("si_sdr", "std")]])
    assert experiments.typical_spread("si_sdr", claims=("C3",), out_dir=tmp_path) == pytest.approx(expected)
    assert np.isnan(experiments.typical_spread("si_sdr", claims=("C7",), out_dir=tmp_path))


def test_verdict_words():
    import pandas as pd

    cols = pd.MultiIndex.from_tuples([(m, k) for m in ("si_sdr", "cd", "stoi") for k in ("mean", "std")])
    t = pd.DataFrame([[7.0, 0.1, 4.0, 0.1, 0.70, 0.01],
                      [6.0, 0.1, 5.0, 0.1, 0.80, 0.01],
                      [6.95, 0.1, 4.05, 0.1, 0.705, 0.01]], index=["a", "b", "c"], columns=cols)
    text, word = verdicts.verdict(t, ["a"], "b", ("si_sdr", "cd"))
    assert word == "agree" and "SI-SDR (dB): a 7.000 vs 6.000 (better)" in text
    assert "CD (dB): a 4.000 vs 5.000 (better)" in text
    assert verdicts.verdict(t, ["a"], "b", ("si_sdr", "stoi"))[1] == "partly"
    assert verdicts.verdict(t, ["a"], "b", ("stoi",))[1] == "disagree"
    assert verdicts.verdict(t, ["a"], "c", ("si_sdr", "cd", "stoi"))[1] == "not confirmed"
    # the best candidate is picked per metric, in the metric's direction
    assert "CD (dB): a" in verdicts.verdict(t, ["c", "a"], "b", ("cd",))[0]



def test_matched_to_equalises_the_active_level(speech):
    from sedemo.dsp import audio

    quiet = 0.1 * speech
    matched = experiments.matched_to(quiet, speech)
    assert audio.active_level(matched)[0] == pytest.approx(audio.active_level(speech)[0], abs=0.05)
    np.testing.assert_allclose(matched, speech, rtol=1e-6, atol=1e-9)  # a pure gain here
