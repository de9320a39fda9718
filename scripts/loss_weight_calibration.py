"""How hard a new loss term pulls, against the main loss: the rule behind the weights of the
extra terms of chapter 5's fine-tuning (STOI_WEIGHT, weak_weight, weak_cell_weight).

On augmented training mixtures of the extended corpus (the fine-tuning recipe's augmentation),
going from the noisy input to a pretrained model's output lowers the main loss
(si_sdr+compressed+stoi at stoi_weight 40) by some amount and the new term by another; a
weight of about (main drop / term drop) / 3 gives the term a third of the main loss's pull.
Prints both medians, their ratio and the median of the per-mixture ratios.

    .venv/bin/python scripts/loss_weight_calibration.py --term weak_frame   # 16.4 and 10.7 (chapter 5)
    .venv/bin/python scripts/loss_weight_calibration.py --term weak_cell    # 16.4 and 4.8

About 30 s on one thread. Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--term", required=True, help="a name of sedemo.losses.LOSSES taking estimate=, reference=")
    ap.add_argument("--model", default="ulcrn_df", help="the pretrained model whose output is compared")
    ap.add_argument("--corpus", default="data/corpus-extended")
    ap.add_argument("--banks", nargs="*", default=["data/noise-bank", "data/noise-bank-extra", "data/noise-bank-nature"])
    ap.add_argument("--batches", type=int, default=6, help="batches of 8 two-second mixtures (default 6: 48)")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)

    import torch

    import sedemo.losses as L
    from sedemo.data.noise_bank import load_bank
    from sedemo.models.base import enhance
    from sedemo.models.checkpoints import load_pretrained
    from sedemo.train.batches import load_pairs, sample_batch

    if args.term not in L.LOSSES or L.LOSS_INPUTS[args.term] != ("estimate", "reference"):
        valid = [n for n, k in L.LOSS_INPUTS.items() if k == ("estimate", "reference")]
        print(f"loss_weight_calibration: --term must be a waveform loss, one of: {', '.join(valid)}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    try:
        pairs = load_pairs("train", args.corpus, None, False)
        banks = [load_bank(b, "train") for b in args.banks]
        model = load_pretrained(args.model).eval()
    except (FileNotFoundError, RuntimeError, ValueError) as err:
        print(f"loss_weight_calibration: {str(err).splitlines()[0]}", file=sys.stderr)
        return 1
    term = L.get_loss(args.term)
    rng = np.random.default_rng(args.seed)
    main_drop, term_drop = [], []
    for _ in range(args.batches):
        clean, noisy = sample_batch(pairs, rng, 8, 32000, dynamic_mix=True, speed_perturb=0.1, snr_range=(-5, 20),
                                    level_range=(-40, -10), channel=0.5, noise_pool=banks or None, noise_pool_p=0.8,
                                    noise_eq=0.3, tones=0.2, calls=0.3, speech_highpass=70.0)
        c, n = torch.from_numpy(clean), torch.from_numpy(noisy)
        est = enhance(model, n)
        for x, sign in ((n, 1), (est, -1)):
            m = L.si_sdr_compressed_stoi_loss(estimate=x, reference=c, stoi_weight=40, reduction="none")
            t = term(estimate=x, reference=c, reduction="none")
            if sign == 1:
                m0, t0 = m, t
        main_drop += list((m0 - m).numpy())
        term_drop += list((t0 - t).numpy())
    main_drop, term_drop = np.array(main_drop), np.array(term_drop)
    ratios = main_drop[term_drop != 0] / term_drop[term_drop != 0]
    mm, tm = float(np.median(main_drop)), float(np.median(term_drop))
    print(f"{len(main_drop)} mixtures, noisy input -> {args.model}: main loss drops a median {mm:.1f}, "
          f"{args.term} {tm:.1f}; ratio of medians {mm / tm:.2f}, median ratio {np.median(ratios):.2f}; "
          f"a third of the main pull: weight {mm / tm / 3:.2f} (ratio of medians) to {np.median(ratios) / 3:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
