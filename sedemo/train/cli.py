"""The command line: ``python -m sedemo.train --model gcrn --steps 4000 --out runs/gcrn``.

A user error (a bad value, a folder that holds another run, a missing file) prints one
line ``error: <what>; <what to do>`` to stderr and exits with status 2, without a
traceback unless ``--debug``. Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys


from sedemo import models as M
from sedemo._cli import Parser, run
from sedemo.train.config import _DICT_FLAGS, TrainConfig
from sedemo.train.objectives import available_losses
from sedemo.train.loop import train

_EPILOG = """examples:
  python -m sedemo.train --model gcrn --steps 4000 --out runs/gcrn
  python -m sedemo.train --model gcrn --steps 6000 --out runs/gcrn --resume   # continue it
  python -m sedemo.train --model gcrn --tiny --steps 20 --set lstm_hidden=16 --out runs/try

A folder that holds a run is refused unless --resume (which refuses another
configuration unless --resume-anyway), --resume auto (resume when there is a
checkpoint, else start) or --overwrite (replaces the run's own files only)."""


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the help, and the examples kept as written."""


# --------------------------------------------------------------------------- CLI
def _kv(text: str):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    k, v = text.split("=", 1)
    try:
        val = ast.literal_eval(v)
    except (ValueError, SyntaxError):
        val = v
    return k.strip(), val


def _resume(text: str):
    if text.lower() == "auto":
        return "auto"
    raise argparse.ArgumentTypeError(f"--resume takes no value or 'auto', got {text!r}")


def _float_or_none(text: str):
    return None if text.lower() == "none" else float(text)


def _parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = Parser(prog="python -m sedemo.train", description=__doc__.split("\n")[0], epilog=_EPILOG,
                formatter_class=_Formatter)
    p.add_argument("--model", default=d.model, choices=list(M.MODELS))
    p.add_argument("--set", dest="model_overrides", type=_kv, action="append", default=[],
                   metavar="FIELD=VALUE", help="override a model config field, e.g. --set lstm_hidden=128 "
                   "(the fields depend on --model; a wrong one is named with the valid ones)")
    p.add_argument("--tiny", action=argparse.BooleanOptionalAction, default=d.tiny,
                   help="the test-sized model config")
    p.add_argument("--loss", default=d.loss, help="one of: " + ", ".join(available_losses()))
    p.add_argument("--loss-opt", dest="loss_options", type=_kv, action="append", default=[],
                   metavar="KEY=VALUE", help="loss option, e.g. --loss-opt c=0.5")
    p.add_argument("--lr-mult", dest="lr_mult", type=_kv, action="append", default=[],
                   metavar="PREFIX=FACTOR", help="train the parameters whose names start with PREFIX at "
                   "FACTOR times --lr, e.g. --lr-mult df_head=10 (repeatable; the first matching prefix wins)")
    p.add_argument("--mask-target", default=d.mask_target, help="oracle mask for --loss ma")
    for name, typ in (("steps", int), ("batch_size", int), ("segment", float), ("lr", float),
                      ("warmup", int), ("decay_start", int), ("grad_clip", float), ("weight_decay", float), ("seed", int),
                      ("valid_every", int), ("ckpt_every", int), ("log_every", int), ("n_valid", int),
                      ("valid_pesq", int)):
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=getattr(d, name))
    p.add_argument("--lr-schedule", default=d.lr_schedule, choices=("constant", "cosine"))
    p.add_argument("--threads", type=int, default=d.threads, help="torch.set_num_threads")
    p.add_argument("--device", default=d.device, help="cpu, cuda or auto")
    p.add_argument("--valid-seconds", type=_float_or_none, default=d.valid_seconds,
                   help="crop of each valid item (None: whole items)")
    p.add_argument("--out", default=d.out, help="run folder ({model} is replaced)")
    p.add_argument("--resume", nargs="?", const=True, default=d.resume, type=_resume, metavar="auto",
                   help="continue from OUT/checkpoint.pt (an error if there is none); "
                   "'--resume auto': resume if there is one, else start")
    p.add_argument("--no-resume", dest="resume", action="store_const", const=False)
    p.add_argument("--resume-anyway", action=argparse.BooleanOptionalAction, default=d.resume_anyway,
                   help="with --resume: go on even if this configuration differs from the checkpoint's "
                   "(the changes are recorded in config.json)")
    p.add_argument("--overwrite", action=argparse.BooleanOptionalAction, default=d.overwrite,
                   help="start a new run in a folder that holds one, replacing its config.json, "
                   "log.jsonl, checkpoint.pt and model.pt (nothing else)")
    p.add_argument("--corpus", default=d.corpus, help="corpus root (default: the book's corpus)")
    p.add_argument("--max-train-items", type=int, default=d.max_train_items)
    p.add_argument("--dynamic-mix", action=argparse.BooleanOptionalAction, default=d.dynamic_mix)
    p.add_argument("--speed-perturb", type=float, default=d.speed_perturb,
                   help="play each clean crop at a random speed in [1-S, 1+S] (steps of 0.05), "
                   "e.g. 0.1; 0: off")
    p.add_argument("--snr-range", type=float, nargs=2, default=d.snr_range, metavar=("LO", "HI"),
                   help="draw the SNR of each training crop uniformly in [LO, HI] dB")
    p.add_argument("--level-range", type=float, nargs=2, default=d.level_range, metavar=("LO", "HI"),
                   help="draw the mixture level of each crop uniformly in [LO, HI] dBFS")
    p.add_argument("--channel", type=float, default=d.channel,
                   help="probability of a random microphone/channel response (tilt, band-limit)")
    p.add_argument("--reverb", type=float, default=d.reverb,
                   help="probability of a simulated room (pyroomacoustics); target: direct path + 50 ms")
    p.add_argument("--noise-bank", nargs="+", default=d.noise_bank, metavar="DIR",
                   help="noise bank folders (python -m sedemo.data noise-bank / noise-bank-extra / "
                   "noise-bank-nature; each gets an equal share of the bank draws): their "
                   "train/ recordings replace the noise of a share of the dynamically mixed rows "
                   "(needs --dynamic-mix)")
    p.add_argument("--noise-bank-p", type=float, default=d.noise_bank_p,
                   help="the share of dynamically mixed rows whose noise comes from the bank")
    p.add_argument("--noise-eq", type=float, default=d.noise_eq,
                   help="probability of a random 10-30 dB band boost of the noise alone (150 Hz-7.5 kHz)")
    p.add_argument("--tones", type=float, default=d.tones,
                   help="probability of one to four steady, modulated tones added to the noise")
    p.add_argument("--calls", type=float, default=d.calls,
                   help="probability of synthetic animal calls (harmonic chirps, 1-5 kHz) added to the noise")
    p.add_argument("--clicks", type=float, default=d.clicks,
                   help="probability of impulsive noise (2-200 decaying broadband transients per second: "
                   "crackle, clicks, typing) added to the noise")
    p.add_argument("--speech-highpass", type=float, default=d.speech_highpass, metavar="HZ",
                   help="zero-phase high-pass of the clean speech before mixing (target and mixture), "
                   "e.g. 70: the recordings' rumble below it leaves the target; 0: off")
    p.add_argument("--export", default=d.export, help="also save the final model here "
                   "(e.g. sedemo/pretrained/gcrn.pt)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=d.progress)
    p.add_argument("--init-from", default=d.init_from, help="start from the weights of this model "
                   "file or training checkpoint (fine-tuning: fresh optimizer and schedule)")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return p


def _config(argv) -> TrainConfig:
    args = vars(_parser().parse_args(argv))
    args.pop("debug")
    for name in _DICT_FLAGS:  # the repeated KEY=VALUE flags, as dicts
        args[name] = dict(args[name])
    if isinstance(args["noise_bank"], list):  # several banks: one comma-separated field of the config
        args["noise_bank"] = ",".join(args["noise_bank"])
    return TrainConfig(**args)


def main(argv=None) -> dict:
    """The command line ``python -m sedemo.train`` (``argv``: its arguments); returns
    :func:`sedemo.train.train`'s result. A user error prints ``error: <what>; <what to
    do>`` on one line to stderr and raises ``SystemExit(2)`` (``--debug``: the exception
    itself, with its traceback). Chapter: 05_complex_mapping."""
    argv = list(sys.argv[1:] if argv is None else argv)
    result = run(lambda: train(_config(argv)), argv,
                 interrupted="interrupted; run the same command with --resume (and without --overwrite) to "
                             "continue from the last checkpoint")
    print(json.dumps({"step": result["step"], "out": result["out"], **result["valid"]}, indent=1))
    return result
