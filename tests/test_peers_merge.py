"""benchmarks/peers.py --add-to: systems added to a stored results file keep the stored ones,
the means are recomputed, and a file of other mixtures is refused."""
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def bench():
    """benchmarks/peers.py as a module (conftest.benchmark_module undoes its import-time
    settings afterwards)."""
    from conftest import benchmark_module

    with benchmark_module("peers", "peers_bench") as mod:
        yield mod


def _result(bench, systems: dict, command: str) -> dict:
    """A results dict like run() writes: systems -> {id: (pesq_wb, stoi, estoi, si_sdr)}."""
    out = {"command": command, "date": "d", "python": "3", "cpu": "c", "logical_cpus": 2,
           "load_average": [0, 0, 0], "versions": {}, "unscored": [],
           "corpus": {"root": "data/x", "split": "valid", "n_items": 2}, "systems": {}}
    for name, scores in systems.items():
        items = [dict(id=i, snr_db=5.0, **dict(zip(bench.METRICS, v))) for i, v in scores.items()]
        mean, cells = bench.summarise(items, {m: {r["id"] for r in items if r[m] is None} for m in bench.METRICS})
        out["systems"][name] = {"mean": mean, "by_snr": cells, "items": items}
    return out


def test_merge_keeps_stored_systems_and_recomputes_means(bench):
    assert bench.METRICS == ("pesq_wb", "stoi", "estoi", "si_sdr")
    noisy = {"a": (1.0, 0.7, 0.7, 2.0), "b": (1.2, 0.8, 0.8, 4.0)}
    stored = _result(bench, {"noisy": noisy, "old": {"a": (2.0, 0.9, 0.9, 9.0), "b": (2.2, 0.9, 0.9, 11.0)}}, "first")
    new = _result(bench, {"noisy": noisy, "new": {"a": (3.0, 0.8, 0.8, 5.0), "b": (None, 0.8, 0.8, 7.0)}}, "second")
    merged = bench.merge(stored, new, Path("f.json"))
    assert list(merged["systems"]) == ["noisy", "old", "new"]
    assert merged["command"] == "first" and merged["added"][0]["command"] == "second"
    assert merged["added"][0]["systems"] == ["new"]
    # "new" could not be scored on b's first metric: b leaves that metric's means for everyone
    m0 = bench.METRICS[0]
    assert merged["systems"]["old"]["mean"][m0] == pytest.approx(2.0)
    assert merged["systems"]["noisy"]["mean"][m0] == pytest.approx(1.0)
    assert merged["systems"]["old"]["mean"][bench.METRICS[3]] == pytest.approx(10.0)
    assert stored["systems"]["old"]["mean"][m0] == pytest.approx(2.1)  # the input is not modified


def test_merge_refuses_other_mixtures(bench):
    stored = _result(bench, {"noisy": {"a": (1.0, 0.7, 0.7, 2.0), "b": (1.2, 0.8, 0.8, 4.0)}}, "first")
    new = _result(bench, {"noisy": {"a": (1.0, 0.7, 0.7, 2.0), "b": (1.3, 0.8, 0.8, 4.0)}, "x": {"a": (1, 1, 1, 1), "b": (1, 1, 1, 1)}},
                  "second")
    with pytest.raises(bench.PeerError, match="rebuilt"):
        bench.merge(stored, new, Path("f.json"))
    swapped = _result(bench, {"noisy": {"b": (1.2, 0.8, 0.8, 4.0), "a": (1.0, 0.7, 0.7, 2.0)}}, "third")
    with pytest.raises(bench.PeerError, match="ids or order differ"):
        bench.merge(stored, swapped, Path("f.json"))
    new["corpus"]["split"] = "test"
    with pytest.raises(bench.PeerError, match="same corpus and split"):
        bench.merge(stored, new, Path("f.json"))


def test_add_to_checks_its_arguments_before_scoring(bench, tmp_path):
    import json

    f = tmp_path / "r.json"
    f.write_text(json.dumps(_result(bench, {"noisy": {"a": (1, 1, 1, 1)}, "old": {"a": (1, 1, 1, 1)}}, "c")))
    base = ["--corpus", "data/x", "--split", "valid", "--out", str(tmp_path / "o.json"), "--add-to", str(f)]
    with pytest.raises(bench.PeerError, match="already holds old"):
        bench.parse_args(base + ["--model", "old=p.pt"])
    args = bench.parse_args(base + ["--model", "new=p.pt"])
    assert args.systems == [] and args.stored["command"] == "c"
    with pytest.raises(bench.PeerError, match="needs something to add"):
        bench.parse_args(base)
    with pytest.raises(bench.PeerError, match="same corpus and split"):
        bench.parse_args(base[:2] + ["--split", "test"] + base[4:] + ["--model", "new=p.pt"])
    with pytest.raises(bench.PeerError, match="leave out --max-items"):
        bench.parse_args(base + ["--model", "new=p.pt", "--max-items", "3"])
    with pytest.raises(bench.PeerError, match="not a readable"):
        bench.parse_args(base[:-1] + [str(tmp_path / "none.json"), "--model", "new=p.pt"])
    f.write_text(json.dumps({"systems": {"old": {"items": []}}, "corpus": {}}))
    with pytest.raises(bench.PeerError, match="not a readable"):
        bench.parse_args(base + ["--model", "new=p.pt"])


def test_band_reduction_counts_the_noise_removed_per_band(bench):
    import numpy as np

    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    clean = 0.1 * np.sin(2 * np.pi * 440 * t)
    noise = 0.05 * rng.standard_normal(32000)
    got = bench.band_reduction(clean + noise, clean, clean + noise)  # nothing removed
    assert list(got) == ["0-1 kHz", "1-2 kHz", "2-4 kHz", "4-8 kHz"]
    assert all(abs(v) < 1e-6 for v in got.values())
    got = bench.band_reduction(clean + 0.1 * noise, clean, clean + noise)  # 20 dB off everywhere
    assert all(v == pytest.approx(20.0, abs=0.01) for v in got.values())
    # half the gain on both runs of the phase-inversion method: -6 dB of speech error and of noise
    split = bench.band_split(0.5 * (clean + noise), 0.5 * (clean - noise), clean, noise)
    assert set(split) == {"distortion_db", "residual_db", "level_distortion_db", "level_residual_db"}
    assert list(split["residual_db"]) == list(got) and list(split["level_residual_db"])[0] == "0 to -10 dB"
    assert all(v == pytest.approx(20 * np.log10(0.5), abs=1e-3) for part in split.values() for v in part.values()
               if v is not None)  # a constant tone: the quieter level classes have no frames (None)
    perfect = bench.band_split(clean, clean, clean, noise)  # the noise removed, the speech kept: both at the floor
    assert all(v == -100.0 for key in ("distortion_db", "residual_db") for v in perfect[key].values())


def test_suppression_boost_arguments_are_checked(bench, tmp_path):
    base = ["--corpus", "data/x", "--split", "valid", "--no-cost", "--out", str(tmp_path / "o.json"),
            "--systems", "rnnoise", "--model", "m=p.pt"]
    args = bench.parse_args(base + ["--suppression-boost", "m_b=m:0.5"])
    assert args.boosts == {"m_b": (Path("p.pt"), 0.5)}
    for spec, words in (("m_b=other:0.5", "no --model named 'other'"), ("m_b=m:0", "GAMMA > 0"),
                        ("m_b=m:x", "GAMMA > 0"), ("m_b=m", "NEW=MODEL:GAMMA"), ("m=m:0.5", "is taken"),
                        ("rnnoise=m:1", "is taken")):
        with pytest.raises(bench.PeerError, match=words):
            bench.parse_args(base + ["--suppression-boost", spec])


def test_a_boosted_model_enhances_like_suppression_boost(bench, tmp_path):
    import numpy as np
    import torch

    from sedemo import models as M

    torch.manual_seed(0)
    path = tmp_path / "u.pt"
    M.save(M.build_model("ulcrn", tiny=True), path)
    s = bench.make_model("u_b", path, 0.5)
    assert s.stream is None and s.stream_onnx is None and s.info["suppression_boost"]["gamma"] == 0.5
    assert "not exported" in s.info["onnx_export"]
    x = 0.1 * np.random.default_rng(0).standard_normal(8000)
    want = M.enhance(M.SuppressionBoost(M.load(path).eval(), 0.5), x.astype(np.float32))
    np.testing.assert_allclose(s.offline(x.astype(np.float32)), want, rtol=0, atol=1e-6)
    assert s.info["kind"] == "sedemo model (probe)" and s.info["causal"]  # never a candidate of the default
    g = tmp_path / "t.pt"
    M.save(M.build_model("tcn", tiny=True), g)
    with pytest.raises(bench.PeerError, match="time-domain model"):
        bench.make_model("t_b", g, 0.5)


def test_swap_stoi_arguments_are_checked(bench, tmp_path, capsys):
    base = ["--corpus", "data/x", "--split", "valid", "--no-cost", "--out", str(tmp_path / "o.json"),
            "--systems", "rnnoise", "--model", "m=p.pt"]
    assert bench.parse_args(base + ["--speech-noise-split", "--swap-stoi"]).swap_stoi
    with pytest.raises(SystemExit):
        bench.parse_args(base + ["--swap-stoi"])
    assert "needs --speech-noise-split" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(base + ["--speech-noise-split", "--swap-stoi", "--add-to", str(tmp_path / "s.json")])
    assert "cannot be used with --add-to" in capsys.readouterr().err
