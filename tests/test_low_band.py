"""Tests of sedemo.evaluation.low_band: the low-band share against exact sinusoids, the
stored report, the drift voices and groups, and scripts/low_band_report.py end to end."""
from __future__ import annotations

import numpy as np
import pytest

from sedemo.dsp import audio
from sedemo.evaluation import low_band


def test_low_band_share_counts_the_power_below_the_cutoff():
    t = np.arange(16000) / 16000  # whole periods: no leakage
    x = np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 1000 * t) + 0.3  # the offset is not counted
    assert low_band.low_band_share(x, 20.0) == pytest.approx(0.5, abs=1e-9)
    assert low_band.low_band_share(x, 5.0) == pytest.approx(0.0, abs=1e-9)
    assert low_band.low_band_share(x, 8000.0) == pytest.approx(1.0)
    assert low_band.low_band_share(np.zeros(100), 20.0) == 0.0
    for bad in (0.0, 9000.0):
        with pytest.raises(ValueError, match="cutoff_hz"):
            low_band.low_band_share(x, bad)
    with pytest.raises(ValueError, match="finite 1-D"):
        low_band.low_band_share(np.full(10, np.nan), 20.0)


def test_the_stored_low_band_report_names_both_sets():
    speech, noise = low_band.low_band_tables()
    assert set(speech.index.get_level_values("set")) == {"corpus", "0ad"}
    assert ((speech["mean_below_20"] >= 0) & (speech["max_below_20"] <= 1)).all()
    assert (noise["mean_below_20"] <= noise["mean_below_80"] + 1e-12).all()


def test_drifting_voices_take_the_worst_split_and_groups_label_each_mixture():
    import pandas as pd

    speech = pd.DataFrame(
        {"mean_below_20": [0.01, 0.20, 0.02, 0.04, 0.30]},
        index=pd.MultiIndex.from_tuples([("corpus", "valid", "a"), ("corpus", "test", "b"), ("0ad", "valid", "b"),
                                         ("0ad", "valid", "c"), ("other", "valid", "d")],
                                        names=["set", "split", "speaker"]))
    assert low_band.drifting_voices(speech) == ["b"]  # d's set is not asked for
    assert low_band.drifting_voices(speech, share=0.03) == ["b", "c"]
    assert low_band.drifting_voices(speech, sets=("other",)) == ["d"]
    with pytest.raises(ValueError, match="no column 'mean_below_80'"):
        low_band.drifting_voices(speech, cutoff_hz=80)
    with pytest.raises(ValueError, match="no set"):
        low_band.drifting_voices(speech, sets=("nope",))
    rows = pd.DataFrame({"speaker": ["a", "b", "c"], "set": ["corpus", "0ad", "0ad"],
                         "noise_type": ["crowd", "wavecrash", "wavecrash"]})
    assert low_band.drift_groups(rows, ["b"]).tolist() == ["corpus: crowd", "voices with drift", "0ad: wavecrash"]
    with pytest.raises(ValueError, match="lack the columns"):
        low_band.drift_groups(rows.drop(columns="set"), ["b"])


def test_low_band_report_reads_a_manifest_and_writes_per_voice_and_family(tmp_path):
    import csv
    import json

    from conftest import load_script

    low_band_report = load_script("low_band_report")
    t = np.arange(16000) / 16000
    clean = 0.1 * np.sin(2 * np.pi * 500 * t)
    rumble = 0.1 * np.sin(2 * np.pi * 10 * t)
    rows = []
    for i, (split, spk, extra) in enumerate((("valid", "a", 0.0), ("valid", "a", 0.1), ("test", "b", 0.0))):
        c = clean + extra * np.sin(2 * np.pi * 5 * t)  # voice a's second item: half of its power at 5 Hz
        audio.save(tmp_path / f"c{i}.flac", c)
        audio.save(tmp_path / f"n{i}.flac", c + rumble)
        rows.append({"split": split, "id": f"x{i}", "clean": f"c{i}.flac", "noisy": f"n{i}.flac", "speaker": spk,
                     "noise_type": "hum"})
    rows.append({**rows[0], "split": "train"})  # not read
    with open(tmp_path / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "out" / "low.json"
    assert low_band_report.main(["--set", f"x={tmp_path}", "--out", str(out)]) == 0
    got = json.loads(out.read_text())
    s = got["sets"]["x"]
    assert s["n_items"] == 3
    a = next(r for r in s["speech"] if r["speaker"] == "a")
    assert a["n"] == 2 and a["max_below_20"] == pytest.approx(0.5, abs=0.01) and a["mean_below_20"] == pytest.approx(0.25, abs=0.01)
    hum = {r["split"]: r for r in s["noise"]}
    assert hum["valid"]["mean_below_20"] == pytest.approx(1.0, abs=0.01) and hum["test"]["n"] == 1
    speech, noise = low_band.low_band_tables(out)
    assert speech.loc[("x", "valid", "a"), "n"] == 2 and noise.loc[("x", "test", "hum"), "n"] == 1
    with pytest.raises(SystemExit, match="cannot read"):
        low_band_report.main(["--set", f"y={tmp_path / 'none'}", "--out", str(out)])
