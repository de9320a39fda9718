"""The training loop: optimisation, validation, resumable checkpoints and the log.
Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import contextlib
import json
import math
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from sedemo import models as M
from sedemo._utils import atomic_output, torch_threads
from sedemo.models.checkpoints import _plain
from sedemo.dsp.stft import stft
from sedemo.train.config import RESUME_MAY_CHANGE, SCHEDULE_FIELDS, TrainConfig, _CKPT_FORMAT
from sedemo.train.batches import Pair, _check_pairs, load_pairs, sample_batch
from sedemo.train.objectives import _estimate_wave, _model_input, make_loss


# --------------------------------------------------------------------------- helpers
#: The files a run writes in its folder; the only ones ``overwrite`` replaces.
RUN_FILES = ("config.json", "log.jsonl", "checkpoint.pt", "model.pt")


class _Diverged(RuntimeError):
    """The training loss became NaN or infinite (a user-facing error of the command)."""


@contextlib.contextmanager
def _atomic_output(path):
    """:func:`sedemo._utils.atomic_output` (a temporary file beside ``path``, renamed on
    success: a crash leaves the previous file whole), creating the folder first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        yield tmp


def _write_text(path, text: str) -> None:
    with _atomic_output(path) as tmp:
        tmp.write_text(text)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} (--device) was requested but torch sees no CUDA device; "
                         "use --device cpu (or auto)")
    return torch.device(name)


def _lr_lambda(cfg: TrainConfig):
    def f(step):  # step = number of optimizer steps done
        w = min(1.0, (step + 1) / cfg.warmup) if cfg.warmup else 1.0
        if cfg.lr_schedule == "cosine":
            p = min(1.0, max(0, step - cfg.decay_start) / max(1, cfg.steps - cfg.decay_start))
            return w * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))
        return w
    return f


def _valid_set(pairs, n: int, seconds: float | None, sr: int):
    if not pairs or n <= 0:
        return []
    idx = sorted({int(round(i)) for i in np.linspace(0, len(pairs) - 1, min(n, len(pairs)))})
    keep = None if seconds is None else int(seconds * sr)
    return [(pairs[i][0][:keep], pairs[i][1][:keep]) for i in idx]


def _validate(model, loss_fn, vset, cfg: TrainConfig, device) -> dict:
    from sedemo import metrics

    scfg = model.stft_config
    was = model.training
    model.eval()
    losses, sdr, sdr_in, pesq, pesq_in = [], [], [], [], []
    try:
        with torch.no_grad():
            for i, (c, n) in enumerate(vset):
                ct = torch.from_numpy(c)[None].to(device)
                nt = torch.from_numpy(n)[None].to(device)
                batch = _batch_dict(ct, nt, scfg)
                out = model.estimate(_model_input(model, batch))
                losses.append(float(loss_fn(out, batch)))
                est = _estimate_wave(model, out, scfg, ct.shape[-1])[0].double().cpu().numpy()
                sdr.append(metrics.si_sdr(estimate=est, reference=c))
                sdr_in.append(metrics.si_sdr(estimate=n, reference=c))
                if i < cfg.valid_pesq:
                    try:
                        pesq.append(metrics.pesq(estimate=est, reference=c, sample_rate=scfg.sample_rate))
                        pesq_in.append(metrics.pesq(estimate=n, reference=c, sample_rate=scfg.sample_rate))
                    except Exception:  # noqa: BLE001 - PESQ refuses some signals (no speech)
                        pass
    finally:
        model.train(was)
    res = {"valid_loss": float(np.mean(losses)), "valid_si_sdr": float(np.mean(sdr)),
           "valid_si_sdr_noisy": float(np.mean(sdr_in))}
    res["valid_si_sdri"] = res["valid_si_sdr"] - res["valid_si_sdr_noisy"]
    if pesq:
        res["valid_pesq"] = float(np.mean(pesq))
        res["valid_pesq_noisy"] = float(np.mean(pesq_in))
    return res


def _batch_dict(clean: torch.Tensor, noisy: torch.Tensor, scfg) -> dict:
    return {"clean": clean, "noisy": noisy, "clean_spec": stft(clean, scfg),
            "noisy_spec": stft(noisy, scfg), "cfg": scfg}


def _rng_state(rng: np.random.Generator) -> dict:
    return {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state(),
            "python": list(random.getstate()[1]) , "python_version": random.getstate()[0],
            "python_gauss": random.getstate()[2]}


def _set_rng_state(rng: np.random.Generator, st: dict) -> None:
    rng.bit_generator.state = st["numpy"]
    torch.set_rng_state(st["torch"])
    random.setstate((st["python_version"], tuple(st["python"]), st["python_gauss"]))


def _save_checkpoint(path: Path, model, opt, sched, step, rng, seconds, cfg, last_valid, init=None,
                     resumes=None, running=(0.0, 0)):
    extra = {"step": step, "train_config": asdict(cfg), "command": cfg.command(), "valid": last_valid}
    if init:
        extra["init"] = init
    if resumes:
        extra["resumes"] = resumes
    ck = {
        "format": _CKPT_FORMAT,
        "model": M.model_payload(model, extra),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "step": step,
        "seconds": seconds,
        "rng": _rng_state(rng),
        "train_config": _plain(asdict(cfg)),
        "last_valid": _plain(last_valid),
        "resumes": _plain(list(resumes or [])),
        "running": [float(running[0]), int(running[1])],  # the train loss since the last record
    }
    with _atomic_output(path) as tmp:
        torch.save(ck, tmp)


def _init_weights(model, path, device) -> dict:
    """Copy the weights of the model file or training checkpoint ``path`` into ``model``.

    The source must hold the same model name and configuration, unless the model grows
    from it (:meth:`sedemo.models.base.SEModel.new_weights_over`, e.g. a ULCRN with a deep
    filter from the same ULCRN without one): then only the weights it names may be missing
    from the source, and they keep their initial values (recorded as ``grown``). Returns
    what the fine-tuned model records about its start: path, source step, command and,
    if the source was itself fine-tuned, its own ``init`` (the whole chain)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"init_from: {path} does not exist; train the first stage first "
                                "(see scripts/train_models.sh)")
    src = M.load(path, map_location=device)
    have, want = asdict(src.config), asdict(model.config)
    added = model.new_weights_over(src) if src.name == model.name and have != want else None
    if src.name != model.name or (have != want and added is None):
        raise ValueError(f"init_from: {path} holds a {src.name!r} model with config {have}, "
                         f"which does not match {model.name!r} with {want}")
    missing, unexpected = model.load_state_dict(src.state_dict(), strict=added is None)
    if added is not None and (unexpected or any(not k.startswith(added) for k in missing)):
        raise ValueError(f"init_from: {path} cannot grow into this {model.name!r}: missing {missing}, "
                         f"unexpected {unexpected}")
    model.train()
    ex = getattr(src, "extra", {}) or {}
    info = {"path": str(path), "step": ex.get("step"), "command": ex.get("command")}
    if added is not None:
        changed = {k: (have.get(k), want[k]) for k in want if have.get(k) != want[k]}
        info["grown"] = (", ".join(f"{k} {a} -> {b}" for k, (a, b) in changed.items())
                         + f": {', '.join(p.rstrip('.') for p in added)} at its initial values, "
                           "every other weight from the source")
    if ex.get("init"):
        info["init"] = ex["init"]
    return info


def read_log(path) -> list[dict]:
    """The records of a ``log.jsonl`` (a run folder or the file itself), in order.

    Chapter: 05_complex_mapping."""
    path = Path(path)
    if path.is_dir():
        path = path / "log.jsonl"
    records = []
    with open(path) as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}, line {i}, is not a JSON record ({exc.msg}); the file was cut "
                                 "short or edited: remove that line") from None
    return records


#: Learning curves of trained comparisons whose weights are not shipped (package data).
STORED_LOGS = Path(__file__).resolve().parents[1] / "results" / "training"


def stored_log(name: str) -> list[dict]:
    """The committed training log of ``name`` (found by :func:`stored_log_path`). Records
    as :func:`read_log`. Chapter: 05_complex_mapping."""
    return read_log(stored_log_path(name))


def stored_log_path(name: str) -> Path:
    """The path of the committed training log of ``name``: ``sedemo/pretrained/<name>.log.jsonl``
    next to a shipped model, else ``sedemo/results/training/<name>.log.jsonl`` (a comparison
    run whose weights are not shipped, e.g. ``gcrn_ext``); an unknown name is an error listing
    the stored ones. Stages of one model chain with :func:`chain_logs`.
    Chapter: 05_complex_mapping."""
    folders = (M.PRETRAINED_DIR, STORED_LOGS)
    for folder in folders:
        path = folder / f"{name}.log.jsonl"
        if path.is_file():
            return path
    known = sorted(p.name[: -len(".log.jsonl")] for folder in folders for p in folder.glob("*.log.jsonl"))
    raise FileNotFoundError(f"no stored training log for {name!r}; stored: {', '.join(known) or 'none'}")


def _write_log(path, records) -> None:
    """Write the whole log atomically (a crash leaves the previous, complete log)."""
    _write_text(path, "".join(json.dumps(r) + "\n" for r in records))


def chain_logs(runs: Sequence, out=None) -> list[dict]:
    """One log for a model trained in stages (each stage started ``init_from`` the last).

    ``runs``: run folders or ``log.jsonl`` files, first stage first. Each stage's
    ``step`` and ``seconds`` are shifted by the previous stages' last values, and every
    record gets ``"stage"`` (1, 2, ...), so a plot shows one curve over the total number
    of steps. Written to ``out`` (a ``.jsonl`` path) when given. Chapter 5 (the GCRN's
    training curve, ``sedemo/pretrained/gcrn.log.jsonl``).
    Chapter: 05_complex_mapping.
    """
    chained, step0, sec0 = [], 0, 0.0
    for stage, run in enumerate(runs, start=1):
        recs = read_log(run)
        if not recs:
            raise ValueError(f"chain_logs: {run} has no log records")
        for r in recs:
            chained.append({**r, "step": r["step"] + step0, "seconds": round(r.get("seconds", 0.0) + sec0, 3),
                            "stage": stage})
        step0 = chained[-1]["step"]
        sec0 = max(r["seconds"] for r in chained)
    if out is not None:
        _write_log(out, chained)
    return chained


# --------------------------------------------------------------------------- the run folder
_MODE_FLAGS = ("resume", "resume_anyway", "overwrite")


def _config_changes(old: dict, cfg: TrainConfig, step: int) -> tuple[dict, dict]:
    """``(refused, allowed)``: ``field -> [old, new]`` for every field of ``cfg`` that
    differs from the checkpoint's configuration ``old`` after ``step`` steps (see
    :data:`RESUME_MAY_CHANGE`; a field missing from an older checkpoint counts as its default)."""
    from types import SimpleNamespace

    new, default = _plain(asdict(cfg)), _plain(asdict(TrainConfig()))
    refused, allowed = {}, {}
    for name, value in new.items():
        before = old.get(name, default[name])
        if before != value:
            (allowed if name in RESUME_MAY_CHANGE else refused)[name] = [before, value]
    schedule = {k: refused.pop(k) for k in SCHEDULE_FIELDS if k in refused}
    if schedule:
        old_lr = _lr_lambda(SimpleNamespace(**{k: old.get(k, default[k]) for k in SCHEDULE_FIELDS}))
        new_lr = _lr_lambda(cfg)
        same = all(old_lr(s) == new_lr(s) for s in range(step + 1))
        (allowed if same else refused).update(schedule)
    return refused, allowed


def _describe(changes: dict) -> str:
    return ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in changes.items())


def _unfinished_start_of(cfg: TrainConfig, out: Path, present: list) -> bool:
    """Whether ``out`` holds only the beginning of this same run (its ``config.json`` and
    maybe a log, no checkpoint, no model): what ``resume="auto"`` may start again."""
    if not set(present) <= {"config.json", "log.jsonl"} or "config.json" not in present:
        return False
    try:
        old = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(old, dict) and not _config_changes(old, cfg, 0)[0]


def _run_mode(cfg: TrainConfig, out: Path) -> str:
    """``"fresh"`` or ``"resume"``; raises ``ValueError`` where going on would lose a run."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"out (--out) {out} is a file, not a folder; give a folder for the run")
    present = [f for f in RUN_FILES if (out / f).exists()]
    has_ckpt = "checkpoint.pt" in present
    if cfg.resume is True and not has_ckpt:
        raise ValueError(f"nothing to resume: {out} holds no checkpoint.pt; start a new run there without "
                         "--resume, or pass --resume auto to resume only when there is a checkpoint")
    if cfg.resume and has_ckpt:
        return "resume"
    if present and not cfg.overwrite:
        if cfg.resume == "auto" and _unfinished_start_of(cfg, out, present):
            return "fresh"
        raise ValueError(f"{out} already holds a training run ({', '.join(present)}); continue it with --resume, "
                         "train into another --out, or pass --overwrite to replace its files")
    return "fresh"


def _read_checkpoint(path: Path, cfg: TrainConfig, device) -> dict:
    """The training checkpoint ``path``, checked: its format, its model and its step."""
    try:
        ck = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged, foreign or hostile file
        raise ValueError(f"cannot read the checkpoint {path} ({type(exc).__name__}); it is damaged or not a "
                         "sedemo training checkpoint: train into another --out, or --overwrite") from exc
    if not isinstance(ck, dict) or ck.get("format") != _CKPT_FORMAT:
        raise ValueError(f"{path} is not a sedemo training checkpoint; train into another --out, or --overwrite")
    if ck["model"]["name"] != cfg.model:
        raise ValueError(f"{path} holds a {ck['model']['name']!r} model, not {cfg.model!r}; resume with "
                         f"--model {ck['model']['name']}, or train into another --out")
    if int(ck["step"]) > cfg.steps:
        raise ValueError(f"{path} is at step {int(ck['step'])}, past steps={cfg.steps}; resume with "
                         f"--steps {int(ck['step'])} or more")
    return ck


def _check_before_training(cfg: TrainConfig, out: Path, device) -> tuple[str, dict | None, list]:
    """Everything that can be refused before data is loaded or a file is touched: the
    folder, the checkpoint and its configuration, the model and loss, the input files.
    Returns ``(mode, checkpoint or None, resume history)``."""
    mode = _run_mode(cfg, out)
    ck, resumes = None, []
    if mode == "resume":
        ck = _read_checkpoint(out / "checkpoint.pt", cfg, device)
        step = int(ck["step"])
        refused, allowed = _config_changes(dict(ck.get("train_config") or {}), cfg, step)
        if refused and not cfg.resume_anyway:
            raise ValueError(f"{out} was trained with another configuration: {_describe(refused)}; resume with "
                             "the checkpoint's values, pass --resume-anyway to go on with the new ones "
                             "(recorded in config.json), or train into another --out")
        resumes = list(ck.get("resumes") or [])
        changed = {k: v for k, v in {**allowed, **refused}.items() if k not in _MODE_FLAGS}
        if changed:
            resumes.append({"step": step, "changed": changed, **({"anyway": sorted(refused)} if refused else {})})
    elif cfg.init_from and not Path(cfg.init_from).exists():
        raise FileNotFoundError(f"init_from: {cfg.init_from} does not exist; train the first stage first "
                                "(see scripts/train_models.sh)")
    if cfg.export and Path(cfg.export).is_dir():
        raise ValueError(f"export (--export) {cfg.export} is a folder; give a file name such as "
                         f"{Path(cfg.export) / (cfg.model + '.pt')}")
    probe = M.build_model(cfg.model, tiny=cfg.tiny, **cfg.model_overrides)  # before seeding: no effect
    if int(round(cfg.segment * probe.stft_config.sample_rate)) < 1:
        raise ValueError(f"segment (--segment) {cfg.segment} s is shorter than one sample; pass e.g. --segment 2")
    _make_loss(cfg, probe)
    param_groups(probe, cfg.lr, cfg.lr_mult)  # a prefix that matches no parameter
    return mode, ck, resumes


def _make_loss(cfg: TrainConfig, model):
    try:
        return make_loss(cfg.loss, cfg.loss_options, cfg.mask_target, model)
    except TypeError as exc:  # an unknown loss option
        raise ValueError(f"loss_options (--loss-opt) do not fit loss {cfg.loss!r}: {exc}; pass only that "
                         "loss's options") from None


def param_groups(model, lr: float, lr_mult: dict | None = None) -> list[dict]:
    """Adam's parameter groups: every trainable parameter at ``lr`` (the first group),
    and for each ``prefix: factor`` of ``lr_mult`` the parameters whose names start with
    ``prefix`` at ``factor * lr`` (the first matching prefix wins; each group records its
    ``lr_mult``). Raises ``ValueError`` for a prefix that matches no parameter, naming the
    model's top-level modules. Chapter: 05_complex_mapping."""
    lr_mult = dict(lr_mult or {})
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = {prefix: [] for prefix in lr_mult}
    rest = []
    for n, p in named:
        prefix = next((pre for pre in lr_mult if n.startswith(pre)), None)
        (groups[prefix] if prefix is not None else rest).append(p)
    for prefix, params in groups.items():
        if not params:
            if any(n.startswith(prefix) for n, _ in named):
                raise ValueError(f"--lr-mult {prefix}=...: every parameter starting with {prefix!r} is taken by an "
                                 "earlier prefix (the first match wins); drop one of the two, or order them")
            tops = sorted({n.split(".")[0] for n, _ in named})
            raise ValueError(f"--lr-mult {prefix}=...: no parameter of this model starts with {prefix!r}; "
                             f"its modules are {', '.join(tops)}")
    out = [{"params": rest, "lr": lr, "lr_mult": 1.0}]
    out += [{"params": params, "lr": lr * lr_mult[prefix], "lr_mult": float(lr_mult[prefix])}
            for prefix, params in groups.items()]
    return [g for g in out if g["params"]]


def _base_lr(opt) -> float:
    """The schedule's current rate before any ``lr_mult`` factor (what the log records)."""
    g = opt.param_groups[0]
    return g["lr"] / g.get("lr_mult", 1.0)


def _restore(ck: dict, cfg: TrainConfig, model, opt, sched, rng) -> None:
    """Load the checkpoint's weights, optimizer, schedule and random states; the learning
    rate and weight decay are this config's (the checkpoint's own unless ``resume_anyway``
    changed them; then the new schedule applies from the next step)."""
    saved_groups = len(ck.get("optimizer", {}).get("param_groups", []))
    if "optimizer" in ck and saved_groups != len(opt.param_groups):
        raise ValueError(f"the checkpoint's optimizer has {saved_groups} parameter group(s), this config's "
                         f"--lr-mult makes {len(opt.param_groups)}; resume with the checkpoint's --lr-mult "
                         "prefixes (a factor may change with --resume-anyway), or train into another --out")
    mults = [g.get("lr_mult", 1.0) for g in opt.param_groups]  # this config's factors
    try:
        model.load_state_dict(ck["model"]["state_dict"])
        opt.load_state_dict(ck["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ValueError(f"the checkpoint's weights do not fit the model of this config ({str(exc).splitlines()[0]}); "
                         "resume with the checkpoint's --tiny and --set values, or train into another --out") from exc
    sched.load_state_dict(ck["scheduler"])
    _set_rng_state(rng, ck["rng"])
    step, lr_at = int(ck["step"]), _lr_lambda(cfg)
    sched.base_lrs = [cfg.lr * m for m in mults]  # load_state_dict brought the checkpoint's factors back
    for g, base, m in zip(opt.param_groups, sched.base_lrs, mults):
        g["initial_lr"], g["lr"], g["weight_decay"], g["lr_mult"] = base, base * lr_at(step), cfg.weight_decay, m
    sched._last_lr = [g["lr"] for g in opt.param_groups]


# --------------------------------------------------------------------------- training
def train(config: TrainConfig, train_data: Sequence[Pair] | None = None,
          valid_data: Sequence[Pair] | None = None) -> dict:
    """Train ``config.model`` and return ``{"model", "step", "log", "valid", "out", "seconds"}``.

    ``train_data``/``valid_data``: lists of ``(clean, noisy)`` 1-D arrays (NumPy or
    torch) at the model's sample rate; ``None`` loads the corpus splits
    (``config.corpus``; ``train`` and ``valid``). ``valid_data=[]`` skips validation.
    ``"log"`` is the list of log records, ``"valid"`` the last validation metrics,
    ``"model"`` the trained model (training mode; call ``.eval()``). Files go to
    ``config.out_dir`` (see the module docstring); a folder that holds a run is
    refused unless ``config.resume`` or ``config.overwrite``, a resume with another
    configuration unless ``config.resume_anyway`` (see :class:`TrainConfig`), all
    before any data is loaded or any file is touched. Every file is written atomically
    (a crash leaves the previous version whole), so an interrupted run resumes to the
    same result. Chapters 3, 5, 6.
    Chapters: 03_masks, 05_complex_mapping, 06_losses.
    """
    with torch_threads(config.threads):
        return _train(config, train_data, valid_data)


def _train(cfg: TrainConfig, train_data, valid_data) -> dict:
    from tqdm.auto import tqdm

    device = _device(cfg.device)
    out = cfg.out_dir
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.jsonl"
    mode, ck, resumes = _check_before_training(cfg, out, device)

    train_pairs = _check_pairs(
        train_data if train_data is not None
        else load_pairs("train", cfg.corpus, cfg.max_train_items, cfg.progress), "train_data")
    if valid_data is None:
        valid_data = load_pairs("valid", cfg.corpus, cfg.n_valid * 4, False) if cfg.n_valid else []
    valid_pairs = _check_pairs(valid_data, "valid_data") if len(valid_data) else []

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = M.build_model(cfg.model, tiny=cfg.tiny, **cfg.model_overrides).to(device)
    model.train()
    scfg = model.stft_config
    seg_len = int(round(cfg.segment * scfg.sample_rate))
    loss_fn = _make_loss(cfg, model)
    opt = torch.optim.Adam(param_groups(model, cfg.lr, cfg.lr_mult), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    vset = _valid_set(valid_pairs, cfg.n_valid, cfg.valid_seconds, scfg.sample_rate)
    noise_pool = None
    if cfg.noise_bank is not None:
        from sedemo.data.noise_bank import load_bank

        banks = [load_bank(bank, "train") for bank in cfg.noise_bank.split(",")]
        noise_pool = banks[0] if len(banks) == 1 else banks  # several: a bank, then a recording

    step, seconds_before, last_valid, running, n_running = 0, 0.0, {}, 0.0, 0
    init_info = None
    if mode == "resume":
        _restore(ck, cfg, model, opt, sched, rng)
        step, seconds_before, last_valid = int(ck["step"]), float(ck["seconds"]), dict(ck["last_valid"])
        running, n_running = float(ck.get("running", (0.0, 0))[0]), int(ck.get("running", (0.0, 0))[1])
        init_info = ck["model"]["extra"].get("init")  # the chain of a fine-tuned run
        records = [r for r in read_log(log_path) if r.get("step", 0) <= step] if log_path.exists() else []
    else:
        if cfg.init_from:
            init_info = _init_weights(model, cfg.init_from, device)
        records = []
        for name in ("log.jsonl", "checkpoint.pt", "model.pt"):  # this run's own files (see _run_mode)
            (out / name).unlink(missing_ok=True)
    config_record = {**asdict(cfg), "command": cfg.command(), **({"resumes": resumes} if resumes else {})}
    _write_text(out / "config.json", json.dumps(_plain(config_record), indent=1))
    if mode == "resume":
        _write_log(log_path, records)  # cut back to the checkpoint's step

    t0 = time.perf_counter()

    def elapsed():
        return seconds_before + time.perf_counter() - t0

    def log(rec):
        records.append(rec)
        _write_log(log_path, records)

    bar = tqdm(total=cfg.steps, initial=step, disable=not cfg.progress, desc=f"train {cfg.model}")
    while step < cfg.steps:
        clean, noisy = sample_batch(train_pairs, rng, cfg.batch_size, seg_len, dynamic_mix=cfg.dynamic_mix,
                                    speed_perturb=cfg.speed_perturb, snr_range=cfg.snr_range,
                                    level_range=cfg.level_range, channel=cfg.channel,
                                    sample_rate=scfg.sample_rate, reverb=cfg.reverb, noise_pool=noise_pool,
                                    noise_pool_p=cfg.noise_bank_p, noise_eq=cfg.noise_eq, tones=cfg.tones,
                                    calls=cfg.calls, speech_highpass=cfg.speech_highpass, clicks=cfg.clicks)
        batch = _batch_dict(torch.from_numpy(clean).to(device), torch.from_numpy(noisy).to(device), scfg)
        out_d = model.estimate(_model_input(model, batch))
        loss = loss_fn(out_d, batch)
        if not torch.isfinite(loss):
            raise _Diverged(f"step {step + 1}: the loss is {float(loss)}; lower --lr or check the data (the "
                            "last checkpoint is kept: --resume --resume-anyway --lr LOWER goes on from it)")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip and cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        step += 1
        running += loss.item()
        n_running += 1
        bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.steps:
            log({"step": step, "kind": "train", "train_loss": running / n_running,
                 "lr": _base_lr(opt), "seconds": round(elapsed(), 3)})
            bar.set_postfix(loss=f"{running / n_running:.4g}")
            running, n_running = 0.0, 0
        if vset and (step % cfg.valid_every == 0 or step == cfg.steps):
            last_valid = _validate(model, loss_fn, vset, cfg, device)
            log({"step": step, "kind": "valid", **last_valid, "seconds": round(elapsed(), 3)})
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            _save_checkpoint(ckpt_path, model, opt, sched, step, rng, elapsed(), cfg, last_valid, init_info,
                             resumes, (running, n_running))
    bar.close()

    extra = {"step": step, "command": cfg.command(), "train_config": asdict(cfg), "valid": last_valid,
             "seconds": round(elapsed(), 1), "n_train_items": len(train_pairs),
             "parameters": M.count_parameters(model)}
    if init_info:
        extra["init"] = init_info
    if resumes:
        extra["resumes"] = resumes
    M.save(model, out / "model.pt", extra)  # atomic
    if cfg.export:
        M.save(model, cfg.export, extra)
    return {"model": model, "step": step, "log": records, "valid": last_valid, "out": str(out),
            "seconds": elapsed()}
