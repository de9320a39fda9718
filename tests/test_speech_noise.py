"""sedemo.evaluation.speech_noise: the phase-inversion split of an output into what it made
of the speech and of the noise, against closed forms (a fixed gain, a time-varying gain, a
band-stop filter, a gate that closes between loud blocks)."""
import numpy as np
import pytest


def _phase_inversion(system, s, n):
    """The two runs of the phase-inversion method: the system on s + n and on s - n."""
    return system(s + n), system(s - n)


def test_distortion_and_residual_of_a_fixed_gain_are_the_gain_in_db():
    # a·x on both runs: the speech part is a·s, the noise part a·n, in every band
    from sedemo.evaluation.speech_noise import RATIO_FLOOR_DB, distortion_and_residual

    rng = np.random.default_rng(3)
    s, n = rng.standard_normal(16000), 0.5 * rng.standard_normal(16000)
    for a in (0.25, 0.5, 1.5, -1.0):
        t = distortion_and_residual(*_phase_inversion(lambda x: a * x, s, n), s, n)
        assert list(t.index) == ["0-1 kHz", "1-2 kHz", "2-4 kHz", "4-8 kHz"]
        np.testing.assert_allclose(t["distortion_db"], 20 * np.log10(abs(1 - a)), atol=1e-9)
        np.testing.assert_allclose(t["residual_db"], 20 * np.log10(abs(a)), atol=1e-9)
    keep = distortion_and_residual(*_phase_inversion(lambda x: x, s, n), s, n)  # all speech, all noise
    assert (keep["distortion_db"] == RATIO_FLOOR_DB).all() and np.allclose(keep["residual_db"], 0.0, atol=1e-9)
    mute = distortion_and_residual(np.zeros_like(s), np.zeros_like(s), s, n)  # speech lost, no noise
    assert np.allclose(mute["distortion_db"], 0.0, atol=1e-9) and (mute["residual_db"] == RATIO_FLOOR_DB).all()


def test_a_time_varying_gain_leaves_its_mean_power_of_the_noise_in_every_band():
    # g(t)·x, g between 0.1 and 0.5 at 40 Hz: the noise part is g·n, whose power in each band
    # of white noise is mean(g²) of the noise's (the gain spreads each bin by only ±40 Hz)
    from sedemo.evaluation.speech_noise import distortion_and_residual

    rng = np.random.default_rng(5)
    t = np.arange(64000) / 16000
    g = 0.3 + 0.2 * np.sin(2 * np.pi * 40 * t)
    s, n = rng.standard_normal(t.size), rng.standard_normal(t.size)
    out = distortion_and_residual(*_phase_inversion(lambda x: g * x, s, n), s, n)
    np.testing.assert_allclose(out["residual_db"], 10 * np.log10(np.mean(g ** 2)), atol=0.3)
    np.testing.assert_allclose(out["distortion_db"], 10 * np.log10(np.mean((1 - g) ** 2)), atol=0.3)


def test_distortion_and_residual_locate_a_band_stop_filter():
    # a 2-4 kHz stop band: the speech and the noise there go, the other bands keep both
    from scipy import signal

    from sedemo.evaluation.speech_noise import distortion_and_residual

    rng = np.random.default_rng(4)
    s, n = rng.standard_normal(32000), rng.standard_normal(32000)
    sos = signal.butter(8, [2000, 4000], btype="bandstop", fs=16000, output="sos")
    t = distortion_and_residual(*_phase_inversion(lambda x: signal.sosfiltfilt(sos, x), s, n), s, n)
    assert t.loc["2-4 kHz", "residual_db"] < -10 and t.loc["2-4 kHz", "distortion_db"] > -1
    assert t.loc["0-1 kHz", "residual_db"] > -0.5 and t.loc["0-1 kHz", "distortion_db"] < -20


def test_distortion_and_residual_refuse_what_they_cannot_split():
    from sedemo.evaluation.speech_noise import distortion_and_residual

    s = np.random.default_rng(0).standard_normal(8000)
    with pytest.raises(ValueError, match="all zeros"):
        distortion_and_residual(s, s, s, np.zeros_like(s))
    with pytest.raises(ValueError, match="one length"):
        distortion_and_residual(s[:-1], s[:-1], s, s)
    with pytest.raises(ValueError, match="Nyquist"):
        distortion_and_residual(s, s, s, s, sample_rate=8000)


def test_split_by_speech_level_of_a_fixed_gain_is_the_gain_in_every_class():
    from sedemo.evaluation.speech_noise import split_by_speech_level

    rng = np.random.default_rng(6)
    env = np.repeat(10.0 ** (-rng.uniform(0, 2, 40)), 1600)  # 0 to -40 dB, 0.1 s blocks
    s, n = env * rng.standard_normal(env.size), 0.3 * rng.standard_normal(env.size)
    t = split_by_speech_level(*_phase_inversion(lambda x: 0.5 * x, s, n), s, n)
    assert list(t.index) == ["0 to -10 dB", "-10 to -20 dB", "-20 to -30 dB", "-30 to -40 dB"]
    assert (t["frames"] > 0).all()
    np.testing.assert_allclose(t["distortion_db"], 20 * np.log10(0.5), atol=1e-9)
    np.testing.assert_allclose(t["residual_db"], 20 * np.log10(0.5), atol=1e-9)


def test_split_by_speech_level_sees_a_gate_that_closes_between_words():
    # loud and quiet blocks of speech; a gate passes the loud blocks and takes 20 dB off the
    # quiet ones: the noise left is 0 dB in the loudest class and -20 dB in the quietest
    from sedemo.evaluation.speech_noise import split_by_speech_level

    rng = np.random.default_rng(7)
    loud = np.tile(np.repeat([1.0, 0.0], 8192), 4)
    s = (loud + 0.003 * (1 - loud)) * rng.standard_normal(loud.size)  # quiet blocks about -50 dB (left out) ...
    s += 0.03 * (1 - loud) * rng.standard_normal(loud.size) * (np.arange(loud.size) % 16384 > 12288)  # ... but
    # the last quarter of each, about -30 dB: the quiet class
    n = 0.2 * rng.standard_normal(loud.size)
    g = loud + 0.1 * (1 - loud)
    t = split_by_speech_level(*_phase_inversion(lambda x: g * x, s, n), s, n, edges=(0, -10, -40))
    assert t.loc["0 to -10 dB", "residual_db"] == pytest.approx(0.0, abs=0.5)
    assert t.loc["-10 to -40 dB", "residual_db"] == pytest.approx(-20.0, abs=1.5)
    assert t["frames"].min() > 0


def test_split_by_speech_level_refuses_bad_classes_and_bands():
    from sedemo.evaluation.speech_noise import split_by_speech_level

    s = np.random.default_rng(0).standard_normal(8000)
    with pytest.raises(ValueError, match="edges must fall"):
        split_by_speech_level(s, s, s, s, edges=(0, -10, -5))
    with pytest.raises(ValueError, match="band must be"):
        split_by_speech_level(s, s, s, s, band=(4000, 9000))
    with pytest.raises(ValueError, match="all zeros"):
        split_by_speech_level(s, s, s, np.zeros_like(s))


def _speechlike(seconds=3.0, seed=0):
    """Bursts of harmonic tones (syllables) with gaps: a signal STOI can score, (L,) at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    env = (np.sin(2 * np.pi * 3.3 * t) > 0.1) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t) ** 2)
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    return env * sum(np.sin(k * phase) / k for k in range(1, 20)) + 1e-4 * rng.standard_normal(t.size)


def test_swap_stoi_pairs_every_speech_part_with_every_noise_part():
    # Linear systems g·x: the speech part of A is g_A·s, the noise part g_B·n, so each entry is
    # STOI of g_A·s + g_B·n computed directly; the diagonal is each system's own output
    from sedemo.evaluation.speech_noise import swap_stoi
    from sedemo.metrics import stoi

    rng = np.random.default_rng(8)
    s = _speechlike()
    n = 0.3 * rng.standard_normal(s.size)

    def lowpass(x):  # a filter that treats speech and noise alike: still linear
        return np.convolve(x, np.ones(4) / 4, mode="same")

    systems = {"keeps": lambda x: 0.9 * x, "halves": lambda x: 0.5 * x, "lowpass": lowpass}
    parts = {name: _phase_inversion(f, s, n) for name, f in systems.items()}
    table = swap_stoi(parts, s)
    assert list(table.index) == [*systems, "clean"] and list(table.columns) == [*systems, "none"]
    for a, fa in systems.items():
        assert table.loc[a, a] == pytest.approx(stoi(estimate=fa(s + n), reference=s, sample_rate=16000), abs=1e-9)
        assert table.loc[a, "none"] == pytest.approx(stoi(estimate=fa(s), reference=s, sample_rate=16000), abs=1e-9)
        assert table.loc["clean", a] == pytest.approx(stoi(estimate=s + fa(n), reference=s, sample_rate=16000), abs=1e-9)
        for b, fb in systems.items():
            want = stoi(estimate=fa(s) + fb(n), reference=s, sample_rate=16000)
            assert table.loc[a, b] == pytest.approx(want, abs=1e-9)
    assert table.loc["clean", "none"] == pytest.approx(1.0, abs=1e-6)
    # less noise helps: the same speech with the halved noise scores higher than with the kept noise
    assert table.loc["keeps", "halves"] > table.loc["keeps", "keeps"]


def test_swap_stoi_refusals():
    from sedemo.evaluation.speech_noise import swap_stoi

    s = _speechlike(1.0)
    with pytest.raises(ValueError, match="non-empty dict"):
        swap_stoi({}, s)
    with pytest.raises(ValueError, match="reserved"):
        swap_stoi({"clean": (s, s)}, s)
    with pytest.raises(ValueError, match="out_plus, out_minus"):
        swap_stoi({"a": s}, s)
    with pytest.raises(ValueError, match="one length"):
        swap_stoi({"a": (s, s[:-10])}, s)


@pytest.mark.parametrize("tag", ["swap"])
def test_stored_swap_files_hold_each_systems_own_stoi_on_the_diagonal(tag):
    # the per-item swap matrix of the stored diagnostic files: every row has one column per
    # system plus "none", and the speech part of a system with its own noise part is its output
    from sedemo.evaluation import peers

    sets = peers.load_valid_pair(tag)
    for results in sets.values():
        names = list(results["systems"])
        scored = [n for n in names if n != "noisy"]
        for name in scored:
            for it in results["systems"][name]["items"]:
                assert set(it["swap_stoi"]) == {*scored, "none"}
                assert it["swap_stoi"][name] == pytest.approx(it["stoi"], abs=2e-4)
                assert 0 < it["stoi_clean_plus_noise_part"] <= 1


def test_level_summary_reads_means_and_the_fall_from_the_rows():
    import pandas as pd

    from sedemo.evaluation.speech_noise import level_summary

    lev = lambda a, b: {"0 to -10 dB": a, "-30 to -40 dB": b}  # noqa: E731
    rows = pd.DataFrame([
        dict(system="a", snr_db=-5.0, pesq_wb=1.0, stoi=0.6, si_sdr=2.0, level_residual_db=lev(-10.0, -20.0)),
        dict(system="a", snr_db=5.0, pesq_wb=2.0, stoi=0.8, si_sdr=6.0, level_residual_db=lev(-12.0, -30.0)),
        dict(system="b", snr_db=-5.0, pesq_wb=1.5, stoi=0.7, si_sdr=3.0, level_residual_db=lev(-8.0, -12.0)),
    ])
    t = level_summary(rows, ["b", "a"])
    assert list(t.index) == ["b", "a"]
    assert t.loc["a", "PESQ-WB"] == 1.5 and t.loc["a", "-5 dB: STOI"] == 0.6
    assert t.loc["a", "-5 dB: fall (dB)"] == 10.0 and t.loc["b", "-5 dB: noise left, frames -30 to -40 dB (dB)"] == -12.0
    with pytest.raises(ValueError, match="unknown system"):
        level_summary(rows, ["c"])
    with pytest.raises(ValueError, match="no rows at 0 dB"):
        level_summary(rows, ["a"], snr_db=0.0)
