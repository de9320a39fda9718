"""sedemo.evaluation.ablations: the augmentation ablations of chapter 5 (collecting finished
runs, the seed table, the verdicts against the full recipe, the stored runs' switches)."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from sedemo.evaluation import ablations

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "augmentation_ablations.sh"


def _log(steps, pesq, si_sdr, every=500):
    recs = [{"step": s, "kind": "train", "train_loss": -1.0} for s in range(10, steps + 1, 10)]
    recs += [{"step": s, "kind": "valid", "valid_pesq": pesq * s / steps, "valid_si_sdr": si_sdr * s / steps,
              "valid_pesq_noisy": 1.2, "valid_si_sdr_noisy": 2.0} for s in range(every, steps + 1, every)]
    return sorted(recs, key=lambda r: (r["step"], r["kind"]))


def _run(root, name, steps, budget, pesq=1.4, si_sdr=7.0, **switches):
    d = root / name
    d.mkdir(parents=True)
    (d / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _log(steps, pesq, si_sdr)))
    (d / "config.json").write_text(json.dumps({"steps": budget, **switches}))
    return d


def test_variants_are_the_scripts():
    """The module's variants are exactly the cases of scripts/augmentation_ablations.sh."""
    text = SCRIPT.read_text()
    cases = re.findall(r"^\s+([a-z_]+)\)\s", text, flags=re.M)
    assert set(cases) == set(ablations.VARIANTS)
    assert f"STEPS=${{STEPS:-{ablations.STEPS}}}" in text


def test_collect_copies_only_finished_runs(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "stored"
    _run(runs, "full_s0", 4000, 4000)
    _run(runs, "no_snr_s0", 1000, 4000)          # unfinished
    _run(runs, "no_level_s0", 2000, 2000)        # another budget
    _run(runs, "louder_s0", 4000, 4000)          # unknown variant
    (runs / "stream.out").write_text("log")
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert ablations.collect(runs, out, steps=4000) == ["full_s0"]
    assert (out / "full_s0.log.jsonl").read_bytes() == (runs / "full_s0" / "log.jsonl").read_bytes()
    assert (out / "full_s0.config.json").read_bytes() == (runs / "full_s0" / "config.json").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["full_s0.config.json", "full_s0.log.jsonl", "notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"
    # the unfinished run finishes: the next collect takes it too
    (runs / "no_snr_s0" / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _log(4000, 1.3, 6.0)))
    assert ablations.collect(runs, out, steps=4000) == ["full_s0", "no_snr_s0"]
    assert set(ablations.load(out)) == {"full", "no_snr"}


def test_collect_without_runs_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="augmentation_ablations.sh"):
        ablations.collect(tmp_path / "absent", tmp_path / "out")


def test_table_and_effects(tmp_path):
    runs = tmp_path / "runs"
    full = [(1.40, 7.0), (1.42, 7.2), (1.41, 6.9)]
    worse = [(1.30, 6.0), (1.31, 6.1), (1.29, 5.9)]
    for seed, (p, s) in enumerate(full):
        _run(runs, f"full_s{seed}", 4000, 4000, p, s)
    for seed, (p, s) in enumerate(worse):
        _run(runs, f"no_snr_s{seed}", 4000, 4000, p, s)
    _run(runs, "no_level_s0", 4000, 4000, 1.5, 8.0)
    ablations.collect(runs, tmp_path / "out", steps=4000)
    stored = ablations.load(tmp_path / "out")
    assert list(stored) == ["full", "no_snr", "no_level"]      # the order of VARIANTS
    table = ablations.final_table(stored, steps=4000)
    assert table.loc["full", ("valid_pesq", "mean")] == pytest.approx(np.mean([p for p, _ in full]))
    assert table.loc["full", ("valid_si_sdr", "std")] == pytest.approx(np.std([s for _, s in full], ddof=1))
    assert table.loc["no_level", ("seeds", "n")] == 1 and np.isnan(table.loc["no_level", ("valid_pesq", "std")])
    eff = ablations.effects(table)
    assert list(eff.index) == ["no_snr", "no_level"]
    assert eff.loc["no_snr", "valid_pesq change"] == pytest.approx(np.mean([p for p, _ in worse]) - np.mean([p for p, _ in full]))
    assert eff.loc["no_snr", "valid_pesq verdict"] == "worse"
    assert eff.loc["no_snr", "valid_si_sdr verdict"] == "worse"
    assert eff.loc["no_level", "valid_pesq verdict"] == "one seed: untested"
    with pytest.raises(KeyError, match="augmentation_ablations.sh reverb"):
        ablations.effects(table.drop("full"), baseline="reverb")


def test_table_refuses_an_unfinished_run():
    stored = {"full": {0: {"log": _log(1000, 1.4, 7.0), "config": {"steps": 4000}}}}
    with pytest.raises(ValueError, match="no validation pass at step 4000"):
        ablations.final_table(stored, steps=4000)


# what each variant turns off (None: as the full recipe); reverb turns the room simulation on
_OFF = {"no_snr": "snr_range", "no_speed": "speed_perturb", "no_channel": "channel", "no_level": "level_range"}


def test_stored_runs_match_their_variant():
    """Every committed ablation run is finished at the budget and differs from the full
    recipe exactly in its own switch (and otherwise trains the same model the same way)."""
    stored = ablations.load()
    if not stored:
        pytest.skip("no ablation run stored yet")
    assert "full" in stored
    full = next(iter(stored["full"].values()))["config"]
    same = ("model", "loss", "steps", "batch_size", "segment", "lr", "lr_schedule", "corpus", "dynamic_mix",
            "n_valid", "valid_pesq", "valid_every")
    ablations.final_table(stored)                         # every run reached the budget
    for variant, seeds in stored.items():
        for seed, run in seeds.items():
            cfg = run["config"]
            assert cfg["seed"] == seed and cfg["steps"] == ablations.STEPS
            assert {k: cfg[k] for k in same} == {k: full[k] for k in same}, (variant, seed)
            sw, ref = ablations.switches(cfg), ablations.switches(full)
            if variant == "full":
                assert all(sw[k] for k in ("snr_range", "speed_perturb", "channel", "level_range")) and not sw["reverb"]
            elif variant == "reverb":
                assert sw["reverb"] and {k: v for k, v in sw.items() if k != "reverb"} == \
                    {k: v for k, v in ref.items() if k != "reverb"}
            elif variant == "none":
                assert not any(sw.values())
            else:
                off = _OFF[variant]
                assert not sw[off] and {k: v for k, v in sw.items() if k != off} == {k: v for k, v in ref.items() if k != off}


def _peer_system(scores):
    return {"kind": "sedemo model", "items": [{"id": f"v{i}", "snr_db": 5.0, "noise_type": "river",
                                               "pesq_wb": p, "stoi": s, "si_sdr": q}
                                              for i, (p, s, q) in enumerate(scores)]}


def test_heldout_rows_average_the_seeds_item_by_item():
    results = {"systems": {
        "noisy": _peer_system([(1.0, 0.5, 0.0)] * 3),
        "full_s0": _peer_system([(1.2, 0.6, 5.0), (1.4, 0.7, 6.0), (1.0, 0.5, 4.0)]),
        "full_s1": _peer_system([(1.4, 0.8, 7.0), (1.6, 0.9, 8.0), (1.2, 0.7, 6.0)]),
        "none_s0": _peer_system([(1.5, 0.8, 8.0), (1.7, 0.9, 9.0), (1.3, 0.7, 7.0)]),
    }}
    rows, seeds = ablations.heldout_rows(results)
    assert seeds == {"full": 2, "none": 1}
    full = {r["id"]: r for r in rows if r["system"] == "full"}
    assert full["v0"]["pesq_wb"] == pytest.approx(1.3) and full["v2"]["si_sdr"] == pytest.approx(5.0)
    means, diffs = ablations.heldout_table(results)
    assert list(means.index) == ["full", "none"] and list(means["seeds"]) == [2, 1]
    assert means.loc["full", "stoi"] == pytest.approx(np.mean([0.7, 0.8, 0.6]))
    # none is ahead of full's seed mean by +0.2 PESQ-WB and +2 dB on every item: the interval is a point
    assert diffs.loc["none", ("pesq_wb", "diff")] == pytest.approx(0.2)
    assert diffs.loc["none", ("si_sdr", "low")] == pytest.approx(2.0)
    with pytest.raises(KeyError, match="no_speed"):
        ablations.heldout_table(results, baseline="no_speed")
    with pytest.raises(ValueError, match="ablation_heldout.sh"):
        ablations.heldout_rows({"systems": {"noisy": results["systems"]["noisy"]}})
