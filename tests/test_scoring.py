"""Tests of sedemo.evaluation.scoring: oracle enhancers, scoring rows and summary tables."""
from __future__ import annotations

import numpy as np
import pytest

from sedemo.evaluation import scoring


class FakeItem:
    def __init__(self, clean, noisy, snr_db, noise_type, id="x"):
        self._c, self._y = clean.astype(np.float32), noisy.astype(np.float32)
        self.snr_db, self.noise_type, self.id = snr_db, noise_type, id

    def load(self):
        return self._c, self._y


@pytest.fixture
def items(speech, noise):
    return [FakeItem(speech, speech + g * noise, snr, "white", id=f"i{k}")
            for k, (g, snr) in enumerate([(1.0, 0.0), (0.3, 10.0)])]


def test_oracle_cirm_is_exact_and_irm_helps(items):
    clean, noisy = items[0].load()
    est = scoring.oracle_enhancer("cIRM")(noisy, clean)
    assert np.abs(est - clean).max() < 1e-5
    irm = scoring.oracle_enhancer("IRM")(noisy, clean)
    assert scoring.measure(irm, clean, which=["si_sdr"])["si_sdr"] > scoring.measure(noisy, clean, which=["si_sdr"])["si_sdr"] + 5
    with pytest.raises(ValueError, match="needs the clean reference"):
        scoring.oracle_enhancer("IRM")(noisy)
    with pytest.raises(ValueError, match="unknown oracle mask"):
        scoring.oracle_enhancer("XYZ")


def test_evaluate_rows_and_summary(items):
    rows = scoring.score_systems({"IRM": scoring.oracle_enhancer("IRM")}, items, which=["si_sdr", "stoi"])
    assert len(rows) == 4 and {r["system"] for r in rows} == {"noisy", "IRM"}
    table = scoring.summarize(rows, by="snr_db", which=["si_sdr", "stoi"])
    assert list(table.index) == ["noisy", "IRM"]
    assert table.loc["IRM", ("si_sdr", 0.0)] > table.loc["noisy", ("si_sdr", 0.0)]
    overall = scoring.summarize(rows, by=(), which=["si_sdr"])
    assert overall.loc["noisy", "si_sdr"] == pytest.approx(np.mean([r["si_sdr"] for r in rows if r["system"] == "noisy"]))
    with pytest.raises(ValueError, match="unknown metric"):
        scoring.measure(rows and items[0].load()[0], items[0].load()[0], which=["mos"])


def test_wrong_length_output_is_refused(items):
    with pytest.raises(ValueError, match="input's length"):
        scoring.score_systems({"bad": lambda y, c: y[:-5]}, items, which=["si_sdr"])


def test_balanced_subset(items):
    sub = scoring.balanced_subset(items * 3, per_cell=2)
    assert len(sub) == 4


def test_cli_prints_tables_and_writes_json(tiny_corpus, tmp_path, capsys):
    import json

    out = tmp_path / "results.json"
    scoring.main(["--corpus", str(tiny_corpus.root), "--baselines", "wiener", "--oracle", "IRM",
                   "--metrics", "si_sdr", "stoi", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "== by SNR (dB) ==" in printed and "oracle IRM" in printed and "wiener" in printed
    payload = json.loads(out.read_text())
    assert payload["n_items"] == len(tiny_corpus.items("test"))
    assert set(payload["overall"]) == {"noisy", "wiener", "oracle IRM"}
    with pytest.raises(SystemExit):
        scoring.main(["--corpus", str(tiny_corpus.root), "--baselines", "magic"])


def test_score_expands_the_band_diagnostics(items):
    clean, noisy = items[0].load()
    out = scoring.measure(noisy, clean, which=["si_sdr", "level_db", "absent_db", "band_err"])
    assert {"si_sdr", "level_db", "absent_db"} <= set(out)
    assert [k for k in out if k.startswith("band_err_")] == ["band_err_0_1", "band_err_1_2", "band_err_2_4",
                                                            "band_err_4_8"]
    assert all(isinstance(v, float) for v in out.values())
