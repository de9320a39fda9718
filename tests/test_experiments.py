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
    assert [r.model for r in runs] == ["crn", "gcrn", "gcrn_1dec", "gcrn_mag", "gcrn_magphase", "gcrn_magphase"]
    # C10 with the same loss on both sides, and with the phase model's own loss
    assert [r.loss for r in runs if r.model == "gcrn_magphase"] == ["compressed", "mag_phase"]
    n = {r.model: models.count_parameters(models.build_model(r.model, **{**experiments.LITE[r.model], **r.overrides}))
         for r in runs}
    assert abs(n["gcrn_1dec"] - n["gcrn"]) / n["gcrn"] < 0.01  # one wider decoder vs two (C11)
    assert n["gcrn_magphase"] == n["gcrn"]
    assert len(experiments.experiment("ARCH", seeds=(0, 1, 2))) == 3 * len(runs)  # three seeds
    # at one budget, C1's architecture rows are the same trained models: trained once, reused
    c1 = {r.model: r.fingerprint for r in experiments.experiment("C1", seeds=(0,), steps=100) if r.model == "crn"}
    arch = experiments.experiment("ARCH", seeds=(0,), steps=100)
    assert c1 == {r.model: r.fingerprint for r in arch if r.model == "crn"}


def test_one_seed_verdict_uses_twice_the_typical_spread():
    import pandas as pd

    cols = pd.MultiIndex.from_tuples([("si_sdr", "mean"), ("si_sdr", "std"), ("cd", "mean"), ("cd", "std")])
    t = pd.DataFrame([[6.0, float("nan"), 3.0, float("nan")], [5.5, float("nan"), 3.5, float("nan")]],
                     index=["a", "b"], columns=cols)
    assert verdicts.one_seed_verdict(t, "a", "b", "si_sdr", spread=0.2) == "better"
    assert verdicts.one_seed_verdict(t, "b", "a", "si_sdr", spread=0.2) == "worse"
    assert verdicts.one_seed_verdict(t, "a", "b", "si_sdr", spread=0.3) == "no supported difference"
    assert verdicts.one_seed_verdict(t, "a", "b", "cd", spread=0.1) == "better"  # lower CD is better


def test_typical_spread_is_the_median_seed_std(tiny_corpus, tmp_path, monkeypatch):
    import statistics

    monkeypatch.setattr(experiments, "STEPS", 2)  # the runs below are the claim's budget

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


def test_budgets_are_per_claim():
    assert all(r.steps == experiments.STEPS for r in experiments.experiment("C3"))
    for claim, steps in experiments.BUDGETS.items():
        assert experiments.budget(claim) == steps
        assert {r.steps for r in experiments.experiment(claim)} == {steps}
    assert {r.steps for r in experiments.experiment("C3", steps=7)} == {7}


def test_c3_pairs_each_sa_loss_with_ma_on_its_own_optimum():
    runs = {r.label: r for r in experiments.experiment("C3", seeds=(0,))}
    assert (runs["MA, IAM target"].loss, runs["MA, IAM target"].mask_target) == ("ma", "IAM")
    assert (runs["MA, PSM target"].loss, runs["MA, PSM target"].mask_target) == ("ma", "PSM")
    assert runs["SA (IAM is its optimum)"].loss == "sa" and runs["PSA (PSM is its optimum)"].loss == "psa"
    assert runs["MA, IAM target"].fingerprint != runs["MA, IRM target"].fingerprint
    # the mask target only matters for MA
    sa = runs["SA (IAM is its optimum)"]
    assert experiments.Run(**{**sa.__dict__, "mask_target": "PSM"}).fingerprint == sa.fingerprint


def test_sa_is_ma_on_the_iam_weighted_by_the_mixture_power():
    """Per bin, SA = |Y|^2 (M - |S|/|Y|)^2, so over masks in [0, 1] SA and MA on the clipped
    IAM have the same minimiser in every bin (what makes the C3 pair a one-target test)."""
    import torch

    from sedemo import masks

    g = torch.Generator().manual_seed(0)
    n = 400
    S = torch.complex(torch.randn(n, 1, 1, generator=g), torch.randn(n, 1, 1, generator=g))
    Y = S + torch.complex(torch.randn(n, 1, 1, generator=g), torch.randn(n, 1, 1, generator=g))
    M = torch.rand(n, 1, 1, generator=g)
    sa = losses.signal_approximation_loss(mask_estimate=M, mixture=Y, clean=S, reduction="none")
    ratio = S.abs() / Y.abs()
    torch.testing.assert_close(sa, (Y.abs().square() * (M - ratio).square()).flatten())
    grid = torch.linspace(0, 1, 101).view(1, 1, 101)
    iam = masks.oracle_mask("IAM", clean=S, mixture=Y)
    sa_grid = (grid * Y.abs() - S.abs()).square()
    ma_grid = (grid - iam).square()
    assert torch.equal(sa_grid.argmin(-1), ma_grid.argmin(-1))


def test_c7_runs_on_a_model_whose_gain_is_free():
    runs = experiments.experiment("C7", seeds=(0,))
    assert {r.model for r in runs} == {"lstm_map"}
    assert models.config_for("lstm_map", **experiments.LITE["lstm_map"]).output == "magnitude"


def test_c5_compares_a_trained_and_a_random_embedding():
    runs = {r.label: r for r in experiments.experiment("C5", seeds=(0,))}
    trained_emb = runs["compressed + embedding (trained encoder)"]
    assert trained_emb.loss_options == {"encoder": "ulcrn", "weight": losses.combined.ENCODER_EMBEDDING_WEIGHT}
    assert runs["compressed + embedding (random network)"].loss_options == {}


def _fake_result(claim, label, seed, steps, curve, item="t1"):
    return {"run": {"claim": claim, "label": label, "model": "lstm_mask", "loss": "sa", "seed": seed, "steps": steps,
                    "overrides": {}, "loss_options": {}},
            "log": [{"step": st, "kind": "valid", "valid_si_sdr": v, "valid_pesq": 1.0 + v / 100}
                    for st, v in curve],
            "rows": [{"id": item, "system": "noisy", "si_sdr": 0.0}, {"id": item, "system": label, "si_sdr": curve[-1][1]}],
            "excerpt": {"item": item, "seconds": 4.0, "snr_db": 5.0}}


def test_ranking_change_sees_a_swap_and_ignores_ties(tmp_path, monkeypatch):
    import json

    labels = [r.label for r in experiments.experiment("C4", seeds=(0,))]
    monkeypatch.setattr(experiments, "BUDGETS", {})
    curves = {labels[0]: [(50, 5.0), (100, 6.0)], labels[1]: [(50, 6.0), (100, 7.0)]}
    for seed in (0, 1):
        for k, (label, curve) in enumerate(curves.items()):
            res = _fake_result("C4", label, seed, experiments.STEPS, curve)
            (tmp_path / f"C4__{k}__seed{seed}.json").write_text(json.dumps(res))
    rc = experiments.ranking_change("C4", out_dir=tmp_path)
    assert rc["steps"] == (50, 100) and not rc["changed"]
    assert rc["gain"] == {labels[0]: pytest.approx(1.0), labels[1]: pytest.approx(1.0)}
    assert list(experiments.learning_curves("C4", tmp_path)) == labels  # the experiment's order
    assert len(experiments.learning_curves("C4", tmp_path)[labels[0]]) == 2  # one list per seed
    # now the first overtakes the second
    for seed in (0, 1):
        res = _fake_result("C4", labels[0], seed, experiments.STEPS, [(50, 5.0), (100, 7.5)])
        (tmp_path / f"C4__0__seed{seed}.json").write_text(json.dumps(res))
    assert experiments.ranking_change("C4", out_dir=tmp_path)["changed"]
    # a difference within 0.05 is a tie, not an order
    for seed in (0, 1):
        res = _fake_result("C4", labels[0], seed, experiments.STEPS, [(50, 5.98), (100, 7.5)])
        res2 = _fake_result("C4", labels[1], seed, experiments.STEPS, [(50, 6.0), (100, 7.0)])
        (tmp_path / f"C4__0__seed{seed}.json").write_text(json.dumps(res))
        (tmp_path / f"C4__1__seed{seed}.json").write_text(json.dumps(res2))
    assert not experiments.ranking_change("C4", out_dir=tmp_path)["changed"]
    with pytest.raises(FileNotFoundError, match="loss_experiments.py --claims C8"):
        experiments.ranking_change("C8", out_dir=tmp_path)


def test_claim_summary_needs_every_run_at_the_claims_budget(tmp_path):
    import json

    labels = [r.label for r in experiments.experiment("C4", seeds=(0,))]
    for k, label in enumerate(labels):
        steps = experiments.budget("C4") if k == 0 else 10  # the second at another budget
        (tmp_path / f"C4__{k}__seed0.json").write_text(json.dumps(_fake_result("C4", label, 0, steps, [(5, 1.0)])))
    assert experiments.claim_summary("C4", tmp_path, which=("si_sdr",)) is None
    (tmp_path / "C4__1__seed0.json").write_text(
        json.dumps(_fake_result("C4", labels[1], 0, experiments.budget("C4"), [(5, 2.0)])))
    table = experiments.claim_summary("C4", tmp_path, which=("si_sdr",))
    assert list(table.index) == labels


def test_excerpts_follow_the_item_their_runs_enhanced(tmp_path):
    import json

    from sedemo.dsp import audio

    labels = [r.label for r in experiments.experiment("C4", seeds=(0,))]
    folder = tmp_path / "audio"
    folder.mkdir()
    for name, value in (("noisy", 0.1), ("clean", 0.2)):
        audio.save(folder / f"excerpt_{name}.flac", np.full(1600, value), 16000)  # an older run's item
        audio.save(folder / f"excerpt_t7_{name}.flac", np.full(1600, value / 2), 16000)
    res = _fake_result("C4", labels[0], 0, experiments.budget("C4"), [(5, 1.0)], item="t7")
    (tmp_path / "C4__a__seed0.json").write_text(json.dumps(res))
    clips = experiments.load_excerpts("C4", tmp_path)
    assert clips["noisy"][0] == pytest.approx(0.05, abs=1e-3) and clips["clean"][0] == pytest.approx(0.1, abs=1e-3)
    del res["excerpt"]["snr_db"]  # a result from before the excerpt named its item's file
    (tmp_path / "C4__a__seed0.json").write_text(json.dumps(res))
    assert experiments.load_excerpts("C4", tmp_path)["noisy"][0] == pytest.approx(0.1, abs=1e-3)


def test_a_run_with_a_work_folder_keeps_its_checkpoint_and_is_redone_at_a_new_budget(tiny_corpus, tmp_path):
    import json

    r = experiments.Run("C3", "SA tiny", "lstm_mask", "sa", seed=0, steps=2, overrides={"hidden": 8})
    work = tmp_path / "work"
    path = experiments.run(r, tmp_path / "out", corpus=str(tiny_corpus.root), which=("si_sdr",), work=work)
    assert (work / r.work_name / "checkpoint.pt").exists()
    longer = experiments.Run(**{**r.__dict__, "steps": 4})
    assert longer.work_name == r.work_name  # the same training folder, continued
    assert experiments.run(longer, tmp_path / "out", corpus=str(tiny_corpus.root), which=("si_sdr",), work=work) == path
    res = json.loads(path.read_text())
    assert res["run"]["steps"] == 4
    assert [rec["step"] for rec in res["log"] if rec["kind"] == "valid"][-1] == 4


def test_difference_intervals_pair_items_and_average_seeds(tmp_path):
    import json

    labels = [r.label for r in experiment_labels("C4")]
    for seed, (a, b) in enumerate([(1.0, 3.0), (2.0, 5.0)]):  # seed means: 1.5 and 4.0
        for k, (label, v) in enumerate(zip(labels, (a, b))):
            res = _fake_result("C4", label, seed, experiments.budget("C4"), [(5, v)])
            res["rows"] = [{"id": i, "system": "noisy", "si_sdr": 0.5, "stoi": 0.5} for i in ("x", "y")] + [
                {"id": i, "system": label, "si_sdr": v + d, "stoi": 0.6} for i, d in (("x", 0.0), ("y", 1.0))]
            (tmp_path / f"C4__{k}__seed{seed}.json").write_text(json.dumps(res))
    rows = experiments.item_means("C4", tmp_path)
    by = {(r["id"], r["system"]): r for r in rows}
    assert by[("x", labels[0])]["si_sdr"] == pytest.approx(1.5) and by[("y", labels[1])]["si_sdr"] == pytest.approx(5.0)
    assert by[("x", labels[0])]["si_sdr_i"] == pytest.approx(1.0) and by[("x", "noisy")]["si_sdr_i"] == 0.0
    t = experiments.difference_intervals("C4", labels[0], metrics=("si_sdr", "stoi"), out_dir=tmp_path)
    assert list(t.index) == [labels[1]]
    assert t.loc[labels[1], ("si_sdr", "diff")] == pytest.approx(2.5)  # same difference on both items
    assert t.loc[labels[1], ("si_sdr", "low")] == pytest.approx(2.5) == t.loc[labels[1], ("si_sdr", "high")]
    assert t.loc[labels[1], ("stoi", "diff")] == pytest.approx(0.0)
    vs_noisy = experiments.difference_intervals("C4", "noisy", metrics=("si_sdr",), out_dir=tmp_path)
    assert vs_noisy.loc[labels[0], ("si_sdr", "diff")] == pytest.approx(1.5)


def experiment_labels(claim):
    return list({r.label: r for r in experiments.experiment(claim, seeds=(0,))}.values())


def test_masking_vs_mapping_reuses_the_runs_of_c1_and_c7():
    c9 = {r.label: r for r in experiments.experiment("C9")}
    c1 = {r.label: r for r in experiments.experiment("C1")}
    c7 = {r.label: r for r in experiments.experiment("C7")}
    for seed in (0, 1, 2):
        pick = lambda runs, label: next(r for r in experiments.experiment(runs, seeds=(seed,)) if r.label == label)  # noqa: E731
        assert pick("C9", "masking (lstm_mask)").fingerprint == pick("C1", "lstm_mask, context ±0").fingerprint
        assert pick("C9", "mapping (lstm_map)").fingerprint == pick("C7", "compressed").fingerprint
    assert c9 and c1 and c7


def test_runs_of_two_validation_protocols_never_share_a_training_folder():
    """The CRN with the compressed loss and seed 1 is a run of C1 (validation on 16 items
    with PESQ) and of ARCH (an older protocol: 8 items, no PESQ): their checkpoints must
    live in different folders, or one claim would resume the other's run."""
    c1 = next(r for r in experiments.experiment("C1") if r.model == "crn" and r.seed == 1)
    arch = next(r for r in experiments.experiment("ARCH") if r.model == "crn" and r.seed == 1)
    assert experiments.validation_protocol(c1)[1:] != experiments.validation_protocol(arch)[1:]
    assert c1.work_name != arch.work_name
    assert arch.work_name.startswith(c1.work_name)  # same model, loss, seed; the protocol appended
