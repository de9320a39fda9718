"""The command line: ``python -m sedemo.train --model gcrn --steps N --out DIR``.
Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import argparse
import ast
import json


from sedemo import models as M
from sedemo.train.config import TrainConfig
from sedemo.train.objectives import available_losses
from sedemo.train.loop import train


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


def _parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m sedemo.train", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default=d.model, choices=list(M.MODELS))
    p.add_argument("--set", dest="model_overrides", type=_kv, action="append", default=[],
                   metavar="FIELD=VALUE", help="override a model config field, e.g. --set hidden=128")
    p.add_argument("--tiny", action=argparse.BooleanOptionalAction, default=d.tiny,
                   help="the test-sized model config")
    p.add_argument("--loss", default=d.loss, help="one of: " + ", ".join(available_losses()))
    p.add_argument("--loss-opt", dest="loss_options", type=_kv, action="append", default=[],
                   metavar="KEY=VALUE", help="loss option, e.g. --loss-opt c=0.5")
    p.add_argument("--mask-target", default=d.mask_target, help="oracle mask for --loss ma")
    for name, typ in (("steps", int), ("batch_size", int), ("segment", float), ("lr", float),
                      ("warmup", int), ("decay_start", int), ("grad_clip", float), ("weight_decay", float), ("seed", int),
                      ("valid_every", int), ("ckpt_every", int), ("log_every", int), ("n_valid", int),
                      ("valid_pesq", int)):
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=getattr(d, name))
    p.add_argument("--lr-schedule", default=d.lr_schedule, choices=("constant", "cosine"))
    p.add_argument("--threads", type=int, default=d.threads, help="torch.set_num_threads")
    p.add_argument("--device", default=d.device, help="cpu, cuda or auto")
    p.add_argument("--valid-seconds", type=float, default=d.valid_seconds)
    p.add_argument("--out", default=d.out, help="run folder ({model} is replaced)")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=d.resume,
                   help="continue from OUT/checkpoint.pt")
    p.add_argument("--corpus", default=d.corpus, help="corpus root (default: the book's corpus)")
    p.add_argument("--max-train-items", type=int, default=d.max_train_items)
    p.add_argument("--dynamic-mix", action=argparse.BooleanOptionalAction, default=d.dynamic_mix)
    p.add_argument("--speed-perturb", type=float, default=d.speed_perturb,
                   help="play each clean crop at a random speed in [1-S, 1+S] (steps of 0.05), "
                   "e.g. 0.1; 0: off")
    p.add_argument("--export", default=d.export, help="also save the final model here "
                   "(e.g. sedemo/pretrained/gcrn.pt)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=d.progress)
    p.add_argument("--init-from", default=d.init_from, help="start from the weights of this model "
                   "file or training checkpoint (fine-tuning: fresh optimizer and schedule)")
    return p


def main(argv=None) -> dict:
    """The command line ``python -m sedemo.train`` (``argv``: its arguments); returns
    :func:`sedemo.train.train`'s result. Chapter: 05_complex_mapping."""
    args = vars(_parser().parse_args(argv))
    args["model_overrides"] = dict(args["model_overrides"])
    args["loss_options"] = dict(args["loss_options"])
    cfg = TrainConfig(**args)
    result = train(cfg)
    print(json.dumps({"step": result["step"], "out": result["out"], **result["valid"]}, indent=1))
    return result

