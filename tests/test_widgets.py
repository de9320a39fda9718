"""Listening controls (sedemo.display.widgets): static HTML structure and self-containment,
honest levels through the MP3 round trip, live ipywidgets mode without interact."""
from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from matplotlib.figure import Figure

from sedemo.display import media, widgets
from sedemo.display.widgets import Clip, HTMLBlock, audio_player, audio_table, switcher

SR = 16000
VALUES = [-5, 0, 5.5]


def _rms_db(x):
    return 10 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2))


@pytest.fixture(scope="module")
def clips():
    """Half a second of a speech-like signal and white noise (short: keeps ffmpeg fast)."""
    from conftest import speech_like

    s = speech_like(0.5)
    n = 0.05 * np.random.default_rng(2).standard_normal(len(s))
    return s, n


@pytest.fixture
def render(clips):
    s, n = clips
    calls = []

    def render(snr):
        calls.append(snr)
        fig = Figure(figsize=(1.2, 0.8), dpi=40)
        fig.add_subplot().plot(s[::50])
        y = s + 10 ** (-snr / 20) * n
        return fig, {"noisy": y, "enhanced": 0.8 * s}, f"SNR {snr} dB", {"SI-SDR (dB)": 12.3456, "n": 3}

    render.calls = calls
    return render


def _strip_data(markup: str) -> str:
    """The markup without the base64 payloads (which may contain any letters)."""
    return re.sub(r"data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=]*", "data:...", markup)


def _audio_srcs(markup: str):
    return re.findall(r"<audio\b[^>]*\bsrc=\"([^\"]*)\"", markup)


# ---------------------------------------------------------------- static mode
def test_static_has_one_variant_per_value(render):
    block = switcher(VALUES, render, label="SNR (dB)", sample_rate=SR, mode="static")
    assert isinstance(block, HTMLBlock) and block._repr_html_() == block.html
    markup = block.html
    variants = re.findall(r"<div class=\"sedemo-variant\"[^>]*>", markup)
    assert len(variants) == len(VALUES) == len(render.calls)
    assert [re.search(r'data-value="([^"]*)"', v).group(1) for v in variants] == ["-5", "0", "5.5"]
    assert sum(" hidden" not in v for v in variants) == 1 and " hidden" not in variants[0]
    assert markup.count("data:image/") == len(VALUES)
    assert len(_audio_srcs(markup)) == 2 * len(VALUES)
    assert markup.count('class="sedemo-switcher"') == 1
    rng = re.search(r"<input[^>]*>", markup).group(0)
    assert 'type="range"' in rng and 'class="sedemo-switcher-input"' in rng
    assert 'min="0"' in rng and f'max="{len(VALUES) - 1}"' in rng and 'value="0"' in rng
    assert "SNR 5.5 dB" in markup and "12.35" in markup  # caption and numbers table
    assert "kB" in repr(block) and block.nbytes == len(markup.encode())


def test_static_is_self_contained(render):
    markup = switcher(VALUES, render, label="SNR", sample_rate=SR, mode="static").html
    bare = _strip_data(markup).lower()
    for bad in ("http://", "https://", "//cdn", "require"):
        assert bad not in bare, bad
    assert "<script src" not in bare and "<link" not in bare
    srcs = re.findall(r"\bsrc=\"([^\"]*)\"", markup)
    assert srcs and all(s.startswith("data:") for s in srcs)
    assert markup.count("<script>") == 1


def test_audio_is_embedded_mp3(render):
    assert "mp3" in media.audio_codecs() and media.audio_codecs()[-1] == "wav"
    markup = switcher(VALUES, render, sample_rate=SR, mode="static").html
    for tag in re.findall(r"<audio\b[^>]*>", markup):
        assert "controls" in tag and re.search(r'preload="(none|metadata)"', tag)
    for src in _audio_srcs(markup):
        assert src.startswith("data:audio/mpeg;base64,")
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)  # MP3 frame sync


def test_ids_unique_across_controls(render):
    a = switcher(VALUES, render, sample_rate=SR, mode="static").html
    b = switcher(VALUES, render, sample_rate=SR, mode="static").html
    ids = re.findall(r'\bid="([^"]+)"', a + b)
    assert len(ids) == len(set(ids)) == 4  # container + input, twice
    for markup in (a, b):
        uid = re.search(r'class="sedemo-switcher" id="([^"]+)"', markup).group(1)
        assert f'getElementById("{uid}")' in markup


def test_initial_value_and_labels(clips):
    s, _ = clips
    block = switcher([0.1, 0.2], lambda g: g * s, label="gain", sample_rate=SR, initial=0.2,
                     format_value=lambda g: f"x{g}", mode="static")
    variants = re.findall(r"<div class=\"sedemo-variant\"[^>]*>", block.html)
    assert " hidden" in variants[0] and " hidden" not in variants[1]
    assert 'data-value="x0.2"' in variants[1] and 'value="1"' in block.html
    with pytest.raises(ValueError, match="distinct"):
        switcher([1, 1.0], lambda v: None, mode="static")
    with pytest.raises(ValueError, match="sample_rate"):
        switcher([1], lambda v: s, mode="static")
    with pytest.raises(TypeError, match="render returned"):
        switcher([1], lambda v: object(), mode="static")


def test_figures_are_closed(clips):
    import matplotlib.pyplot as plt

    plt.close("all")

    def render(v):
        plt.figure(figsize=(1, 1), dpi=30)  # made but not returned: must not leak
        fig, ax = plt.subplots(figsize=(1, 1), dpi=30)
        ax.plot([0, v])
        return fig

    switcher([1, 2], render, mode="static")
    assert plt.get_fignums() == []


def test_auto_mode_is_static_without_kernel(render, monkeypatch):
    monkeypatch.delenv(widgets.STATIC_ENV, raising=False)
    assert widgets.static_mode()  # pytest runs no kernel
    monkeypatch.setenv(widgets.STATIC_ENV, "1")
    assert widgets.static_mode()
    assert isinstance(switcher([0], render, sample_rate=SR), HTMLBlock)


# ---------------------------------------------------------------- live mode
def test_live_mode_builds_a_selection_slider_without_interact(render, monkeypatch):
    import ipywidgets

    def forbidden(*a, **k):
        raise AssertionError("interact must not be used")

    monkeypatch.setattr(ipywidgets, "interact", forbidden)
    monkeypatch.setattr(ipywidgets, "interactive", forbidden)
    box = switcher(VALUES, render, label="SNR (dB)", sample_rate=SR, mode="live")
    assert isinstance(box, ipywidgets.VBox)
    slider, view = box.children
    # an HTML view filled by the observer, never an Output widget (headless runs stall on those)
    assert isinstance(slider, ipywidgets.SelectionSlider) and isinstance(view, ipywidgets.HTML)
    assert not any(isinstance(c, ipywidgets.Output) for c in box.children)
    assert [label for label, _ in slider.options] == ["-5", "0", "5.5"]
    assert slider.continuous_update is False
    assert render.calls == [-5]
    first = view.value
    assert "<img" in first and "<audio" in first
    slider.value = 2
    assert render.calls == [-5, 5.5] and view.value != first


def test_live_audio_is_wav_without_normalising(clips):
    s, _ = clips
    sw = widgets.Switcher([1], lambda v: s, sample_rate=SR)
    tag = sw._live_body([("audio", [("x", 0.01 * s, SR)])])
    assert "<audio" in tag and "data:audio/wav;base64," in tag
    wav = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", tag).group(1))
    pcm = np.frombuffer(wav[44:], dtype="<i2") / 32767.0
    assert abs(_rms_db(pcm) - _rms_db(0.01 * s)) < 0.1  # level kept, not normalised to full scale
    with pytest.warns(UserWarning, match="clip"):
        sw._live_body([("audio", [("loud", 3 * s, SR)])])


# ---------------------------------------------------------------- audio encoding
def test_mp3_round_trip_keeps_the_level(clips):
    s, n = clips
    for x, tol in ((s, 0.2), (n, 0.5), (s + n, 0.5)):
        data, mime = media.encode_audio(x, SR)
        assert mime == "audio/mpeg"
        y = media.decode_audio(data, SR)
        assert abs(len(y) - len(x)) <= 1152  # gapless trimming (LAME header), at worst one frame
        assert abs(_rms_db(y) - _rms_db(x)) < tol
    # scaling the input by -20 dB scales what is heard by -20 dB: no normalisation
    quiet = media.decode_audio(media.encode_audio(0.1 * s, SR)[0], SR)
    loud = media.decode_audio(media.encode_audio(s, SR)[0], SR)
    assert abs(_rms_db(quiet) - _rms_db(loud) + 20) < 0.1
    assert media.encode_audio(s, SR)[0][:100] == media.encode_audio(s.copy(), SR)[0][:100]


def test_clipping_warns_or_raises(clips):
    s, _ = clips
    with pytest.warns(UserWarning, match="exceeds full scale"):
        media.encode_audio(3 * s, SR)
    with pytest.raises(ValueError, match="exceeds full scale"):
        media.encode_audio(3 * s, SR, on_clip="error")
    with pytest.raises(ValueError, match="NaN"):
        media.encode_audio(np.array([0.0, np.nan]), SR)


def test_wav_fallback_is_16_bit_and_exact(clips):
    s, _ = clips
    data, mime = media.encode_audio(s, SR, codec="wav")
    assert mime == "audio/wav" and data[:4] == b"RIFF"
    pcm = np.frombuffer(data[44:], dtype="<i2") / 32767.0
    assert np.max(np.abs(pcm - s)) < 1 / 32767


# ---------------------------------------------------------------- tables and players
def test_audio_table_columns_and_players(clips):
    s, n = clips
    t = audio_table({"clean": s, "noisy": s + n, "enhanced": 0.9 * s, "PESQ": 2.345}, SR)
    markup = t.html
    assert re.findall(r"<th>([^<]*)</th>", markup) == ["clean", "noisy", "enhanced", "PESQ"]
    srcs = _audio_srcs(markup)
    assert len(srcs) == 3 and all(x.startswith("data:audio/mpeg;base64,") for x in srcs)
    assert "2.345" in markup
    bare = _strip_data(markup).lower()
    assert "http" not in bare and "require" not in bare

    rows = audio_table({"utt 1": {"clean": s, "noisy": s + n}, "utt 2": {"clean": Clip(s, SR), "noisy": None}}, SR)
    assert len(_audio_srcs(rows.html)) == 3 and rows.html.count("<tr>") == 3
    with pytest.raises(ValueError, match="sample_rate"):
        audio_table({"clean": s})


def test_audio_player(clips):
    s, _ = clips
    p = audio_player(s, SR, label="noisy <input>")
    assert len(_audio_srcs(p.html)) == 1 and "noisy &lt;input&gt;" in p.html
    assert "<input>" not in p.html
