"""What a training run is: :class:`TrainConfig`, data, not code, with the command line
that reproduces it, and the checks that refuse a bad value before anything is trained
or written. Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import math
import numbers
import shlex
from dataclasses import dataclass, field, fields
from pathlib import Path


from sedemo import models as M
from sedemo.train.batches import speed_factors



_CKPT_FORMAT = "sedemo-train-checkpoint"

#: Fields that may differ when a run is resumed: how and where it runs, and how often it
#: logs, validates and checkpoints; none of them changes the trained weights. ``steps``,
#: ``lr_schedule``, ``decay_start`` and ``warmup`` may also change, as long as the
#: learning rate of every step already done stays the same (a constant run made longer, or
#: continued with ``--lr-schedule cosine --decay-start STEP``). Any other difference is
#: refused unless ``resume_anyway``.
RESUME_MAY_CHANGE = ("threads", "device", "progress", "export", "valid_every", "ckpt_every", "log_every",
                     "resume", "resume_anyway", "overwrite")
#: The fields of the learning-rate schedule (see :data:`RESUME_MAY_CHANGE`).
SCHEDULE_FIELDS = ("steps", "lr_schedule", "decay_start", "warmup")

_MAX_SEED = 2**32 - 1  # numpy.random.seed's limit
# field -> (minimum, what to pass), for the integer fields
_INTS = {"steps": 1, "batch_size": 1, "valid_every": 1, "ckpt_every": 1, "log_every": 1, "warmup": 0,
         "decay_start": 0, "seed": 0, "n_valid": 0, "valid_pesq": 0}
_OPTIONAL_INTS = {"threads": 1, "max_train_items": 1}  # None: unchanged / every item
_BOOLS = ("tiny", "dynamic_mix", "progress", "overwrite", "resume_anyway")
_STRS = ("model", "loss", "mask_target", "lr_schedule", "device")
_OPTIONAL_STRS = ("corpus", "export", "init_from", "noise_bank")
#: the dict fields and the repeatable KEY=VALUE flag that fills each
_DICT_FLAGS = {"model_overrides": "--set", "loss_options": "--loss-opt", "lr_mult": "--lr-mult"}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _bad(name: str, rule: str, value, fix: str | None = None) -> ValueError:
    if fix is None:
        default = {f.name: f.default for f in fields(TrainConfig)}.get(name)
        fix = f"pass e.g. {_flag(name)} {default}" if default is not None else f"pass a valid {_flag(name)}"
    return ValueError(f"{name} ({_flag(name)}) must be {rule}, got {value!r}; {fix}")


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


@dataclass
class TrainConfig:
    """Everything a training run needs (``python -m sedemo.train --help`` lists the same).

    ``model``/``model_overrides``/``tiny``: what :func:`sedemo.models.build_model`
    builds. ``loss``/``loss_options``/``mask_target``: see :func:`make_loss`.
    ``steps``, ``batch_size``, ``segment`` (seconds), ``lr``, ``lr_mult``
    (``{prefix: factor}``: the parameters whose names start with a prefix train at
    ``factor * lr``, e.g. ``{"df_head": 10}`` for a new head grown on a converged model;
    the first matching prefix wins; the schedule scales every group alike), ``lr_schedule``
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
    replaced), ``corpus`` (corpus root, None: the default), ``max_train_items``,
    ``dynamic_mix``, ``speed_perturb``
    (random speed of each clean crop), ``snr_range`` (``(lo, hi)`` dB: the SNR of each
    training crop drawn uniformly), ``level_range`` (``(lo, hi)`` dBFS: the mixture's
    level), ``channel`` (probability of a random tilt/band-limit), ``reverb`` (probability
    of a simulated room; needs pyroomacoustics), ``noise_bank`` (a folder built by
    ``python -m sedemo.data noise-bank``, ``noise-bank-extra`` or ``noise-bank-nature``, or several separated by
    commas: their ``train/`` noise replaces the noise of a share ``noise_bank_p`` of the
    dynamically mixed rows), ``noise_eq`` (probability of a random band boost of the noise
    alone) ``tones`` (probability of steady tones added to the noise), ``calls`` (probability of
    synthetic animal calls added to it) and ``clicks`` (probability of impulsive noise added to
    it), ``speech_highpass`` (Hz, 0: off: a zero-phase high-pass
    of the clean speech before mixing, so the target holds no low-frequency rumble); the augmentations of
    :func:`sample_batch`. ``export``
    (also write the final model there), ``progress`` (tqdm bar), ``init_from`` (a
    model file of :func:`sedemo.models.save` or a training checkpoint whose weights
    start this run: fine-tuning with a fresh optimizer and schedule; the source's
    training command is kept in the result's metadata so the chain stays
    reproducible; ignored when ``resume`` finds a checkpoint).

    What happens to ``out`` (nothing there is lost by accident):

    * ``resume=False`` (default): a new run. A folder that already holds a run
      (``config.json``, ``log.jsonl``, ``checkpoint.pt`` or ``model.pt``) is refused,
      unless ``overwrite=True``, which replaces those four files and nothing else.
    * ``resume=True``: continue from ``out/checkpoint.pt``; an error when there is none.
      The checkpoint's configuration must equal this one, except for the fields of
      :data:`RESUME_MAY_CHANGE` and a schedule change that keeps the learning rate of
      the steps already done; any other difference is refused, naming the fields,
      unless ``resume_anyway=True`` (then the new values are used and every change is
      recorded under ``"resumes"`` in ``config.json`` and in the model's metadata).
    * ``resume="auto"``: resume when there is a checkpoint, start a new run when the
      folder holds no run (or only the start of this same run, without a
      checkpoint): the mode for scripts that rerun the same command.

    Every value is checked here: a bad one raises ``ValueError`` naming the field, its
    command-line flag and what to pass instead.
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
    lr_mult: dict = field(default_factory=dict)
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
    resume: bool | str = False
    corpus: str | None = None
    max_train_items: int | None = None
    dynamic_mix: bool = False
    speed_perturb: float = 0.0
    snr_range: tuple | None = None
    level_range: tuple | None = None
    channel: float = 0.0
    reverb: float = 0.0
    noise_bank: str | None = None
    noise_bank_p: float = 0.5
    noise_eq: float = 0.0
    tones: float = 0.0
    calls: float = 0.0
    clicks: float = 0.0
    speech_highpass: float = 0.0
    export: str | None = None
    progress: bool = True
    init_from: str | None = None
    overwrite: bool = False
    resume_anyway: bool = False

    def __post_init__(self):
        self._check_types()
        if self.model not in M.MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of: {', '.join(M.MODELS)}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise _bad("lr_schedule", "'constant' or 'cosine'", self.lr_schedule)
        for k, lo in _INTS.items():
            if getattr(self, k) < lo:
                raise _bad(k, f"an integer >= {lo}", getattr(self, k))
        for k, lo in _OPTIONAL_INTS.items():
            if getattr(self, k) is not None and getattr(self, k) < lo:
                raise _bad(k, f"an integer >= {lo} (or None)", getattr(self, k),
                           f"pass {_flag(k)} {lo} or more, or leave it out")
        if self.seed > _MAX_SEED:
            raise _bad("seed", f"an integer in [0, {_MAX_SEED}]", self.seed)
        if not self.decay_start < self.steps:
            raise _bad("decay_start", f"in [0, steps={self.steps})", self.decay_start)
        self._check_floats()
        speed_factors(self.speed_perturb)  # raises on a value outside [0, 0.5)
        for k in ("snr_range", "level_range"):
            v = getattr(self, k)
            if v is None:
                continue
            if isinstance(v, list):
                v = tuple(v)
                object.__setattr__(self, k, v)
            if not (isinstance(v, tuple) and len(v) == 2 and all(_is_real(x) and math.isfinite(x) for x in v)
                    and v[0] <= v[1]):
                example = "-5 20" if k == "snr_range" else "-40 -10"
                raise _bad(k, "two finite numbers LO <= HI (or None)", v, f"pass e.g. {_flag(k)} {example}")
        if self.noise_bank is not None and not self.dynamic_mix:
            raise ValueError("noise_bank (--noise-bank) replaces the noise of dynamically mixed rows; "
                             "add --dynamic-mix, or leave --noise-bank out")
        if self.noise_bank is not None and self.snr_range is None:
            raise ValueError("noise_bank (--noise-bank) needs snr_range: the bank's recordings have no SNR of their "
                             "own; add e.g. --snr-range -5 20")
        for k in ("channel", "reverb", "noise_bank_p", "noise_eq", "tones", "calls", "clicks"):
            if not (_is_real(getattr(self, k)) and 0.0 <= getattr(self, k) <= 1.0):
                raise _bad(k, "a probability in [0, 1]", getattr(self, k), f"pass e.g. {_flag(k)} 0.5, or 0: off")
        if self.noise_bank is None and self.noise_bank_p not in (
                0.0, type(self).__dataclass_fields__["noise_bank_p"].default):
            raise ValueError(f"noise_bank_p (--noise-bank-p {self.noise_bank_p:g}) is the share of rows whose noise "
                             "comes from a noise bank, and no bank is given: add --noise-bank DIR, or leave "
                             "--noise-bank-p out")
        if not (_is_real(self.speech_highpass) and (self.speech_highpass == 0 or 20.0 <= self.speech_highpass <= 500.0)):
            raise _bad("speech_highpass", "0 (off) or a cutoff in [20, 500] Hz", self.speech_highpass,
                       f"pass e.g. {_flag('speech_highpass')} 70, or 0: off")
        if self.reverb:
            try:
                import pyroomacoustics  # noqa: F401
            except ImportError:
                raise ValueError("reverb (--reverb) needs pyroomacoustics: pip install pyroomacoustics "
                                 "(or pip install 'sedemo[train]'), or pass --reverb 0") from None
        self._check_names()
        if self.overwrite and self.resume:
            raise ValueError("overwrite and resume contradict each other; pass --resume to continue "
                             "the run or --overwrite to replace it, not both")
        if self.resume_anyway and not self.resume:
            raise ValueError("resume_anyway (--resume-anyway) only applies with resume; add --resume")

    def _check_types(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in _INTS and not _is_int(v):
                raise _bad(f.name, "an integer", v)
            if f.name in _OPTIONAL_INTS and v is not None and not _is_int(v):
                raise _bad(f.name, "an integer (or None)", v)
            if f.name in _BOOLS and not isinstance(v, bool):
                raise _bad(f.name, "True or False", v, f"pass {_flag(f.name)} or --no-{_flag(f.name)[2:]}")
            if f.name in _STRS and not (isinstance(v, str) and v):
                raise _bad(f.name, "a non-empty string", v)
            if f.name in _OPTIONAL_STRS and v is not None and not (isinstance(v, (str, Path)) and str(v)):
                raise _bad(f.name, "a non-empty path (or None)", v)
            if f.name == "out" and not (isinstance(v, (str, Path)) and str(v)):
                raise _bad(f.name, "a non-empty folder path", v)
            if f.name in _DICT_FLAGS and not isinstance(v, dict):
                raise _bad(f.name, "a dict", v, f"pass KEY=VALUE pairs ({_DICT_FLAGS[f.name]})")
        if self.resume not in (False, True, "auto") or not isinstance(self.resume, (bool, str)):
            raise _bad("resume", "False, True or 'auto'", self.resume, "pass --resume or --resume auto")

    def _check_floats(self):
        rules = {"segment": (0.0, False), "lr": (0.0, True), "grad_clip": (0.0, True),
                 "weight_decay": (0.0, True), "speed_perturb": (0.0, True), "valid_seconds": (0.0, False)}
        for k, (lo, closed) in rules.items():
            v = getattr(self, k)
            if k == "valid_seconds" and v is None:
                continue
            rule = f"a finite number {'>=' if closed else '>'} {lo:g}"
            if not _is_real(v) or not math.isfinite(v) or v < lo or (v == lo and not closed):
                raise _bad(k, rule, v)
        for prefix, factor in self.lr_mult.items():
            if not (isinstance(prefix, str) and prefix) or not _is_real(factor) or not math.isfinite(factor) \
                    or factor <= 0:
                raise _bad("lr_mult", "PREFIX=FACTOR pairs with a parameter-name prefix and a finite factor > 0",
                           {prefix: factor}, "pass e.g. --lr-mult df_head=10")
        if self.speed_perturb >= 0.5:
            raise _bad("speed_perturb", "in [0, 0.5)", self.speed_perturb, "pass e.g. --speed-perturb 0.1, or 0: off")

    def _check_names(self):
        from sedemo import masks
        from sedemo.train.objectives import available_losses

        if self.loss not in available_losses():
            raise ValueError(f"unknown loss {self.loss!r} (--loss); choose one of: "
                             f"{', '.join(available_losses())}")
        if self.mask_target not in masks.ORACLE_MASKS:
            raise _bad("mask_target", f"one of {', '.join(masks.ORACLE_MASKS)}", self.mask_target)
        if self.device != "auto":
            import torch

            try:
                torch.device(self.device)
            except (RuntimeError, ValueError):
                raise _bad("device", "'cpu', 'cuda', 'cuda:N' or 'auto'", self.device) from None
        try:
            M.config_for(self.model, tiny=self.tiny, **self.model_overrides)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"model_overrides (--set) do not fit model {self.model!r}: {exc}; "
                             "pass only fields of that model's config") from None
        try:
            self.out_dir
        except (KeyError, IndexError, ValueError, AttributeError):
            raise _bad("out", "a folder path whose only {...} field is {model}", self.out) from None

    @property
    def out_dir(self) -> Path:
        return Path(str(self.out).format(model=self.model))

    def command(self) -> str:
        """The equivalent ``python -m sedemo.train ...`` command line (non-default fields
        that define the run; ``resume``, ``resume_anyway`` and ``overwrite`` say how a
        folder is used, not what is trained, and are left out)."""
        default = TrainConfig(model=self.model)
        args = ["python", "-m", "sedemo.train", "--model", self.model]
        for f in fields(self):
            v, d = getattr(self, f.name), getattr(default, f.name)
            if f.name in ("model", "resume", "resume_anyway", "overwrite") or v == d:
                continue
            flag = _flag(f.name)
            if f.name in _DICT_FLAGS:
                for k, val in v.items():
                    args += [_DICT_FLAGS[f.name], f"{k}={val!r}"]
            elif isinstance(v, (tuple, list)):
                args += [flag, *(str(x) for x in v)]
            elif isinstance(v, bool):
                args.append(flag if v else "--no-" + f.name.replace("_", "-"))
            else:
                args += [flag, str(v)]
        return " ".join(shlex.quote(a) for a in args)
