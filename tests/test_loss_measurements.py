"""sedemo.evaluation.loss_measurements on small inputs: shapes, invariances and the
properties the chapter's verdicts read."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sedemo.evaluation import loss_measurements as LM

SR = 16000


def test_ratio_perturbations_si_sdr_ignores_gain(speech):
    r = LM.ratio_perturbations(speech[: 2 * SR], SR)
    spread = r.gain.max() - r.gain.min()
    assert spread["SI-SDR (dB)"] < 1e-6 < 10 < spread["SNR (dB)"]
    t = r.table  # SI-SDR's optimal scale may be negative: a sign flip changes nothing, while SNR collapses
    assert t.loc["polarity flip (x-1)", "SI-SDR (dB)"] == pytest.approx(t.loc["unperturbed (20 dB white noise)", "SI-SDR (dB)"])
    assert t.loc["polarity flip (x-1)", "SNR (dB)"] < 0
    assert len(r.gains) == 41 and r.speech_rms == pytest.approx(np.sqrt(np.mean(speech[: 2 * SR] ** 2)))


def test_batch_gradient_shares_sum_to_one_and_favour_low_snr_for_ratio_sdr(speech, noise):
    batch = LM.batch_gradient_shares(speech[:SR], speech[:SR] + noise[:SR])
    shares = batch.table
    assert batch.estimates.shape == batch.references.shape == (len(LM.BATCH_SNRS), SR)
    assert list(shares.index) == [f"{v} dB" for v in LM.BATCH_SNRS]
    np.testing.assert_allclose(shares.sum(axis=0), 1.0, rtol=1e-9)
    assert shares[("waveform", "SI-SDR (si_sdr_loss)")].notna().all()


def test_degradation_scores_rank_the_identity_first(speech):
    d = LM.degradation_scores(speech[: 2 * SR], SR)
    assert d.table.shape == (10, 6) and set(d.estimates) == set(d.table.index)
    assert (d.rank >= 1).all().all() and (d.rank <= 10).all().all()
    assert d.rank.loc["white noise, 20 dB SNR", "SNR loss (dB)"] < d.rank.loc["white noise, 0 dB SNR", "SNR loss (dB)"]


def test_gradient_shares_and_coefficient_fits_on_the_tiny_corpus(tiny_corpus):
    items = tiny_corpus.items("test")[:2]
    c2 = LM.gradient_shares(items, SR)
    assert list(c2.index) == ["noisy input", "Wiener baseline", "oracle IRM"]
    assert ((c2["MSE grad. share"] >= 0) & (c2["MAE grad. share"] <= 1)).all()
    fits = LM.coefficient_fits(tiny_corpus.items("train"), n_utterances=3, n_sample=2000)
    assert len(fits.table) == 5 and fits.n_utterances <= 3 and fits.n_coefficients >= 2000
    assert all(len(v) == 2000 for v in fits.values.values())
    assert len(fits.spectra["raw"]) == fits.n_utterances == len(fits.spectra["compressed (c = 0.3)"])


def test_measure_all_and_its_verdicts_on_the_tiny_corpus(tiny_corpus):
    long_enough = [it for it in tiny_corpus.items("test") if it.seconds >= 3.0]
    if len(long_enough) < 2:
        with pytest.raises(ValueError, match="rebuild the corpus"):
            LM.measure_all(tiny_corpus, n_utterances=3, n_sample=2000)
        return
    m = LM.measure_all(tiny_corpus, n_utterances=3, n_sample=2000)
    assert len(m.ref) == 3 * SR and len(m.batch_clean) == len(m.batch_noisy) == 2 * SR
    table = LM.analytic_verdicts(m)
    assert list(table["claim"]) == ["C2", "C4", "C5", "C6"]
    # the words follow the numbers: C6 agrees only if SI-SDR ignores gain and ratio SDR favours -5 dB
    spread = m.perturbed.gain.max() - m.perturbed.gain.min()
    shares = m.batch.table["shared 16-tap filter"]
    expected = spread["SI-SDR (dB)"] < 0.01 < spread["SNR (dB)"] and (
        shares["ratio SDR (ratio_sdr_loss)"].iloc[0] > 2 * shares["log SDR (snr_loss)"].iloc[0])
    assert table.set_index("claim").loc["C6", "verdict"] == ("agree" if expected else "partly")


def test_analytic_verdicts_follow_the_c2_and_c4_numbers(speech, noise):
    c2 = pd.DataFrame({"absent samples": [0.2, 0.2], "MSE grad. share": [0.01, 0.3], "MAE grad. share": [0.2, 0.1]},
                      index=["Wiener baseline", "oracle IRM"])
    fits = pd.DataFrame({"delta_nll": [0.3, -0.1], "gennorm_beta": [0.8, 1.9]},
                        index=pd.MultiIndex.from_tuples([("raw", "band"), ("compressed (c = 0.3)", "band")]))
    ref = speech[: 2 * SR].astype(np.float64)
    m = LM.Measurements(
        c2_items=[], clean_items=[], c2=c2, fits=LM.CoefficientFits(fits, {}, 1, 1, 0.0), ref=ref,
        degradations=LM.degradation_scores(ref, SR), perturbed=LM.ratio_perturbations(ref, SR),
        batch_clean=ref[:SR], batch_noisy=ref[:SR] + noise[:SR],
        batch=LM.batch_gradient_shares(ref[:SR], ref[:SR] + noise[:SR]))
    words = LM.analytic_verdicts(m).set_index("claim")["verdict"]
    assert words["C2"] == "disagree"  # the oracle IRM's MAE share is below its MSE share
    assert words["C4"] == "partly"  # raw fits Laplacian, compressed does not
    assert words["C5"] == "explained"
    m.c2.loc["oracle IRM", "MAE grad. share"] = 0.5
    m.fits.table.loc[("compressed (c = 0.3)", "band"), "delta_nll"] = 0.05
    words = LM.analytic_verdicts(m).set_index("claim")["verdict"]
    assert words["C2"] == "agree" and words["C4"] == "agree"
