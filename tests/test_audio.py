"""Tests of sedemo.dsp.audio: file i/o, resampling, validation, P.56 level, mixing."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sedemo.dsp import audio

SR = 16000
ALLISON = Path("/usr/share/asterisk/sounds/en_US_f_Allison")


def tone(freq, seconds=1.0, sr=SR, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return amp * np.sin(2 * np.pi * freq * t)


def db(x):
    return 10 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2))


# ----------------------------------------------------------------------- file i/o
@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_save_load_roundtrip(tmp_path, speech, ext):
    path = audio.save(tmp_path / f"x.{ext}", speech)
    y = audio.load(path)
    assert y.dtype == np.float32 and y.shape == speech.shape
    # 16-bit: within half a quantisation step (plus float32 rounding)
    assert np.abs(y - speech).max() <= 0.5 / 32768 + 1e-7
    i = audio.info(path)
    assert (i.sample_rate, i.channels, i.frames) == (SR, 1, speech.size)
    assert i.duration == pytest.approx(3.0)


def test_save_torch_and_float_subtype(tmp_path):
    x = torch.linspace(-1.5, 1.5, 1000)
    audio.save(tmp_path / "f.wav", x, subtype="FLOAT")
    assert np.array_equal(audio.load(tmp_path / "f.wav"), x.numpy())


def test_multichannel_and_mono_mixdown(tmp_path):
    left, right = tone(300), tone(700, amp=0.2)
    audio.save(tmp_path / "st.wav", np.stack([left, right]))
    both = audio.load(tmp_path / "st.wav", mono=False)
    assert both.shape == (2, SR)
    np.testing.assert_allclose(both, np.stack([left, right]), atol=1e-4)
    mono = audio.load(tmp_path / "st.wav")
    assert mono.shape == (SR,)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-4)
    assert audio.load(tmp_path / "st.wav", mono=False).ndim == 2
    audio.save(tmp_path / "m.wav", left)
    assert audio.load(tmp_path / "m.wav", mono=False).shape == (1, SR)


def test_load_resamples_to_requested_rate(tmp_path):
    x = tone(1000, sr=44100)
    audio.save(tmp_path / "hi.wav", x, sample_rate=44100)
    assert audio.info(tmp_path / "hi.wav").sample_rate == 44100
    y = audio.load(tmp_path / "hi.wav")
    assert y.shape == (SR,)
    assert audio.load(tmp_path / "hi.wav", sample_rate=44100).shape == x.shape


@pytest.mark.skipif(not ALLISON.is_dir(), reason="Asterisk G.722 prompts not installed")
def test_g722_decode():
    files = sorted(ALLISON.glob("*.g722"), key=lambda p: p.stat().st_size)
    path = files[len(files) // 2]
    i = audio.info(path)
    assert (i.sample_rate, i.channels) == (SR, 1)
    x = audio.load(path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert x.size / SR > 0.5 and i.frames == x.size
    spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    # wideband (50-7000 Hz) speech: clearly more than a narrowband 8 kHz codec would give
    assert spec[freqs > 4000].sum() / spec.sum() > 1e-3
    assert 1e-4 < np.abs(x).max() <= 1.0


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.wav"):
        audio.load(tmp_path / "nothere.wav")
    (tmp_path / "junk.wav").write_bytes(b"not audio at all" * 8)
    with pytest.raises(audio.AudioDecodeError, match="cannot read .*junk.wav"):
        audio.load(tmp_path / "junk.wav")


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    """A save interrupted halfway used to leave a truncated file in place of the old one."""
    import soundfile as sf

    path = audio.save(tmp_path / "x.flac", np.full(1600, 0.25))
    before, real = path.read_bytes(), sf.write

    def crash(file, frames, *args, **kwargs):
        real(file, frames[: len(frames) // 2], *args, **kwargs)  # half a file, then the crash
        raise KeyboardInterrupt

    monkeypatch.setattr(sf, "write", crash)
    with pytest.raises(KeyboardInterrupt):
        audio.save(path, np.full(3200, 0.5))
    assert path.read_bytes() == before and not [p for p in tmp_path.iterdir() if p.name.endswith(".sedemo-tmp")]


def test_save_errors(tmp_path):
    with pytest.raises(ValueError, match="would clip.*Scale it.*subtype='FLOAT'"):
        audio.save(tmp_path / "a.wav", np.array([0.0, 1.2, -0.3]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        audio.save(tmp_path / "a.wav", np.array([0.0, np.nan, 0.1]))
    with pytest.raises(ValueError, match=r"looks like \(samples, channels\).*x\.T"):
        audio.save(tmp_path / "a.wav", np.zeros((1000, 2)))
    with pytest.raises(ValueError, match=r"at most 8 channels"):
        audio.save(tmp_path / "a.wav", np.zeros((4, 4)))
    with pytest.raises(ValueError, match="extensions"):
        audio.save(tmp_path / "a.mp3", np.zeros(100))
    with pytest.raises(ValueError, match="FLAC stores integer"):
        audio.save(tmp_path / "a.flac", np.zeros(100), subtype="FLOAT")
    with pytest.raises(ValueError, match="integer samples"):
        audio.save(tmp_path / "a.wav", np.zeros(100, dtype=np.int16))


# ---------------------------------------------------------------------- resample
def test_resample_length_and_tone_frequency():
    x = tone(1000, seconds=1.0, sr=44100).astype(np.float32)
    y = audio.resample(x, 44100, 16000)
    assert y.dtype == np.float32 and y.shape == (math.ceil(44100 * 160 / 441),)
    spec = np.abs(np.fft.rfft(y[1000:-1000] * np.hanning(y.size - 2000)))
    peak = np.fft.rfftfreq(y.size - 2000, 1 / 16000)[np.argmax(spec)]
    assert abs(peak - 1000) < 2
    assert db(y[1000:-1000]) == pytest.approx(db(x), abs=0.05)  # passband gain 1
    yt = audio.resample(torch.from_numpy(x), 44100, 16000)
    assert isinstance(yt, torch.Tensor) and torch.allclose(yt, torch.from_numpy(y))
    assert audio.resample(np.zeros((2, 441)), 44100, 16000).shape == (2, 160)
    same = audio.resample(x, 16000, 16000)
    assert np.array_equal(same, x) and same is not x


def test_resample_errors():
    with pytest.raises(ValueError, match="integer samples"):
        audio.resample(np.zeros(10, dtype=np.int16), 8000, 16000)
    with pytest.raises(ValueError, match="positive whole number"):
        audio.resample(np.zeros(10), 0, 16000)


# ---------------------------------------------------------------------- validate
def test_validate_passes_and_returns_tensor(speech):
    t = audio.validate(speech)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64 and t.shape == speech.shape
    assert audio.validate(torch.ones(5, dtype=torch.float16)).dtype == torch.float32
    assert audio.validate(speech, sample_rate=16000) is not None
    assert audio.validate(np.zeros(10), allow_silence=True).shape == (10,)


@pytest.mark.parametrize(
    "x, kwargs, match",
    [
        (np.ones(100), dict(sample_rate=44100),
         r"got 44100 Hz, this expects 16000 Hz: resample with sedemo\.dsp\.audio\.resample\(x, 44100, 16000\)"),
        (np.ones((2, 100)), {}, r"shape \(2, 100\).*mix down to mono with x\.mean\(axis=0\)"),
        (np.ones((100, 2)), {}, r"mix down to mono with x\.mean\(axis=1\)"),
        (np.ones((1, 100)), {}, r"single channel.*reshape\(-1\)"),
        (np.ones(0), {}, "empty"),
        (np.array([0.1, np.nan, 0.2]), {}, "1 NaN or infinite"),
        (np.array([0.1, np.inf]), {}, "NaN or infinite"),
        (np.zeros(100), {}, r"digital silence \(all zeros\).*allow_silence=True"),
        (np.full(100, 1e-9), {}, "digital silence .*RMS"),
        (np.ones(100, dtype=np.int16), {}, r"integer samples \(int16\).*32768"),
        (torch.ones(100, dtype=torch.int32), {}, r"integer samples \(int32\)"),
        (np.ones(10, dtype=complex), {}, "complex"),
    ],
)
def test_validate_errors(x, kwargs, match):
    with pytest.raises(ValueError, match=match):
        audio.validate(x, **kwargs)


def test_validate_uses_name():
    with pytest.raises(ValueError, match="^reference is empty"):
        audio.validate(np.ones(0), name="reference")


# ------------------------------------------------------------------------ levels
def test_rms_db():
    assert audio.rms_db(tone(1000, amp=1.0)) == pytest.approx(-3.0103, abs=1e-3)
    assert audio.rms_db(np.full(10, 0.1)) == pytest.approx(-20.0)
    batch = audio.rms_db(torch.ones(3, 8) * 0.1)
    assert isinstance(batch, torch.Tensor) and batch.shape == (3,)
    assert audio.rms_db(np.zeros(4)) == -np.inf


@pytest.mark.parametrize("kind", ["tone", "noise"])
def test_active_level_stationary_equals_rms(kind):
    x = tone(440, 3.0) if kind == "tone" else 0.1 * np.random.default_rng(3).standard_normal(3 * SR)
    level, activity = audio.active_level(x)
    assert level == pytest.approx(db(x), abs=0.2)
    assert activity > 0.98


def test_active_level_ignores_pauses():
    x = 0.1 * np.random.default_rng(4).standard_normal(3 * SR)
    gapped = np.concatenate([x, np.zeros(3 * SR)])  # 50 % digital silence
    level, activity = audio.active_level(x)
    level_g, activity_g = audio.active_level(gapped)
    assert abs(level_g - level) < 0.5
    # activity halves (plus the 0.2 s hangover and envelope decay: < 0.3 s of 6 s)
    assert 0.5 < activity_g < 0.55
    assert activity_g == pytest.approx(activity / 2, abs=0.05)
    assert db(x) - db(gapped) == pytest.approx(10 * np.log10(2), abs=1e-6)


def test_active_level_hangover_and_scaling(speech):
    burst = np.zeros(3 * SR)
    burst[SR : 2 * SR] = 0.1 * np.random.default_rng(5).standard_normal(SR)
    _, activity = audio.active_level(burst)
    # active: the 1 s burst + 0.2 s hangover + envelope decay (tens of ms)
    assert (1.2 / 3) < activity < (1.35 / 3)
    level, act = audio.active_level(speech)
    assert level > db(speech) and act < 1.0  # the speech has pauses
    level2, act2 = audio.active_level(torch.from_numpy(speech * 0.1))
    assert level2 == pytest.approx(level - 20.0, abs=1e-9) and act2 == pytest.approx(act)
    assert audio.active_level(np.zeros(1000)) == (-np.inf, 0.0)


# --------------------------------------------------------------------- fit_length
def test_fit_length_crop_is_a_segment():
    noise = np.arange(1000, dtype=np.float32)
    out = audio.fit_length(noise, 300, rng=np.random.default_rng(0))
    assert out.dtype == np.float32 and out.shape == (300,)
    assert np.array_equal(out, noise[int(out[0]) : int(out[0]) + 300])
    assert np.array_equal(audio.fit_length(noise, 300), noise[:300])  # rng None: offset 0
    a = audio.fit_length(noise, 300, rng=7)
    assert np.array_equal(a, audio.fit_length(noise, 300, rng=7))


def test_fit_length_loops_with_raised_cosine_crossfade():
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(1000)
    xf = 100
    out = audio.fit_length(noise, 2500, crossfade=xf)
    assert out.shape == (2500,)
    assert np.array_equal(out[: 1000 - xf], noise[: 1000 - xf])
    fade_in = 0.5 - 0.5 * np.cos(np.pi * (np.arange(xf) + 0.5) / xf)
    seam = noise[-xf:] * (1 - fade_in) + noise[:xf] * fade_in
    np.testing.assert_allclose(out[1000 - xf : 1000], seam)
    np.testing.assert_allclose(out[1000 : 1900 - xf], noise[xf : 1000 - xf])
    np.testing.assert_allclose(out[1900 - xf : 1900], seam)  # second seam
    t = audio.fit_length(torch.from_numpy(noise), 2500, rng=np.random.default_rng(2))
    assert isinstance(t, torch.Tensor) and t.shape == (2500,)


# ----------------------------------------------------------------------- mixing
@pytest.mark.parametrize("level", ["rms", "p56"])
@pytest.mark.parametrize("snr", [-5.0, 0.0, 12.5])
def test_mix_at_snr_exact(speech, noise, level, snr):
    m = audio.mix_at_snr(speech, noise[: SR], snr, level=level, rng=np.random.default_rng(0))
    assert np.array_equal(m.clean, speech)  # the clean signal is never scaled
    assert np.array_equal(m.noisy, m.clean + m.noise)
    clean, nz = np.asarray(m.clean, np.float64), np.asarray(m.noise, np.float64)
    if level == "rms":
        measured = 10 * np.log10(np.sum(clean**2) / np.sum(nz**2))
    else:
        measured = audio.active_level(clean)[0] - 10 * np.log10(np.mean(nz**2))
    assert measured == pytest.approx(snr, abs=1e-9)
    assert m.snr_db == snr and m.speech_level_db - m.noise_level_db == pytest.approx(snr)
    assert m.noise_level_db == pytest.approx(db(nz), abs=1e-9)


def test_mix_at_snr_torch_float32_and_scaled(speech, noise):
    clean = torch.from_numpy(speech).float()
    m = audio.mix_at_snr(clean, noise, 5.0)
    assert isinstance(m.noisy, torch.Tensor) and m.noisy.dtype == torch.float32
    assert torch.equal(m.noisy, m.clean + m.noise)
    measured = audio.active_level(m.clean)[0] - db(m.noise.numpy())
    assert measured == pytest.approx(5.0, abs=1e-4)
    s = m.scaled(0.5)
    assert s.speech_level_db - s.noise_level_db == pytest.approx(5.0)
    assert s.speech_level_db == pytest.approx(m.speech_level_db - 6.0206, abs=1e-4)


def test_mix_p56_differs_from_rms_for_speech_with_pauses(speech, noise):
    p56 = audio.mix_at_snr(speech, noise, 0.0, level="p56")
    rms = audio.mix_at_snr(speech, noise, 0.0, level="rms")
    # active level > RMS level for speech with pauses: more noise for the same SNR
    assert db(p56.noise) > db(rms.noise)


def test_mix_at_snr_errors(speech, noise):
    with pytest.raises(ValueError, match="clean speech is digital silence"):
        audio.mix_at_snr(np.zeros(SR), noise, 0.0)
    with pytest.raises(ValueError, match="noise is digital silence"):
        audio.mix_at_snr(speech, np.zeros(SR), 0.0)
    gappy = np.zeros(4 * SR)
    gappy[-100:] = 0.1
    with pytest.raises(ValueError, match="noise segment .* silence"):
        audio.mix_at_snr(speech, gappy, 0.0)
    bad = noise.copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match="noise contains 1 NaN"):
        audio.mix_at_snr(speech, bad, 0.0)
    with pytest.raises(ValueError, match="snr_db must be finite"):
        audio.mix_at_snr(speech, noise, np.inf)
    with pytest.raises(ValueError, match="level must be 'p56'"):
        audio.mix_at_snr(speech, noise, 0.0, level="peak")
    with pytest.raises(ValueError, match=r"clean speech has shape \(2, 48000\)"):
        audio.mix_at_snr(np.stack([speech, speech]), noise, 0.0)
