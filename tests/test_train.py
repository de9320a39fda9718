"""Tests of sedemo.train on tiny synthetic data (no built corpus needed): a short run
writes its log and checkpoint, resume continues exactly, losses are wired right,
the CLI works on a fake corpus folder."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch

from sedemo import models as M
from sedemo import train as T
from sedemo.train.loop import _batch_dict, _lr_lambda
from conftest import speech_like

SR = 16000


def fake_pairs(n=4, seconds=0.6, seed=0):
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        s = (0.3 * speech_like(seconds, seed=seed + i)).astype(np.float32)
        noisy = s + (0.03 * rng.standard_normal(len(s))).astype(np.float32)
        pairs.append((s, noisy))
    return pairs


def tiny_config(out, **kw):
    base = dict(model="gcrn", tiny=True, steps=6, batch_size=2, segment=0.25, lr=3e-3, seed=0,
                threads=1, valid_every=3, ckpt_every=2, log_every=2, n_valid=2, valid_seconds=0.5,
                out=str(out), progress=False)
    base.update(kw)
    return T.TrainConfig(**base)


def test_tiny_run_writes_log_and_checkpoint(tmp_path):
    res = T.train(tiny_config(tmp_path / "run"), fake_pairs(), fake_pairs(2, seed=10))
    out = tmp_path / "run"
    for f in ("log.jsonl", "checkpoint.pt", "model.pt", "config.json"):
        assert (out / f).exists(), f
    log = T.read_log(out)
    assert log == res["log"]
    train_steps = [r["step"] for r in log if r["kind"] == "train"]
    valid = [r for r in log if r["kind"] == "valid"]
    assert train_steps == [2, 4, 6]
    assert [r["step"] for r in valid] == [3, 6]
    assert all(np.isfinite(r["train_loss"]) and r["seconds"] >= 0 for r in log if r["kind"] == "train")
    for key in ("valid_loss", "valid_si_sdr", "valid_si_sdr_noisy", "valid_si_sdri"):
        assert np.isfinite(valid[-1][key])
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 6 and {"optimizer", "scheduler", "rng", "model"} <= set(ck)
    m = M.load(out / "model.pt")
    assert m.name == "gcrn" and m.extra["step"] == 6
    assert m.extra["command"].startswith("python -m sedemo.train --model gcrn --tiny")
    assert M.load(out / "checkpoint.pt").config == m.config  # a training checkpoint loads too
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"] == "gcrn" and "command" in cfg
    assert res["step"] == 6 and res["valid"] == {k: v for k, v in valid[-1].items()
                                                 if k.startswith("valid_")}


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_resume_matches_uninterrupted_run(tmp_path):
    pairs, valid = fake_pairs(), fake_pairs(2, seed=10)
    full = T.train(tiny_config(tmp_path / "full", steps=8, ckpt_every=3, dynamic_mix=True), pairs, valid)
    half = tiny_config(tmp_path / "split", steps=4, ckpt_every=3, dynamic_mix=True)
    T.train(half, pairs, valid)
    resumed = T.train(tiny_config(tmp_path / "split", steps=8, ckpt_every=3, dynamic_mix=True,
                                  resume=True), pairs, valid)
    a, b = _state(full["model"]), _state(resumed["model"])
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k  # parameters and BatchNorm statistics
    def strip(log):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in log]

    # same train records; the split run has one extra validation, at the end of its first half
    assert [r for r in strip(resumed["log"]) if r["kind"] == "train"] == \
        [r for r in strip(full["log"]) if r["kind"] == "train"]
    extra_valid = [r for r in strip(resumed["log"]) if r not in strip(full["log"])]
    assert [(r["kind"], r["step"]) for r in extra_valid] == [("valid", 4)]
    assert len(resumed["log"]) == len(full["log"]) + 1
    assert [r["step"] for r in T.read_log(tmp_path / "split") if r["kind"] == "train"] == [2, 4, 6, 8]


def test_resume_refuses_another_model(tmp_path):
    T.train(tiny_config(tmp_path / "r", steps=2), fake_pairs(2), [])
    with pytest.raises(ValueError, match="gcrn"):
        T.train(tiny_config(tmp_path / "r", model="crn", steps=4, resume=True), fake_pairs(2), [])


def test_sample_batch():
    pairs = fake_pairs(3, seconds=0.1)
    c1, n1 = T.sample_batch(pairs, np.random.default_rng(0), 4, 3200)  # longer than the items
    c2, n2 = T.sample_batch(pairs, np.random.default_rng(0), 4, 3200)
    assert c1.shape == (4, 3200) and n1.dtype == np.float32
    assert np.array_equal(c1, c2) and np.array_equal(n1, n2)
    assert np.all(c1[:, 1600:] == 0)  # zero padding
    c, n = T.sample_batch(pairs, np.random.default_rng(1), 4, 800)
    lens = {len(p[0]) for p in pairs}
    assert all(any(np.array_equal(row, p[0][s:s + 800]) for p in pairs for s in range(max(lens) - 799))
               for row in c)
    cm, nm = T.sample_batch(pairs, np.random.default_rng(1), 4, 800, dynamic_mix=True)
    assert cm.shape == nm.shape and not np.array_equal(nm - cm, np.zeros_like(cm))


def test_speed_factors():
    assert T.speed_factors(0.1) == [0.9, 0.95, 1.0, 1.05, 1.1]
    assert T.speed_factors(0.0) == [1.0]
    with pytest.raises(ValueError, match="speed_perturb"):
        T.speed_factors(0.7)
    with pytest.raises(ValueError, match="speed_perturb"):
        T.TrainConfig(speed_perturb=-0.1)


def test_speed_perturb_shifts_pitch_and_keeps_the_noise():
    """A 500-Hz tone played at a random speed of 0.9..1.1 peaks at 500*factor Hz (the FFT
    peak of a 1-s crop, 1-Hz bins), and noisy - clean stays the unchanged noise crop."""
    t = np.arange(3 * SR) / SR
    tone = (0.5 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
    noise = (0.01 * np.random.default_rng(0).standard_normal(len(t))).astype(np.float32)
    pairs = [(tone, tone + noise)]
    c, n = T.sample_batch(pairs, np.random.default_rng(3), 32, SR, speed_perturb=0.1)
    peaks = np.argmax(np.abs(np.fft.rfft(c * np.hanning(SR), axis=1)), axis=1)  # Hz
    allowed = {round(500 * f) for f in T.speed_factors(0.1)}
    assert set(peaks.tolist()) <= allowed and len(set(peaks.tolist())) >= 3
    residual = n - c
    assert all(any(np.allclose(r, noise[s:s + SR], atol=1e-6) for s in range(0, len(t) - SR + 1))
               for r in residual[:4])
    # reproducible, and speed_perturb=0 is the old sampler
    c2, _ = T.sample_batch(pairs, np.random.default_rng(3), 32, SR, speed_perturb=0.1)
    assert np.array_equal(c, c2)
    a, _ = T.sample_batch(pairs, np.random.default_rng(5), 4, 800)
    b, _ = T.sample_batch(pairs, np.random.default_rng(5), 4, 800, speed_perturb=0.0)
    assert np.array_equal(a, b)


def _batch(model, seconds=0.25):
    s, n = fake_pairs(2, seconds=seconds)[0]
    ct, nt = torch.from_numpy(s)[None], torch.from_numpy(n)[None]
    return _batch_dict(ct, nt, model.stft_config)


@pytest.mark.parametrize("loss,model", [
    ("compressed", "gcrn"), ("mse_spec", "crn"), ("si_sdr", "gcrn"), ("mae", "lstm_map"),
    ("psa", "lstm_mask"), ("sa", "lstm_mask"), ("ma", "lstm_mask"), ("mag_phase", "gcrn_magphase"),
])
def test_make_loss_wires_inputs(loss, model):
    pytest.importorskip("sedemo.losses")
    m = M.build_model(model, tiny=True)
    fn = T.make_loss(loss, model=m)
    batch = _batch(m)
    value = fn(m.estimate(batch["noisy_spec"]), batch)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()


def test_make_loss_errors():
    with pytest.raises(ValueError, match="compressed"):
        T.make_loss("nonsense")
    with pytest.raises(ValueError, match="mask"):
        T.make_loss("psa", model=M.build_model("gcrn", tiny=True))
    with pytest.raises(ValueError, match="gcrn_magphase"):
        T.make_loss("mag_phase", model=M.build_model("gcrn", tiny=True))
    assert {"compressed", "mse_spec", "si_sdr", "mag_phase"} <= set(T.available_losses())


def test_mask_loss_training_step(tmp_path):
    res = T.train(tiny_config(tmp_path / "m", model="lstm_mask", loss="psa", steps=2), fake_pairs(2), [])
    assert res["valid"] == {} and res["step"] == 2


def test_config_validation_and_command():
    with pytest.raises(ValueError, match="choose one of"):
        T.TrainConfig(model="unet")
    with pytest.raises(ValueError):
        T.TrainConfig(steps=0)
    cmd = T.TrainConfig(model="lstm_mask", steps=50, model_overrides={"context": 2}).command()
    assert cmd == "python -m sedemo.train --model lstm_mask --set context=2 --steps 50"


def _fake_corpus(root):
    from sedemo.dsp import audio
    from sedemo import data

    rows = []
    for split, n in (("train", 3), ("valid", 2)):
        for i, (c, noisy) in enumerate(fake_pairs(n, seed=20 if split == "valid" else 0)):
            rel_c, rel_n = f"{split}/{split}{i:04d}_clean.wav", f"{split}/{split}{i:04d}_noisy.wav"
            (root / split).mkdir(parents=True, exist_ok=True)
            audio.save(root / rel_c, c, SR)
            audio.save(root / rel_n, noisy, SR)
            rows.append({"split": split, "id": f"{split}{i:04d}", "clean": rel_c, "noisy": rel_n,
                         "speaker": "s", "speech_file": "", "noise_type": "white", "noise_source": "x",
                         "snr_db": "10.000", "seconds": f"{len(c) / SR:.3f}"})
    with open(root / "manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (root / "info.json").write_text(json.dumps({"version": data.CORPUS_VERSION, "source": "synthetic",
                                                "config": {}}))


def test_cli_on_a_corpus_folder(tmp_path, monkeypatch):
    root = tmp_path / "corpus"
    _fake_corpus(root)
    monkeypatch.setattr(M.checkpoints, "PRETRAINED_DIR", tmp_path / "pretrained")
    export = tmp_path / "pretrained" / "lstm_mask.pt"
    res = T.main(["--model", "lstm_mask", "--tiny", "--steps", "3", "--batch-size", "2", "--segment", "0.25",
                  "--corpus", str(root), "--out", str(tmp_path / "runs" / "{model}"), "--threads", "1",
                  "--valid-every", "3", "--n-valid", "2", "--no-progress", "--set", "hidden=8",
                  "--loss", "si_sdr", "--export", str(export)])
    assert res["step"] == 3 and (tmp_path / "runs" / "lstm_mask" / "log.jsonl").exists()
    m = M.load_pretrained("lstm_mask")
    assert m.config.hidden == 8 and "--set hidden=8" in m.extra["command"]
    assert m.extra["n_train_items"] == 3 and "valid_si_sdr" in m.extra["valid"]


def test_cosine_decay_start_keeps_the_constant_part():
    const = _lr_lambda(T.TrainConfig(steps=100))
    late = _lr_lambda(T.TrainConfig(steps=100, lr_schedule="cosine", decay_start=60))
    plain = _lr_lambda(T.TrainConfig(steps=100, lr_schedule="cosine"))
    assert [late(s) for s in range(61)] == [const(s) for s in range(61)]
    assert late(80) == pytest.approx(0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert late(100) == pytest.approx(0.05) and plain(100) == pytest.approx(0.05)
    assert plain(50) == pytest.approx(0.525)
    with pytest.raises(ValueError, match="decay_start"):
        T.TrainConfig(steps=100, decay_start=100)
    assert "--decay-start 60" in T.TrainConfig(steps=100, lr_schedule="cosine", decay_start=60).command()


def test_init_from_fine_tunes_and_keeps_the_chain(tmp_path):
    pairs = fake_pairs()
    first = T.train(tiny_config(tmp_path / "s1", steps=4), pairs, [])
    start = _state(first["model"])
    # two steps at lr 0 must leave the weights as they were
    second = T.train(tiny_config(tmp_path / "s2", steps=2, lr=0.0, seed=1,
                                 init_from=str(tmp_path / "s1" / "model.pt")), pairs, [])
    for k, v in _state(second["model"]).items():
        if "running" in k or "num_batches" in k:
            continue  # BatchNorm statistics do move in training mode
        assert torch.equal(v, start[k]), k
    m = M.load(tmp_path / "s2" / "model.pt")
    assert m.extra["init"]["step"] == 4
    assert m.extra["init"]["command"] == M.load(tmp_path / "s1" / "model.pt").extra["command"]
    assert m.extra["init"]["command"].startswith("python -m sedemo.train --model gcrn --tiny --steps 4")
    assert "--init-from" in m.extra["command"]
    # a resumed fine-tuning run keeps its chain (read back from the checkpoint)
    T.train(tiny_config(tmp_path / "s2", steps=3, lr=0.0, seed=1, resume=True,
                        init_from=str(tmp_path / "s1" / "model.pt")), pairs, [])
    assert M.load(tmp_path / "s2" / "model.pt").extra["init"] == m.extra["init"]
    # a third stage keeps the whole chain
    T.train(tiny_config(tmp_path / "s3", steps=2, init_from=str(tmp_path / "s2" / "checkpoint.pt")), pairs, [])
    chain = M.load(tmp_path / "s3" / "model.pt").extra["init"]
    assert chain["step"] == 3 and chain["init"]["step"] == 4  # s2 was resumed to 3 steps
    # refuses another model or config, and a missing file
    with pytest.raises(ValueError, match="does not match"):
        T.train(tiny_config(tmp_path / "x", model="crn", steps=2, init_from=str(tmp_path / "s1" / "model.pt")),
                pairs, [])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        T.train(tiny_config(tmp_path / "y", steps=2, init_from=str(tmp_path / "nope.pt")), pairs, [])


def test_stored_log_path_finds_shipped_and_comparison_logs():
    shipped = T.stored_log_path("ulcrn_stoi2")
    assert shipped.parent.name == "pretrained" and T.read_log(shipped) == T.stored_log("ulcrn_stoi2")
    assert T.stored_log_path("ulcrn_same").parent.name == "training"
    with pytest.raises(FileNotFoundError, match="stored: .*ulcrn"):
        T.stored_log_path("no_such_run")
    chained = T.chain_logs([T.stored_log_path(n) for n in ("ulcrn_stoi", "ulcrn_stoi2")])
    first_end = max(r["step"] for r in T.stored_log("ulcrn_stoi"))
    assert min(r["step"] for r in chained if r["stage"] == 2) > first_end


def test_chain_logs_shifts_steps_and_seconds(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps({"step": 5, "kind": "train", "seconds": 2.0}) + "\n"
                 + json.dumps({"step": 10, "kind": "valid", "seconds": 4.0}) + "\n")
    b.write_text(json.dumps({"step": 3, "kind": "train", "seconds": 1.5}) + "\n")
    out = tmp_path / "ab.jsonl"
    chained = T.chain_logs([a, b], out)
    assert [(r["step"], r["seconds"], r["stage"]) for r in chained] == [(5, 2.0, 1), (10, 4.0, 1), (13, 5.5, 2)]
    assert T.read_log(out) == chained
    b.write_text("")
    with pytest.raises(ValueError, match="no log records"):
        T.chain_logs([a, b])


def test_lr_mult_trains_a_prefix_faster_and_resumes_exactly(tmp_path):
    from sedemo.train.loop import param_groups

    model = M.build_model("gcrn", tiny=True)
    first = next(n for n, _ in model.named_parameters()).split(".")[0]
    groups = param_groups(model, 1e-3, {first: 10})
    assert [g["lr"] for g in groups] == [pytest.approx(1e-3), pytest.approx(1e-2)]
    assert sum(len(g["params"]) for g in groups) == sum(1 for p in model.parameters() if p.requires_grad)
    in_fast = {id(p) for p in groups[1]["params"]}
    assert all(n.startswith(first + ".") == (id(p) in in_fast) for n, p in model.named_parameters())
    with pytest.raises(ValueError, match="no parameter of this model starts with 'nohead'"):
        param_groups(model, 1e-3, {"nohead": 10})
    # an interrupted run with a faster group resumes to the uninterrupted one, bit for bit
    pairs, valid = fake_pairs(), fake_pairs(2, seed=10)
    kw = dict(ckpt_every=3, dynamic_mix=True, lr_mult={first: 5.0})
    full = T.train(tiny_config(tmp_path / "full", steps=8, **kw), pairs, valid)
    T.train(tiny_config(tmp_path / "split", steps=4, **kw), pairs, valid)
    resumed = T.train(tiny_config(tmp_path / "split", steps=8, resume=True, **kw), pairs, valid)
    a, b = _state(full["model"]), _state(resumed["model"])
    for k in a:
        assert torch.equal(a[k], b[k]), k
    lrs = [g["lr"] for g in torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)["optimizer"]["param_groups"]]
    assert lrs == [pytest.approx(3e-3), pytest.approx(1.5e-2)]
    # the factor changes what the prefix learns, and only through its learning rate: a
    # factor of 1 is the plain run, bit for bit, and the log records the base rate
    plain = T.train(tiny_config(tmp_path / "plain", steps=8, ckpt_every=3, dynamic_mix=True), pairs, valid)
    c = _state(plain["model"])
    assert any(not torch.equal(a[k], c[k]) for k in a if k.startswith(first + "."))
    one = T.train(tiny_config(tmp_path / "one", steps=8, ckpt_every=3, dynamic_mix=True, lr_mult={first: 1.0}),
                  pairs, valid)
    assert all(torch.equal(v, c[k]) for k, v in _state(one["model"]).items())
    assert [r["lr"] for r in full["log"] if r["kind"] == "train"] == \
        [r["lr"] for r in plain["log"] if r["kind"] == "train"]
    assert "--lr-mult " + first + "=5.0" in tiny_config(tmp_path / "x", **kw).command()
    with pytest.raises(ValueError, match="lr_mult"):
        tiny_config(tmp_path / "x", lr_mult={first: 0})
    # resuming a run trained without a factor with one is refused (it would change the weights)
    with pytest.raises(ValueError, match="lr_mult"):
        T.train(tiny_config(tmp_path / "plain", steps=10, resume=True, lr_mult={first: 5.0}), pairs, valid)


def test_cli_lr_mult_pairs():
    from sedemo.train.cli import _config

    cfg = _config(["--model", "ulcrn", "--lr-mult", "df_head=10", "--lr-mult", "dec=2.5"])
    assert cfg.lr_mult == {"df_head": 10, "dec": 2.5}
    with pytest.raises(ValueError, match="lr_mult"):
        _config(["--model", "ulcrn", "--lr-mult", "df_head=-1"])


def test_a_checkpoint_from_before_lr_mult_resumes_to_the_same_run(tmp_path):
    # checkpoints written before the lr_mult field (ulcrn_df16k's, say) have neither the
    # config field nor the optimizer group's key: they resume as a factor-free run
    pairs, valid = fake_pairs(), fake_pairs(2, seed=10)
    full = T.train(tiny_config(tmp_path / "full", steps=8, ckpt_every=4, dynamic_mix=True), pairs, valid)
    T.train(tiny_config(tmp_path / "old", steps=4, ckpt_every=4, dynamic_mix=True), pairs, valid)
    path = tmp_path / "old" / "checkpoint.pt"
    ck = torch.load(path, weights_only=False)
    for g in ck["optimizer"]["param_groups"]:
        del g["lr_mult"]
    del ck["train_config"]["lr_mult"]
    torch.save(ck, path)
    resumed = T.train(tiny_config(tmp_path / "old", steps=8, ckpt_every=4, dynamic_mix=True, resume=True),
                      pairs, valid)
    a, b = _state(full["model"]), _state(resumed["model"])
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_lr_mult_on_resume_a_new_factor_applies_and_other_prefixes_are_refused(tmp_path):
    from sedemo.train.loop import param_groups

    model = M.build_model("gcrn", tiny=True)
    tops = list(dict.fromkeys(n.split(".")[0] for n, _ in model.named_parameters()))
    first = tops[0]
    pairs = fake_pairs()
    T.train(tiny_config(tmp_path / "r", steps=2, ckpt_every=2, lr_mult={first: 5.0}), pairs, [])
    # --resume-anyway with another factor: the new factor is what trains from then on
    T.train(tiny_config(tmp_path / "r", steps=4, ckpt_every=2, lr_mult={first: 2.0}, resume=True,
                        resume_anyway=True), pairs, [])
    groups = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=False)["optimizer"]["param_groups"]
    assert groups[1]["lr_mult"] == 2.0 and groups[1]["lr"] == pytest.approx(2 * groups[0]["lr"])
    # another set of prefixes makes other groups: refused with its own message
    with pytest.raises(ValueError, match="parameter group"):
        T.train(tiny_config(tmp_path / "r", steps=6, ckpt_every=2, resume=True, resume_anyway=True), pairs, [])
    # every parameter in a scaled group: the log still records the base rate
    every = {t: 4.0 for t in tops}
    res = T.train(tiny_config(tmp_path / "all", steps=2, lr_mult=every), pairs, [])
    assert [r["lr"] for r in res["log"] if r["kind"] == "train"] == [pytest.approx(3e-3)]
    with pytest.raises(ValueError, match="taken by an earlier prefix"):
        param_groups(model, 1e-3, {first: 2.0, first + ".": 3.0})
