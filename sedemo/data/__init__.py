"""The book's corpus: deterministic clean/noisy pairs at 16 kHz from real recordings.

Chapter 0 credits the recordings and chapter 1
(01_noisy_speech) listens to them; every experiment of the book
draws its speech and noise from here.

Sources, in order of preference (``source="auto"``):

``"debian"``
    Real speech: the Asterisk telephone prompts (Debian packages
    ``asterisk-core-sounds-{en,fr,it,ru}-g722``), recorded by professional voice
    talent at 16 kHz (G.722). Four speakers, one per language. The split is by
    **speaker**: train = en_US "Allison" (female) + it_IT "Carlo" (male),
    valid = ru_RU (female), test = fr_CA "June" (female); the test speaker is
    never heard in training. Real noise: the ambience loops of ``lincity-ng-data``,
    ``minetest-data`` and ``sonic-pi-samples``, grouped into five noise types and
    split by **noise family** (``TraficHigh1..3`` are one family), so that test
    noises are unseen files *and* unseen recording sessions.
``"synthetic"``
    A pip-only fallback when the Debian packages are absent: espeak-ng speech
    (``espeakng-loader``: formant synthesis, clearly not human) and synthetic
    noise. It keeps the book buildable anywhere; :func:`build` says so loudly and
    the book states which corpus its outputs were made with.
:class:`FolderCorpus`
    A reader's own folder of clean/noisy pairs (e.g. VoiceBank-DEMAND).

Mixing: every clean utterance is set to an active speech level of -26 dBFS
(ITU-T P.56, :func:`sedemo.dsp.audio.active_level`), noise is scaled so that
speech level minus noise RMS level equals the chosen SNR, and the pair is scaled
down together only if the mixture would clip. Everything is drawn from NumPy
generators seeded by ``(seed, split, index)``: the same command builds the same
corpus on every machine. Layout on disk::

    ROOT/info.json              which source, parameters, credits (written last: the build is complete)
    ROOT/files.txt              every file the build made (what --force may delete)
    ROOT/manifest.csv           one row per mixture (split, id, paths, speaker, noise, SNR ...)
    ROOT/speech/<speaker>/*.flac   decoded speech pool (16 kHz)
    ROOT/noise/<split>/*.flac      noise pool (16 kHz)
    ROOT/<split>/<id>_{clean,noisy}.flac   the mixtures (16-bit FLAC)

Build it with ``python -m sedemo.data build`` (``make data``).
"""
from __future__ import annotations

from sedemo.data.build import build, main, make_mixture, speaker_facts
from sedemo.data.corpus import Corpus, FolderCorpus, Item, load_corpus
from sedemo.data.voices import EXTENDED_SUMMARY, extended_summary
from sedemo.data.sources import (
    CORPUS_VERSION, CREDITS, MIN_SPEECH_ACTIVITY, MIN_SPEECH_LEVEL_DB, NOISE_TYPES, SAMPLE_RATE, SPEAKERS, SPLITS,
    SYNTHETIC_NOISES, CorpusConfig, debian_sources_present, default_root, split_noise_families, synthetic_noise,
)

__all__ = [
    "Corpus", "FolderCorpus", "Item", "load_corpus", "build", "make_mixture", "main",
    "CorpusConfig", "default_root", "debian_sources_present", "split_noise_families", "synthetic_noise",
    "SAMPLE_RATE", "SPLITS", "CORPUS_VERSION", "SPEAKERS", "NOISE_TYPES", "SYNTHETIC_NOISES", "CREDITS",
    "MIN_SPEECH_LEVEL_DB", "MIN_SPEECH_ACTIVITY", "extended_summary", "EXTENDED_SUMMARY", "speaker_facts",
]
