"""Tests of sedemo.evaluation.impulsive: the band kurtosis against closed forms (Gaussian noise
3, a sinusoid 1.5) and a sparse click train, its refusals, the stored report, and
scripts/impulsiveness_report.py end to end."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from sedemo.dsp import audio
from sedemo.evaluation import impulsive


def test_band_kurtosis_of_known_signals():
    rng = np.random.default_rng(0)
    assert impulsive.band_kurtosis(rng.standard_normal(160000)) == pytest.approx(3.0, abs=0.1)
    t = np.arange(32000) / 16000
    assert impulsive.band_kurtosis(np.sin(2 * np.pi * 2000 * t)) == pytest.approx(1.5, abs=0.02)
    clicks = np.zeros(32000)
    clicks[rng.integers(0, 32000, 20)] = rng.choice([-1.0, 1.0], 20)  # 10 clicks per second
    k = impulsive.band_kurtosis(clicks)
    assert k > 50
    assert impulsive.band_kurtosis(1e-3 * clicks) == pytest.approx(k)  # scale-invariant
    # outside the band: a 100-Hz hum under Gaussian noise does not move it (the band-pass removes it)
    noise = rng.standard_normal(160000)
    hum = 10 * np.sin(2 * np.pi * 100 * np.arange(160000) / 16000)
    assert impulsive.band_kurtosis(noise + hum) == pytest.approx(impulsive.band_kurtosis(noise), rel=0.02)


@pytest.mark.parametrize("x, band, match", [
    (np.zeros(16000), impulsive.IMPULSIVE_BAND_HZ, "silent"),
    (np.ones((2, 16000)), impulsive.IMPULSIVE_BAND_HZ, "mono"),
    (np.r_[np.ones(100), np.nan], impulsive.IMPULSIVE_BAND_HZ, "finite"),
    (np.ones(10), impulsive.IMPULSIVE_BAND_HZ, "at least 64"),
    (np.ones(16000), (6000.0, 1000.0), "low < high"),
    (np.ones(16000), (1000.0, 9000.0), "low < high"),
])
def test_band_kurtosis_refuses_bad_input(x, band, match):
    with pytest.raises(ValueError, match=match):
        impulsive.band_kurtosis(x, band=band)


def test_the_stored_report_has_train_and_valid_and_no_test():
    table = impulsive.impulsiveness_table()
    assert set(table.index.get_level_values("split")) == {"train", "valid"}
    assert (table["median_kurtosis"] <= table["max_kurtosis"] + 1e-12).all() and (table["n"] > 0).all()
    train, valid = table.loc["train"], table.loc["valid"]
    assert len(train) == 71 and len(valid) == 28 and not set(train.index) & set(valid.index)  # held out
    # what chapter 5 reads: two validation fire recordings and two training recordings above 100
    assert sorted(valid.index[valid["median_kurtosis"] > 100]) == ["lincity:Fire1.wav", "lincity:Fire2.wav"]
    assert (train["median_kurtosis"] > 100).sum() == 2


def test_impulsiveness_report_reads_a_manifest_and_writes_per_recording(tmp_path):
    from conftest import load_script

    report = load_script("impulsiveness_report")
    rng = np.random.default_rng(1)
    clean = 0.1 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)
    crackle = np.zeros(16000)
    crackle[rng.integers(0, 16000, 8)] = 0.5
    rows = []
    for i, (split, src, noise) in enumerate((("train", "a:steady", 0.05 * rng.standard_normal(16000)),
                                             ("valid", "b:fire", crackle), ("valid", "b:fire", crackle[::-1].copy()),
                                             ("test", "c:other", 0.05 * rng.standard_normal(16000)))):
        audio.save(tmp_path / f"c{i}.flac", clean)
        audio.save(tmp_path / f"n{i}.flac", clean + noise)
        rows.append({"split": split, "id": f"x{i}", "clean": f"c{i}.flac", "noisy": f"n{i}.flac",
                     "noise_source": src})
    with open(tmp_path / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "out" / "imp.json"
    assert report.main(["--corpus", str(tmp_path), "--out", str(out)]) == 0
    table = impulsive.impulsiveness_table(out)
    assert list(table.index) == [("train", "a:steady"), ("valid", "b:fire")]  # the test split is not read
    assert table.loc[("valid", "b:fire"), "n"] == 2
    assert table.loc[("valid", "b:fire"), "median_kurtosis"] > 20 > table.loc[("train", "a:steady"), "max_kurtosis"]
    assert "--splits train valid" in json.loads(out.read_text())["command"]
    with pytest.raises(SystemExit, match="cannot read"):
        report.main(["--corpus", str(tmp_path / "none"), "--out", str(out)])
    with pytest.raises(SystemExit):  # the test split is not offered
        report.main(["--corpus", str(tmp_path), "--splits", "test", "--out", str(tmp_path / "t.json")])
    audio.save(tmp_path / "n1.flac", np.r_[clean, clean][:20000])  # a misaligned pair: one line naming it
    with pytest.raises(SystemExit, match="item x1 .*20000") as err:
        report.main(["--corpus", str(tmp_path), "--out", str(tmp_path / "m.json")])
    assert "\n" not in str(err.value) and not (tmp_path / "m.json").exists()
    only_train = tmp_path / "only_train"
    only_train.mkdir()
    (only_train / "manifest.csv").write_text((tmp_path / "manifest.csv").read_text().splitlines()[0] + "\n"
                                             + (tmp_path / "manifest.csv").read_text().splitlines()[1] + "\n")
    with pytest.raises(SystemExit, match="no item"):
        report.main(["--corpus", str(only_train), "--splits", "valid", "--out", str(tmp_path / "x.json")])
    assert not (tmp_path / "x.json").exists()
