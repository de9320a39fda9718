"""The training loop: optimisation, validation, resumable checkpoints and the log.
Chapter: 05_complex_mapping.
"""
from __future__ import annotations

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
from sedemo._utils import torch_threads
from sedemo.models.checkpoints import _plain
from sedemo.dsp.stft import stft
from sedemo.train.config import TrainConfig, _CKPT_FORMAT
from sedemo.train.batches import Pair, _check_pairs, load_pairs, sample_batch
from sedemo.train.objectives import _estimate_wave, _model_input, make_loss


# --------------------------------------------------------------------------- helpers
def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was requested but torch sees no CUDA device; use --device cpu")
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


def _save_checkpoint(path: Path, model, opt, sched, step, rng, seconds, cfg, last_valid, init=None):
    extra = {"step": step, "train_config": asdict(cfg), "command": cfg.command(), "valid": last_valid}
    if init:
        extra["init"] = init
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
    }
    tmp = path.with_suffix(".tmp")
    torch.save(ck, tmp)
    tmp.replace(path)


def _init_weights(model, path, device) -> dict:
    """Copy the weights of the model file or training checkpoint ``path`` into ``model``.

    The source must hold the same model name and configuration. Returns what the
    fine-tuned model records about its start: path, source step, command and, if the
    source was itself fine-tuned, its own ``init`` (the whole chain)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"init_from: {path} does not exist; train the first stage first "
                                "(see scripts/train_models.sh)")
    src = M.load(path, map_location=device)
    if src.name != model.name or asdict(src.config) != asdict(model.config):
        raise ValueError(f"init_from: {path} holds a {src.name!r} model with config {asdict(src.config)}, "
                         f"which does not match {model.name!r} with {asdict(model.config)}")
    model.load_state_dict(src.state_dict())
    model.train()
    ex = getattr(src, "extra", {}) or {}
    info = {"path": str(path), "step": ex.get("step"), "command": ex.get("command")}
    if ex.get("init"):
        info["init"] = ex["init"]
    return info


def read_log(path) -> list[dict]:
    """The records of a ``log.jsonl`` (a run folder or the file itself), in order.

    Chapter: 05_complex_mapping."""
    path = Path(path)
    if path.is_dir():
        path = path / "log.jsonl"
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _truncate_log(path: Path, step: int) -> None:
    if not path.exists():
        return
    _write_log(path, [r for r in read_log(path) if r.get("step", 0) <= step])


def _write_log(path, records) -> None:
    Path(path).write_text("".join(json.dumps(r) + "\n" for r in records))


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


# --------------------------------------------------------------------------- training
def train(config: TrainConfig, train_data: Sequence[Pair] | None = None,
          valid_data: Sequence[Pair] | None = None) -> dict:
    """Train ``config.model`` and return ``{"model", "step", "log", "valid", "out", "seconds"}``.

    ``train_data``/``valid_data``: lists of ``(clean, noisy)`` 1-D arrays (NumPy or
    torch) at the model's sample rate; ``None`` loads the corpus splits
    (``config.corpus``; ``train`` and ``valid``). ``valid_data=[]`` skips validation.
    ``"log"`` is the list of log records, ``"valid"`` the last validation metrics,
    ``"model"`` the trained model (training mode; call ``.eval()``). Files go to
    ``config.out_dir`` (see the module docstring). Chapters 3, 5, 6.
    Chapters: 03_masks, 05_complex_mapping, 06_losses.
    """
    with torch_threads(config.threads):
        return _train(config, train_data, valid_data)


def _train(cfg: TrainConfig, train_data, valid_data) -> dict:
    from tqdm.auto import tqdm

    device = _device(cfg.device)
    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.jsonl"

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
    loss_fn = make_loss(cfg.loss, cfg.loss_options, cfg.mask_target, model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    vset = _valid_set(valid_pairs, cfg.n_valid, cfg.valid_seconds, scfg.sample_rate)

    step, seconds_before, last_valid = 0, 0.0, {}
    init_info = None
    if cfg.resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=device, weights_only=True)
        if ck.get("format") != _CKPT_FORMAT:
            raise ValueError(f"{ckpt_path} is not a sedemo training checkpoint")
        if ck["model"]["name"] != cfg.model:
            raise ValueError(f"{ckpt_path} holds a {ck['model']['name']!r} model, not {cfg.model!r}")
        model.load_state_dict(ck["model"]["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        _set_rng_state(rng, ck["rng"])
        step, seconds_before, last_valid = int(ck["step"]), float(ck["seconds"]), dict(ck["last_valid"])
        init_info = ck["model"]["extra"].get("init")  # the chain of a fine-tuned run
        _truncate_log(log_path, step)
    else:
        if log_path.exists():
            log_path.unlink()  # a fresh run: a fresh log
        if cfg.init_from:
            init_info = _init_weights(model, cfg.init_from, device)
    (out / "config.json").write_text(json.dumps({**asdict(cfg), "command": cfg.command()}, indent=1))

    t0 = time.perf_counter()

    def elapsed():
        return seconds_before + time.perf_counter() - t0

    records = read_log(log_path) if log_path.exists() else []

    def log(rec):
        records.append(rec)
        with open(log_path, "a") as fh:
            fh.write(json.dumps(rec) + "\n")

    running, n_running = 0.0, 0
    bar = tqdm(total=cfg.steps, initial=step, disable=not cfg.progress, desc=f"train {cfg.model}")
    while step < cfg.steps:
        clean, noisy = sample_batch(train_pairs, rng, cfg.batch_size, seg_len, cfg.dynamic_mix,
                                    cfg.speed_perturb)
        batch = _batch_dict(torch.from_numpy(clean).to(device), torch.from_numpy(noisy).to(device), scfg)
        out_d = model.estimate(_model_input(model, batch))
        loss = loss_fn(out_d, batch)
        if not torch.isfinite(loss):
            raise RuntimeError(f"step {step + 1}: the loss is {float(loss)}; lower --lr or check the data")
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
                 "lr": opt.param_groups[0]["lr"], "seconds": round(elapsed(), 3)})
            bar.set_postfix(loss=f"{running / n_running:.4g}")
            running, n_running = 0.0, 0
        if vset and (step % cfg.valid_every == 0 or step == cfg.steps):
            last_valid = _validate(model, loss_fn, vset, cfg, device)
            log({"step": step, "kind": "valid", **last_valid, "seconds": round(elapsed(), 3)})
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            _save_checkpoint(ckpt_path, model, opt, sched, step, rng, elapsed(), cfg, last_valid, init_info)
    bar.close()

    extra = {"step": step, "command": cfg.command(), "train_config": asdict(cfg), "valid": last_valid,
             "seconds": round(elapsed(), 1), "n_train_items": len(train_pairs),
             "parameters": M.count_parameters(model)}
    if init_info:
        extra["init"] = init_info
    M.save(model, out / "model.pt", extra)
    if cfg.export:
        M.save(model, cfg.export, extra)
    return {"model": model, "step": step, "log": records, "valid": last_valid, "out": str(out),
            "seconds": elapsed()}


