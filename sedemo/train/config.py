"""What a training run is: :class:`TrainConfig`, data, not code, with the command line
that reproduces it. Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field, fields
from pathlib import Path


from sedemo import models as M
from sedemo.train.batches import speed_factors



_CKPT_FORMAT = "sedemo-train-checkpoint"


@dataclass
class TrainConfig:
    """Everything a training run needs (``python -m sedemo.train --help`` lists the same).

    ``model``/``model_overrides``/``tiny``: what :func:`sedemo.models.build_model`
    builds. ``loss``/``loss_options``/``mask_target``: see :func:`make_loss`.
    ``steps``, ``batch_size``, ``segment`` (seconds), ``lr``, ``lr_schedule``
    (``"constant"`` or ``"cosine"`` to ``0.05*lr`` at ``steps``; with ``"cosine"``
    resume with the same ``steps``), ``decay_start`` (the cosine starts here; before
    it the rate is constant, so a constant run resumed with ``--lr-schedule cosine
    --decay-start STEP`` is the same run as one trained so from scratch),
    ``warmup`` (linear warm-up steps),
    ``grad_clip`` (max gradient norm, 0: off), ``weight_decay``, ``seed``,
    ``threads`` (``torch.set_num_threads`` during the run; None: unchanged),
    ``device`` (``"cpu"``, ``"cuda"`` or ``"auto"``), ``valid_every``,
    ``ckpt_every``, ``log_every`` (steps per train-loss record), ``n_valid`` (fixed
    valid items), ``valid_seconds`` (crop of each valid item, None: whole),
    ``valid_pesq`` (items that also get PESQ), ``out`` (folder; ``{model}`` is
    replaced), ``resume`` (continue from ``out/checkpoint.pt``), ``corpus`` (corpus
    root, None: the default), ``max_train_items``, ``dynamic_mix``, ``speed_perturb``
    (random speed of each clean crop, see :func:`sample_batch`), ``export``
    (also write the final model there), ``progress`` (tqdm bar), ``init_from`` (a
    model file of :func:`sedemo.models.save` or a training checkpoint whose weights
    start this run: fine-tuning with a fresh optimizer and schedule; the source's
    training command is kept in the result's metadata so the chain stays
    reproducible; ignored when ``resume`` finds a checkpoint).
    Chapter: 05_complex_mapping.
    """

    model: str = "gcrn"
    model_overrides: dict = field(default_factory=dict)
    tiny: bool = False
    loss: str = "compressed"
    loss_options: dict = field(default_factory=dict)
    mask_target: str = "IRM"
    steps: int = 2000
    batch_size: int = 8
    segment: float = 2.0
    lr: float = 1e-3
    lr_schedule: str = "constant"
    decay_start: int = 0
    warmup: int = 0
    grad_clip: float = 5.0
    weight_decay: float = 0.0
    seed: int = 0
    threads: int | None = None
    device: str = "cpu"
    valid_every: int = 250
    ckpt_every: int = 250
    log_every: int = 10
    n_valid: int = 8
    valid_seconds: float | None = 4.0
    valid_pesq: int = 0
    out: str = "runs/{model}"
    resume: bool = False
    corpus: str | None = None
    max_train_items: int | None = None
    dynamic_mix: bool = False
    speed_perturb: float = 0.0
    export: str | None = None
    progress: bool = True
    init_from: str | None = None

    def __post_init__(self):
        if self.model not in M.MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of: {', '.join(M.MODELS)}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if not 0 <= self.decay_start < self.steps:
            raise ValueError(f"decay_start must be in [0, steps={self.steps}), got {self.decay_start}")
        for k in ("steps", "batch_size", "valid_every", "ckpt_every", "log_every"):
            if getattr(self, k) < 1:
                raise ValueError(f"{k} must be >= 1, got {getattr(self, k)}")
        if self.segment <= 0:
            raise ValueError(f"segment must be > 0 seconds, got {self.segment}")
        speed_factors(self.speed_perturb)  # raises on a value outside [0, 0.5)

    @property
    def out_dir(self) -> Path:
        return Path(self.out.format(model=self.model))

    def command(self) -> str:
        """The equivalent ``python -m sedemo.train ...`` command line (non-default fields)."""
        default = TrainConfig(model=self.model)
        args = ["python", "-m", "sedemo.train", "--model", self.model]
        for f in fields(self):
            v, d = getattr(self, f.name), getattr(default, f.name)
            if f.name == "model" or v == d:
                continue
            flag = "--" + f.name.replace("_", "-")
            if f.name in ("model_overrides", "loss_options"):
                opt = "--set" if f.name == "model_overrides" else "--loss-opt"
                for k, val in v.items():
                    args += [opt, f"{k}={val!r}"]
            elif isinstance(v, bool):
                args.append(flag if v else "--no-" + f.name.replace("_", "-"))
            else:
                args += [flag, str(v)]
        return " ".join(shlex.quote(a) for a in args)


