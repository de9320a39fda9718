"""Runs are not lost, bad input is refused in one line: regression tests of issue 17 for
``sedemo.train`` (a folder holding a run, ``--resume`` without a checkpoint or with another
configuration, atomic writes) and the ``sedemo.train`` / ``sedemo.evaluation`` commands
(one-line errors, the ``--help`` examples), plus Hypothesis properties of ``TrainConfig``.
Tiny models and fake data, as in test_train.py."""
from __future__ import annotations

import json
import math
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sedemo import models as M
from sedemo import train as T
from sedemo.train import cli, loop
from test_train import fake_pairs, tiny_config

ROOT = Path(__file__).resolve().parents[1]
RUN_FILES = ("config.json", "log.jsonl", "checkpoint.pt", "model.pt")


def _short_run(out, **kw):
    """A 2-step run with a checkpoint at its end (about a second)."""
    return T.train(tiny_config(out, **{"steps": 2, "ckpt_every": 2, "log_every": 1, **kw}), fake_pairs(2), [])


def _snapshot(folder) -> dict:
    return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}


def _params(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _strip(log):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in log if r["kind"] == "train"]


# --------------------------------------------------------------------------- a folder that holds a run
def test_a_folder_holding_a_run_is_refused_and_left_alone(tmp_path):
    run = tmp_path / "run"
    _short_run(run)
    before = _snapshot(run)
    assert set(RUN_FILES) <= set(before)
    with pytest.raises(ValueError, match="already holds a training run.*--resume.*--overwrite"):
        _short_run(run, seed=1)
    assert _snapshot(run) == before  # log, checkpoint, model and config untouched
    # a run that died before its first checkpoint is a run too
    (run / "checkpoint.pt").unlink()
    (run / "model.pt").unlink()
    with pytest.raises(ValueError, match="already holds a training run"):
        _short_run(run, seed=1)
    # a folder with other files only is not a run: they stay
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    _short_run(other)
    assert (other / "notes.txt").read_text() == "mine"


def test_overwrite_replaces_only_the_runs_own_files(tmp_path):
    run = tmp_path / "run"
    _short_run(run, steps=4, ckpt_every=4)
    (run / "notes.txt").write_text("mine")
    (run / "figures").mkdir()
    (run / "figures" / "curve.png").write_bytes(b"png")
    res = _short_run(run, seed=1, overwrite=True)
    assert (run / "notes.txt").read_text() == "mine" and (run / "figures" / "curve.png").read_bytes() == b"png"
    assert [r["step"] for r in T.read_log(run)] == [1, 2] == [r["step"] for r in res["log"]]
    assert json.loads((run / "config.json").read_text())["seed"] == 1
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 2
    assert M.load(run / "model.pt").extra["step"] == 2
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no temporary files left
    with pytest.raises(ValueError, match="not both"):
        tiny_config(run, overwrite=True, resume=True)


# --------------------------------------------------------------------------- resume
def test_resume_without_a_checkpoint_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="nothing to resume.*holds no checkpoint.pt"):
        _short_run(tmp_path / "empty", resume=True)
    assert not (tmp_path / "empty").exists()  # nothing was created either
    started = tmp_path / "started"
    _short_run(started)
    (started / "checkpoint.pt").unlink()
    before = _snapshot(started)
    with pytest.raises(ValueError, match="nothing to resume"):
        _short_run(started, resume=True)
    assert _snapshot(started) == before


@pytest.mark.parametrize("change", [{"lr": 1e-2}, {"batch_size": 3}, {"loss": "si_sdr"}, {"seed": 7},
                                    {"dynamic_mix": True}, {"lr": 1e-2, "seed": 7}])
def test_resume_with_another_config_is_refused_naming_the_fields(tmp_path, change):
    run = tmp_path / "run"
    _short_run(run)
    before = _snapshot(run)
    with pytest.raises(ValueError, match="another configuration") as info:
        _short_run(run, steps=4, resume=True, **change)
    for name in change:
        assert name in str(info.value)
    assert "--resume-anyway" in str(info.value) and "\n" not in str(info.value)
    assert _snapshot(run) == before  # config.json not rewritten, nothing trained


def test_resume_may_change_steps_and_how_it_runs(tmp_path):
    run = tmp_path / "run"
    _short_run(run)
    _short_run(run, steps=3, resume=True, threads=None, ckpt_every=3, log_every=3)
    config = json.loads((run / "config.json").read_text())
    assert config["steps"] == 3
    assert config["resumes"] == [{"step": 2, "changed": {"steps": [2, 3], "threads": [1, None],
                                                         "ckpt_every": [2, 3], "log_every": [1, 3]}}]
    # a schedule change that keeps the learning rate of the steps done is the same run
    _short_run(run, steps=5, resume=True, lr_schedule="cosine", decay_start=3)
    # one that changes it is another run
    with pytest.raises(ValueError, match="decay_start 3 -> 0"):
        _short_run(run, steps=9, resume=True, lr_schedule="cosine", decay_start=0)
    with pytest.raises(ValueError, match="past steps=4"):
        _short_run(run, steps=4, resume=True, lr_schedule="cosine", decay_start=3)


def test_resume_anyway_goes_on_with_the_new_values_and_records_them(tmp_path):
    run = tmp_path / "run"
    _short_run(run)
    res = _short_run(run, steps=4, resume=True, resume_anyway=True, lr=1e-2)
    assert [r["lr"] for r in res["log"] if r["kind"] == "train"] == [3e-3, 3e-3, 1e-2, 1e-2]
    record = {"step": 2, "changed": {"lr": [3e-3, 1e-2], "steps": [2, 4]}, "anyway": ["lr"]}
    assert json.loads((run / "config.json").read_text())["resumes"] == [record]
    assert M.load(run / "model.pt").extra["resumes"] == [record]
    # the history survives the next resume (it is kept in the checkpoint)
    _short_run(run, steps=5, resume=True, lr=1e-2)
    assert [r["step"] for r in json.loads((run / "config.json").read_text())["resumes"]] == [2, 4]


def test_resume_auto_starts_or_resumes(tmp_path):
    run = tmp_path / "run"
    _short_run(run, resume="auto")  # no run yet: starts
    res = _short_run(run, steps=3, resume="auto")  # a checkpoint: resumes
    assert [r["step"] for r in res["log"]] == [1, 2, 3]
    # only the start of this same run (no checkpoint yet): started again; of another run: refused
    for name in ("checkpoint.pt", "model.pt"):
        (run / name).unlink()
    assert [r["step"] for r in _short_run(run, steps=3, resume="auto")["log"]] == [1, 2, 3]
    for name in ("checkpoint.pt", "model.pt"):
        (run / name).unlink()
    with pytest.raises(ValueError, match="already holds a training run"):
        _short_run(run, steps=3, resume="auto", seed=4)


# --------------------------------------------------------------------------- atomic writes
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE stands for a full disk")
def test_a_write_cut_short_leaves_the_previous_log_and_the_run_resumes_exactly(tmp_path, monkeypatch):
    """The log record of step 6 is padded past a file-size limit, so its write fails half-way
    (as on a full disk); the log on disk stays whole and the run, resumed, equals an
    uninterrupted one."""
    import resource
    import signal

    pairs, valid = fake_pairs(), fake_pairs(2, seed=10)
    full = T.train(tiny_config(tmp_path / "full", steps=8, ckpt_every=3), pairs, valid)
    limit = 4 << 20

    def dumps(obj, *args, **kw):
        if isinstance(obj, dict) and obj.get("step") == 6 and obj.get("kind") == "train":
            obj = {**obj, "pad": "x" * (2 * limit)}
        return json.dumps(obj, *args, **kw)

    split = tmp_path / "split"
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    with monkeypatch.context() as m:
        m.setattr(loop, "json", SimpleNamespace(dumps=dumps, loads=json.loads, JSONDecodeError=json.JSONDecodeError))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, old_limit[1]))
        try:
            with pytest.raises(OSError):
                T.train(tiny_config(split, steps=8, ckpt_every=3), pairs, valid)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
            signal.signal(signal.SIGXFSZ, old_handler)
    assert [r["step"] for r in T.read_log(split) if r["kind"] == "train"] == [2, 4]  # whole, up to step 4
    assert not [p.name for p in split.iterdir() if p.name.startswith(".")]
    resumed = T.train(tiny_config(split, steps=8, ckpt_every=3, resume=True), pairs, valid)
    a, b = _params(full["model"]), _params(resumed["model"])
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _strip(resumed["log"]) == _strip(full["log"])


def test_a_crash_while_writing_the_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    pairs = fake_pairs()
    full = T.train(tiny_config(tmp_path / "full", steps=6, ckpt_every=2), pairs, [])
    real_save, calls = torch.save, []

    def save(obj, f, *args, **kw):
        calls.append(1)
        if len(calls) == 2:  # the checkpoint of step 4: half written, then the process dies
            Path(f).write_bytes(b"\0" * 1000)
            raise KeyboardInterrupt
        return real_save(obj, f, *args, **kw)

    with monkeypatch.context() as m:
        m.setattr(torch, "save", save)
        with pytest.raises(KeyboardInterrupt):
            T.train(tiny_config(tmp_path / "split", steps=6, ckpt_every=2), pairs, [])
    assert torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)["step"] == 2
    resumed = T.train(tiny_config(tmp_path / "split", steps=6, ckpt_every=2, resume=True), pairs, [])
    a, b = _params(full["model"]), _params(resumed["model"])
    assert all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- the commands
BAD_TRAIN_ARGS = [
    (["--threads", "0"], "threads"), (["--steps", "0"], "steps"), (["--seed", "-1"], "seed"),
    (["--batch-size", "0"], "batch_size"), (["--lr", "nan"], "lr"), (["--segment", "inf"], "segment"),
    (["--grad-clip", "-1"], "grad_clip"), (["--valid-seconds", "0"], "valid_seconds"),
    (["--max-train-items", "0"], "max_train_items"), (["--speed-perturb", "0.7"], "speed_perturb"),
    (["--set", "hidden=128"], "hidden"), (["--loss", "nope"], "nope"), (["--steps", "x"], "--steps"),
    (["--device", "gpu"], "device"), (["--out", "runs/{x}"], "out"), (["--mask-target", "XYZ"], "mask_target"),
    (["--resume-anyway"], "--resume"), (["--resume", "maybe"], "--resume"),
]


@pytest.mark.parametrize("args,named", BAD_TRAIN_ARGS, ids=lambda a: " ".join(a) if isinstance(a, list) else "")
def test_train_command_refuses_bad_values_in_one_line(tmp_path, capsys, args, named):
    argv = ["--corpus", str(tmp_path / "no-corpus"), "--out", str(tmp_path / "run"), "--no-progress", *args]
    with pytest.raises(SystemExit) as info:
        T.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "; " in err and named in err, err
    assert not (tmp_path / "run").exists()


def test_train_command_refuses_a_folder_holding_a_run_in_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    _short_run(run)
    base = ["--corpus", str(tmp_path / "no-corpus"), "--out", str(run), "--model", "gcrn", "--tiny"]
    for extra, expected in (([], "already holds a training run"), (["--resume", "--lr", "0.1", "--steps", "4"],
                                                                   "another configuration")):
        with pytest.raises(SystemExit) as info:
            T.main(base + extra)
        err = capsys.readouterr().err
        assert info.value.code == 2 and err.count("\n") == 1 and expected in err
    with pytest.raises(SystemExit):
        T.main(["--resume", "--out", str(tmp_path / "none")])
    assert "nothing to resume" in capsys.readouterr().err
    with pytest.raises(ValueError, match="steps"):  # --debug: the exception itself
        T.main(["--steps", "0", "--debug"])


def test_commands_print_no_traceback(tmp_path):
    """The real commands, in a subprocess: one line on stderr, exit status 2."""
    for module, args in (("sedemo.train", ["--steps", "0"]), ("sedemo.evaluation", ["--per-cell", "-1"])):
        proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=ROOT,
                              timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def _parse(argv) -> T.TrainConfig:
    """The TrainConfig of a ``python -m sedemo.train`` command line (as ``main`` builds it)."""
    return cli._config(argv)


def _help_examples() -> list[list[str]]:
    """The example command lines and ``e.g. --flag value`` examples of ``--help``."""
    text = cli._parser().format_help()
    examples = [shlex.split(line, comments=True)[3:] for line in text.splitlines()
                if line.strip().startswith("python -m sedemo.train")]
    examples += [shlex.split(e) for e in __import__("re").findall(r"e\.g\. (--[a-z-]+ \S+)", " ".join(text.split()))]
    return examples


def test_help_examples_work_for_the_default_model():
    examples = _help_examples()
    assert any(e[0] == "--set" for e in examples)
    for argv in examples:
        cfg = _parse(argv)
        model = M.build_model(cfg.model, tiny=cfg.tiny, **cfg.model_overrides)  # the help's --set works
        T.make_loss(cfg.loss, cfg.loss_options, cfg.mask_target, model)


BAD_EVAL_ARGS = [(["--per-cell", "-1"], "--per-cell"), (["--threads", "0"], "--threads"),
                 (["--metrics", "mos"], "mos"), (["--metrics"], "--metrics"), (["--baselines", "magic"], "magic"),
                 (["--oracle", "XYZ"], "XYZ"), (["--models", "runs/none/model.pt"], "no such file"),
                 (["--split", "bogus"], "--split"), ([], "no corpus")]


@pytest.mark.parametrize("args,named", BAD_EVAL_ARGS, ids=lambda a: " ".join(a) if isinstance(a, list) else "")
def test_evaluation_command_refuses_bad_values_in_one_line(tmp_path, capsys, args, named):
    from sedemo.evaluation import scoring

    with pytest.raises(SystemExit) as info:
        scoring.main(["--corpus", str(tmp_path / "no-corpus"), "--baselines", "wiener", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and err.startswith("error: ") and named in err, err


def test_evaluation_command_refuses_a_damaged_model_and_a_folder_as_out(tmp_path, capsys):
    from sedemo.evaluation import scoring

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    for args, named in ((["--models", str(bad)], "cannot read it"), (["--out", str(tmp_path)], "is a folder")):
        with pytest.raises(SystemExit):
            scoring.main(["--corpus", str(tmp_path / "no-corpus"), *args])
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and named in err, err
    with pytest.raises(ValueError):
        scoring.main(["--per-cell", "-1", "--debug"])


# --------------------------------------------------------------------------- properties
_INVALID = {
    "steps": st.one_of(st.integers(max_value=0), st.just(2.5), st.just("10"), st.just(True)),
    "batch_size": st.one_of(st.integers(max_value=0), st.just(None)),
    "seed": st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32)),
    "threads": st.one_of(st.integers(max_value=0), st.just(1.5)),
    "lr": st.one_of(st.floats(max_value=-1e-12), st.just(math.nan), st.just(math.inf), st.just("fast")),
    "segment": st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(-math.inf)),
    "grad_clip": st.one_of(st.floats(max_value=-1e-9), st.just(math.nan)),
    "weight_decay": st.one_of(st.floats(max_value=-1e-9), st.just(math.inf)),
    "valid_seconds": st.one_of(st.floats(max_value=0.0), st.just(math.nan)),
    "speed_perturb": st.one_of(st.floats(min_value=0.5, max_value=1e6), st.floats(max_value=-1e-9)),
    "warmup": st.integers(max_value=-1), "n_valid": st.integers(max_value=-1),
    "valid_every": st.integers(max_value=0), "ckpt_every": st.integers(max_value=0),
    "max_train_items": st.integers(max_value=0), "decay_start": st.integers(min_value=2000, max_value=10**9),
    "model": st.text(max_size=8).filter(lambda s: s not in M.MODELS),
    "loss": st.text(max_size=8).filter(lambda s: s not in T.available_losses()),
    "lr_schedule": st.sampled_from(["linear", "", "Cosine"]), "device": st.sampled_from(["gpu", "", "cpu0"]),
    "mask_target": st.sampled_from(["irm", "XYZ"]), "resume": st.sampled_from(["yes", 2, None]),
    "tiny": st.sampled_from([1, "no", None]), "model_overrides": st.sampled_from([{"hidden": 4}, {"nope": 1}, []]),
    "out": st.sampled_from(["", "runs/{x}", "runs/{0}", None]),
}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(_INVALID)).flatmap(lambda k: st.tuples(st.just(k), _INVALID[k])))
def test_invalid_config_values_raise_a_value_error_naming_the_field(field_value):
    name, value = field_value
    with pytest.raises(ValueError) as info:
        T.TrainConfig(**{name: value})
    msg = str(info.value)
    assert (name in msg or name == "model_overrides" and "--set" in msg) and "\n" not in msg and "; " in msg, msg


def test_whole_valid_items_survive_the_command_line():
    """valid_seconds=None used to give ``--valid-seconds None``, which the parser refused."""
    cfg = T.TrainConfig(valid_seconds=None, steps=50)
    assert _parse(shlex.split(cfg.command())[3:]) == cfg


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_config_command_parses_back_to_the_same_config(data):
    steps = data.draw(st.integers(1, 10**6))
    cfg = T.TrainConfig(
        model=data.draw(st.sampled_from(list(M.MODELS))), tiny=data.draw(st.booleans()),
        loss=data.draw(st.sampled_from(["compressed", "si_sdr", "mae", "psa"])), steps=steps,
        decay_start=data.draw(st.integers(0, steps - 1)), batch_size=data.draw(st.integers(1, 512)),
        segment=data.draw(st.floats(1e-3, 60)), lr=data.draw(st.floats(0, 1)),
        seed=data.draw(st.integers(0, 2**32 - 1)), threads=data.draw(st.one_of(st.none(), st.integers(1, 64))),
        valid_seconds=data.draw(st.one_of(st.none(), st.floats(0.01, 100))),
        dynamic_mix=data.draw(st.booleans()), speed_perturb=data.draw(st.sampled_from([0.0, 0.1, 0.25])),
        lr_schedule=data.draw(st.sampled_from(["constant", "cosine"])), progress=data.draw(st.booleans()),
        init_from=data.draw(st.one_of(st.none(), st.just("runs/a b/model.pt"))))
    argv = shlex.split(cfg.command())
    assert argv[:3] == ["python", "-m", "sedemo.train"]
    assert _parse(argv[3:]) == cfg
