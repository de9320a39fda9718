"""ONNX export of one streaming step (``python -m sedemo export-onnx``): the graph, run hop by
hop with onnxruntime, matches the torch StreamingEnhancer; the sidecar describes the graph;
the command writes both files atomically and refuses bad outputs and models in one line."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from conftest import speech_like
from sedemo import __main__ as cli
from sedemo import models
from sedemo.streaming import StreamingEnhancer, export_onnx, onnx_export, stream_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

REL_TOL = 1e-4


def _signal(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """Speech-like signal plus white noise, float32."""
    x = speech_like(seconds, seed=seed) + 0.03 * np.random.default_rng(seed + 1).standard_normal(int(16000 * seconds))
    return x.astype(np.float32)


def _tiny(name: str = "gcrn"):
    torch.manual_seed(0)
    return models.build_model(name, tiny=True).eval()


def _torch_stream(model, x: np.ndarray) -> np.ndarray:
    """``StreamingEnhancer.process`` hop by hop: one hop out per hop in."""
    enh = StreamingEnhancer(model)
    hop = enh.hop
    outs = [enh.process(x[i:i + hop]) for i in range(0, len(x) - hop + 1, hop)]
    assert all(len(o) == hop for o in outs)
    return np.concatenate(outs)


def _rel_err(got, ref) -> float:
    return float(np.abs(got - ref).max() / np.abs(ref).max())


@pytest.mark.parametrize("name", onnx_export.SUPPORTED)
def test_tiny_models_graph_matches_torch_streaming(tmp_path, name):
    model = _tiny(name)
    x = _signal(1.0)
    out = tmp_path / f"{name}.onnx"
    meta = export_onnx(model, out)
    assert meta["model"] == name and out.is_file() and out.with_suffix(".json").is_file()
    got, ref = stream_onnx(out, x), _torch_stream(model, x)
    assert got.shape == ref.shape and np.abs(ref).max() > 1e-5
    assert _rel_err(got, ref) < REL_TOL
    assert not got[: meta["output_delay_samples"]].any()  # the start-up delay is zeros, as in torch


def test_deep_filter_ulcrn_graph_matches_torch_streaming(tmp_path):
    torch.manual_seed(0)
    model = models.build_model("ulcrn", tiny=True, df_order=3)
    with torch.no_grad():  # a head that does something (it starts at zero)
        model.df_head.weight.normal_(0, 0.5)
    model.eval()
    x = _signal(1.0, seed=2)
    out = tmp_path / "ulcrn_df.onnx"
    meta = export_onnx(model, out)
    df = [i for i in meta["inputs"] if i.get("role") == "model.df"]  # the low bins' last 2 frames
    assert len(df) == 1 and df[0]["shape"] == [1, 2, model.config.low_bins, 2]
    got, ref = stream_onnx(out, x), _torch_stream(model, x)
    assert _rel_err(got, ref) < REL_TOL


def test_pretrained_gcrn_graph_matches_torch_streaming(tmp_path):
    try:
        model = models.load_pretrained("gcrn")
    except FileNotFoundError:
        pytest.skip("no pretrained gcrn checkpoint")
    x = _signal(1.0, seed=3)
    out = tmp_path / "gcrn.onnx"
    meta = export_onnx(model, out, source="pretrained gcrn")
    assert (meta["hop"], meta["n_fft"], meta["sample_rate"]) == (160, 320, 16000)
    got, ref = stream_onnx(out, x), _torch_stream(model, x)
    assert _rel_err(got, ref) < REL_TOL


def test_sidecar_describes_the_graph_and_the_end_of_a_stream(tmp_path):
    model = _tiny()
    out = tmp_path / "step.onnx"
    export_onnx(model, out)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["onnx_file"] == "step.onnx"
    assert meta["onnx_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    enh = StreamingEnhancer(model)
    assert meta["hop"] == enh.hop and meta["n_fft"] == enh.n_fft
    assert meta["sample_rate"] == model.stft_config.sample_rate
    assert meta["output_delay_samples"] == enh.output_delay
    assert meta["algorithmic_latency_ms"] == pytest.approx(enh.algorithmic_latency_ms)
    graph = onnx.load(str(out)).graph
    elem = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.DOUBLE: "float64"}
    for declared, actual in ((meta["inputs"], graph.input), (meta["outputs"], graph.output)):
        assert [d["name"] for d in declared] == [v.name for v in actual]
        for d, v in zip(declared, actual):
            assert d["shape"] == [dim.dim_value for dim in v.type.tensor_type.shape.dim], d["name"]
            assert d["dtype"] == elem[v.type.tensor_type.elem_type]
    assert meta["inputs"][0]["name"] == "hop" and meta["outputs"][0]["name"] == "out_hop"
    assert meta["inputs"][0]["shape"] == [1, enh.hop]
    n = len(meta["inputs"]) - 1
    assert meta["state_pairs"] == [[f"state_{i}", f"next_state_{i}"] for i in range(n)]

    # drive the graph from the sidecar alone, then end the stream as it says: equals flush()
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = _signal(0.5, seed=5)[:-7]  # not a whole number of hops
    padded = np.concatenate([x, np.zeros(-len(x) % enh.hop, np.float32)])
    states = {d["name"]: np.zeros(d["shape"], np.float32) for d in meta["inputs"][1:]}
    ys = []
    for i in range(0, len(padded), enh.hop):
        res = dict(zip([o["name"] for o in meta["outputs"]],
                       sess.run(None, {"hop": padded[None, i:i + enh.hop], **states})))
        ys.append(res["out_hop"][0])
        states = {s: res[ns] for s, ns in meta["state_pairs"]}
    roles = {d["role"]: d["name"] for d in meta["inputs"]}
    tail = states[roles["overlap_add"]][0] / np.maximum(states[roles["window_sum"]][0], 1.1754944e-38)
    got = np.concatenate(ys + [tail])[: len(x) + meta["output_delay_samples"]]
    ref = np.concatenate([enh.process(x), enh.flush()])
    assert got.shape == ref.shape and _rel_err(got, ref) < REL_TOL


def test_unsupported_models_are_refused():
    with pytest.raises(ValueError, match="supported models: gcrn"):
        export_onnx(models.build_model("tcn", tiny=True), "unused.onnx")
    with pytest.raises(ValueError, match="supported models"):
        export_onnx(models.build_model("lstm_mask", tiny=True), "unused.onnx")
    with pytest.raises(ValueError, match="cln"):
        export_onnx(models.build_model("gcrn", tiny=True, norm="cln").eval(), "unused.onnx")


def test_a_failed_export_leaves_nothing(tmp_path, monkeypatch):
    def broken(step, path):
        raise RuntimeError("the exported graph differs; report it")

    monkeypatch.setattr(onnx_export, "_verify", broken)
    out = tmp_path / "new" / "step.onnx"
    with pytest.raises(RuntimeError, match="differs"):
        export_onnx(_tiny(), out)
    assert not (tmp_path / "new").exists()
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ the command
def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_command_writes_graph_and_sidecar(tmp_path, tiny_pretrained, capsys):
    out = tmp_path / "site" / "gcrn.onnx"
    assert cli.main(["export-onnx", str(out), "--model", "gcrn"]) == 0
    printed = capsys.readouterr().out
    assert "gcrn" in printed and "gcrn.json" in printed
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["model"] == "gcrn" and meta["source"] == "pretrained gcrn"
    x = _signal(0.5)
    assert _rel_err(stream_onnx(out, x), _torch_stream(tiny_pretrained, x)) < REL_TOL
    first = out.read_bytes()
    assert cli.main(["export-onnx", str(out), "--model", "gcrn", "--opset", "18"]) == 0  # our own files: replaced
    assert json.loads(out.with_suffix(".json").read_text())["opset"] == 18 and out.read_bytes() != first
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_command_reads_a_checkpoint_and_refuses_to_overwrite_it(tmp_path, capsys):
    model = _tiny("crn")
    ckpt = models.save(model, tmp_path / "crn.pt")
    out = tmp_path / "crn.onnx"
    assert cli.main(["export-onnx", str(out), "--model", str(ckpt)]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["source"] == "checkpoint crn.pt"
    capsys.readouterr()
    odd = models.save(model, tmp_path / "odd.onnx")  # a checkpoint that has the output's name
    before = odd.read_bytes()
    assert cli.main(["export-onnx", str(odd), "--model", str(odd)]) == 2
    assert "must differ" in _one_line(capsys.readouterr().err)
    assert odd.read_bytes() == before
    side = models.save(model, tmp_path / "side.json")  # ... or the sidecar's
    assert cli.main(["export-onnx", str(tmp_path / "side.onnx"), "--model", str(side)]) == 2
    assert "must differ" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "side.onnx").exists()


@pytest.mark.parametrize("args, says", [
    (["--model", "tcn"], "not supported"),
    (["--model", "nonsense"], "neither a model name nor"),
    (["--opset", "9"], "--opset"),
])
def test_command_reports_bad_models_in_one_line(tmp_path, tiny_pretrained, capsys, args, says):
    out = tmp_path / "x.onnx"
    assert cli.main(["export-onnx", str(out), *args]) == 2
    line = _one_line(capsys.readouterr().err)
    assert says in line
    if "--model" in args:
        assert "gcrn" in line  # names the supported models
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_command_refuses_bad_outputs(tmp_path, tiny_pretrained, capsys):
    assert cli.main(["export-onnx", str(tmp_path / "x.bin")]) == 2
    assert ".onnx" in _one_line(capsys.readouterr().err)
    (tmp_path / "dir.onnx").mkdir()
    assert cli.main(["export-onnx", str(tmp_path / "dir.onnx")]) == 2
    assert "folder" in _one_line(capsys.readouterr().err)
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}\n')
    assert cli.main(["export-onnx", str(tmp_path / "notes.onnx")]) == 2
    assert "not a sidecar" in _one_line(capsys.readouterr().err)
    assert notes.read_text() == '{"mine": true}\n' and not (tmp_path / "notes.onnx").exists()
