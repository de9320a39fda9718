"""More real voices for the *extended* corpus (``CorpusConfig(voices="extended")``,
``python -m sedemo.data build --voices extended``): 56 further voices in 30 languages,
10.6 hours of speech once decoded and joined (Tux Paint 3.1 h, KLettres 0.8 h, KTuberling
0.6 h, gcin 0.4 h, Flight of the Amazon Queen 4.7 h, Drascula 1.2 h), from Debian packages
of free educational software and two free adventure games. The book's default corpus
(``voices="book"``) does not use them.

Sources, each a Debian package (:data:`VOICE_SOURCES`, credited in :data:`VOICE_CREDITS`):

``tuxpaint``
    Spoken stamp descriptions of Tux Paint (``*_desc[_LANG].ogg``), 44.1 kHz, full band.
    One voice per language: each language was recorded by one volunteer (the package's
    changelog names most of them); a voice holds the stamp and the symbol descriptions
    of its language, whose pitch matches. The six Malayalam clips are not used.
``gcin``
    Mandarin syllables of the gcin input method: ``3.ogg`` (male) and ``5.ogg``
    (female) in one folder per zhuyin syllable; two voices.
``klettres``, ``ktuberling``
    Letters and syllables (KLettres) and object names (KTuberling), one voice per
    language folder. The same volunteer may have recorded a language for both
    programs, so both are always in the same split. Clips below 11.025 kHz (some
    KTuberling sets are 8 kHz telephone band) are not used; the four identical
    Serbian folders of KTuberling count once.
``queen``
    *Flight of the Amazon Queen*: all dialogue, MP3 entries ``*.SB`` of ``queen.1c``
    (:mod:`sedemo.data._formats`), 11.025 kHz. **Coarse voices**: the hero Joe
    (entries ``JOE*`` and dialogue lines ``......J#``) is one voice; every other line
    (about 12 actors, both sexes) is one mixed voice ``en_x_QueenCast``.
``drascula``
    *Drascula: The Vampire Strikes Back*, English and Spanish: raw 8-bit ``*.ALS``
    files, 11.025 kHz (``S*.ALS`` are sound effects and ``F*.ALS`` an unidentified
    speaker: skipped). **Coarse voices** per language: B.J. (``BJ*``, the one female
    character) and all male characters together (the hero, Drascula, Igor, Von Braun,
    the bartender, the pianist, the drunk, the werewolf, the musician), since one
    actor may voice several characters.

Band: the game voices were recorded at 11.025 kHz, so they hold nothing above 5.5 kHz
even at 16 kHz; the other sources are full band (0-8 kHz at 16 kHz).

Sex: from the package's credits where they name the speaker, else from the median pitch
of 25 clips (below 165 Hz male, above 200 Hz female, ``x`` between, or a mixed group);
not verified by listening.

Clips: isolated words and syllables are short, so consecutive clips of one voice (in
file-name order) are trimmed to their active part, set to one RMS level and joined with
0.25 s pauses into utterances of ``min_seconds`` to a target below ``(min + max) / 2``
seconds; a clip longer than ``max_seconds`` is not used. Each utterance must pass the
same speech test as the book's prompts (P.56 level and activity).

Splits (:data:`VOICES`), by voice and, for the volunteers' languages, by language (one
language, one split: a volunteer who recorded it for two programs stays in one split).
The Asterisk speakers keep their splits and every split gains voices:

* test: French (June, and three French voices), Mandarin (gcin, male and female),
  Greek and Bulgarian: none of these languages is in training;
* valid: Russian (the Asterisk speaker and three more), Catalan, Ukrainian, Arabic;
* train: everything else (English, Italian, Spanish, Romanian, Belarusian, ... and the
  two games).

Chapter: 00_preface.
"""
from __future__ import annotations

import json
import re
import zlib
from collections import namedtuple
from pathlib import Path

import numpy as np

from sedemo.data import _formats

VOICES_VERSION = 1  # bump when the voices, their clips or the packing change

TUXPAINT_DIR = Path("/usr/share/tuxpaint/stamps")
GCIN_DIR = Path("/usr/share/gcin-voice/ogg")
KLETTRES_DIR = Path("/usr/share/klettres")
KTUBERLING_DIR = Path("/usr/share/ktuberling/sounds")
QUEEN_FILE = Path("/usr/share/scummvm/flight-of-the-amazon-queen/queen.1c")
DRASCULA_DIR = Path("/usr/share/scummvm/drascula")

# source -> (Debian packages, material, authors, licence)
VOICE_SOURCES = {
    "tuxpaint": (("tuxpaint-stamps-default",), "Spoken stamp descriptions (12 languages)",
                 "Tux Paint volunteers (Krasimir Petkov, Kseniya Buraya, Joe Dalton, Kiriaki Serafeim, "
                 "Estefanía Ortiz, Pere Pujal, Edwin Veber, Tabbytha, Jacques Chion, PaulK and others); "
                 "Bill Kendrick", "GPL-2+"),
    "gcin": (("gcin-voice",), "Mandarin syllables, male and female voice",
             "Edward Der-Hua Liu (male set); voice actress Chu Lo, ChionMeilin project (female set)",
             "GPL-3 or LGPL-3 (male) / CC-BY-3.0 (female)"),
    "klettres": (("klettres-data",), "Letters and syllables (19 languages)",
                 "KLettres contributors (Anne-Marie Mahfouf and the KDE translators)", "GPL-2+"),
    "ktuberling": (("ktuberling-data",), "Spoken object names (16 languages)",
                   "KTuberling contributors (Éric Bischoff, Albert Astals Cid and the KDE translators)", "GPL-2+"),
    "queen": (("flight-of-the-amazon-queen",), "Game dialogue, 11.025 kHz (modified: mixed with noise)",
              "John Passfield and Steven Stamatiadis (Flight of the Amazon Queen, 1995)",
              "FOTAQ licence (free redistribution; modified copies marked as such)"),
    "drascula": (("drascula", "drascula-spanish"), "Game dialogue in English and Spanish, 11.025 kHz",
                 "Alcachofa Soft S.L. (Drascula: The Vampire Strikes Back, 1996)", "Drascula licence (BSD-like)"),
}

# voice -> (split, sex, language, source, selector, native rate Hz, who / how identified)
# sex: "male", "female" or "mixed"/"unknown"; selector: which clips of the source (see _clips)
VOICES = {
    # ---- test: French, Mandarin, Greek, Bulgarian (no voice of these languages in train or valid)
    "zh_m_gcin": ("test", "male", "Mandarin", "gcin", "3", 44100, "gcin male set (credits)"),
    "zh_f_gcin": ("test", "female", "Mandarin", "gcin", "5", 44100, "gcin female set, Chu Lo (credits)"),
    "el_f_TuxPaint": ("test", "female", "Greek", "tuxpaint", "el", 44100, "Kiriaki Serafeim (changelog)"),
    "bg_m_TuxPaint": ("test", "male", "Bulgarian", "tuxpaint", "bg", 44100, "Krasimir Petkov (changelog)"),
    "fr_m_TuxPaint": ("test", "male", "French", "tuxpaint", "fr", 44100, "French volunteer (changelog; F0 140 Hz)"),
    "fr_m_KLettres": ("test", "male", "French", "klettres", "fr", 44100, "F0 148 Hz"),
    "fr_x_KTuberling": ("test", "unknown", "French", "ktuberling", "fr", 44100, "F0 178 Hz; 8-kHz clips dropped"),
    "el_m_KTuberling": ("test", "male", "Greek", "ktuberling", "el", 44100, "F0 154 Hz"),
    # ---- valid: Russian, Catalan, Ukrainian, Arabic
    "ru_m_TuxPaint": ("valid", "male", "Russian", "tuxpaint", "ru", 44100, "Edwin Veber (changelog)"),
    "ru_f_KLettres": ("valid", "female", "Russian", "klettres", "ru", 44100, "F0 215 Hz"),
    "ru_x_KTuberling": ("valid", "unknown", "Russian", "ktuberling", "ru", 44100, "F0 190 Hz"),
    "ca_m_TuxPaint": ("valid", "male", "Catalan", "tuxpaint", "ca", 44100, "Pere Pujal (changelog)"),
    "ca_f_KTuberling": ("valid", "female", "Catalan", "ktuberling", "ca", 44100, "F0 229 Hz"),
    "uk_f_KLettres": ("valid", "female", "Ukrainian", "klettres", "uk", 44100, "F0 232 Hz"),
    "uk_f_KTuberling": ("valid", "female", "Ukrainian", "ktuberling", "uk", 44100, "F0 235 Hz"),
    "ar_f_KLettres": ("valid", "female", "Arabic", "klettres", "ar", 44100, "F0 267 Hz"),
    # ---- train: everything else
    "ro_f_TuxPaint": ("train", "female", "Romanian", "tuxpaint", "ro", 44100, "Tabbytha (changelog)"),
    "es_f_TuxPaint": ("train", "female", "Spanish", "tuxpaint", "es", 44100, "Estefanía Ortiz (changelog)"),
    "be_f_TuxPaint": ("train", "female", "Belarusian", "tuxpaint", "be", 44100, "Kseniya Buraya (changelog)"),
    "da_m_TuxPaint": ("train", "male", "Danish", "tuxpaint", "da", 44100, "Joe Dalton (changelog)"),
    "nl_m_TuxPaint": ("train", "male", "Dutch", "tuxpaint", "nl", 44100, "F0 114 Hz"),
    "lt_m_TuxPaint": ("train", "male", "Lithuanian", "tuxpaint", "lt", 44100, "Schoolsplay letters (changelog; F0 121 Hz)"),
    "en_x_TuxPaint": ("train", "unknown", "English", "tuxpaint", "en", 44100, "F0 170 Hz; 8-kHz clips dropped"),
    "cs_f_KLettres": ("train", "female", "Czech", "klettres", "cs", 44100, "F0 250 Hz"),
    "da_m_KLettres": ("train", "male", "Danish", "klettres", "da", 44100, "F0 127 Hz"),
    "de_x_KLettres": ("train", "mixed", "German", "klettres", "de", 44100, "letters F0 222 Hz, syllables 116 Hz: two people"),
    "en_m_KLettres": ("train", "male", "English (US)", "klettres", "en", 44100, "F0 130 Hz"),
    "en_f_KLettresGB": ("train", "female", "English (UK)", "klettres", "en_GB", 44100, "F0 240 Hz"),
    "es_f_KLettres": ("train", "female", "Spanish", "klettres", "es", 44100, "F0 185 Hz (uncertain)"),
    "he_x_KLettres": ("train", "unknown", "Hebrew", "klettres", "he", 44100, "F0 168 Hz"),
    "hu_m_KLettres": ("train", "male", "Hungarian", "klettres", "hu", 44100, "F0 110 Hz"),
    "it_f_KLettres": ("train", "female", "Italian", "klettres", "it", 44100, "F0 225 Hz"),
    "lt_m_KLettres": ("train", "male", "Lithuanian", "klettres", "lt", 44100, "F0 120 Hz"),
    "ml_m_KLettres": ("train", "male", "Malayalam", "klettres", "ml", 44100, "F0 112 Hz"),
    "nb_f_KLettres": ("train", "female", "Norwegian (Bokmål)", "klettres", "nb", 44100, "F0 250 Hz"),
    "nds_m_KLettres": ("train", "male", "Low German", "klettres", "nds", 44100, "F0 105 Hz"),
    "nl_f_KLettres": ("train", "female", "Dutch", "klettres", "nl", 44100, "F0 213 Hz"),
    "pt_f_KLettres": ("train", "female", "Portuguese (Brazil)", "klettres", "pt_BR", 44100, "F0 280 Hz"),
    "tn_f_KLettres": ("train", "female", "Setswana", "klettres", "tn", 44100, "F0 330 Hz"),
    "da_f_KTuberling": ("train", "female", "Danish", "ktuberling", "da", 44100, "F0 222 Hz"),
    "de_m_KTuberling": ("train", "male", "German", "ktuberling", "de", 44100, "F0 143 Hz"),
    "en_x_KTuberling": ("train", "unknown", "English", "ktuberling", "en", 44100, "F0 182 Hz"),
    "gl_f_KTuberling": ("train", "female", "Galician", "ktuberling", "gl", 44100, "F0 276 Hz"),
    "lt_m_KTuberling": ("train", "male", "Lithuanian", "ktuberling", "lt", 44100, "F0 160 Hz"),
    "nn_f_KTuberling": ("train", "female", "Norwegian (Nynorsk)", "ktuberling", "nn", 48000, "F0 195 Hz (uncertain)"),
    "ro_f_KTuberling": ("train", "female", "Romanian", "ktuberling", "ro", 44100, "F0 242 Hz"),
    "sl_m_KTuberling": ("train", "male", "Slovenian", "ktuberling", "sl", 44100, "F0 157 Hz"),
    "sr_f_KTuberling": ("train", "female", "Serbian", "ktuberling", "sr", 22050, "F0 286 Hz"),
    "wa_m_KTuberling": ("train", "male", "Walloon", "ktuberling", "wa", 44100, "F0 129 Hz"),
    "ga_m_KTuberling": ("train", "male", "Irish", "ktuberling", "ga", 44100, "F0 118 Hz"),
    "en_m_QueenJoe": ("train", "male", "English", "queen", "joe", 11025, "the hero Joe King, one actor"),
    "en_x_QueenCast": ("train", "mixed", "English", "queen", "cast", 11025, "all other characters: ~12 actors, both sexes"),
    "en_m_DrasculaMen": ("train", "male", "English", "drascula", "en:men", 11025, "all male characters"),
    "en_f_DrasculaBJ": ("train", "female", "English", "drascula", "en:bj", 11025, "B.J."),
    "es_m_DrasculaMen": ("train", "male", "Spanish", "drascula", "es:men", 11025, "all male characters"),
    "es_f_DrasculaBJ": ("train", "female", "Spanish", "drascula", "es:bj", 11025, "B.J."),
}

# the book's own speech packages, which the extended corpus also needs
ASTERISK_PACKAGES = ("asterisk-core-sounds-en-g722", "asterisk-core-sounds-fr-g722", "asterisk-core-sounds-it-g722",
                     "asterisk-core-sounds-ru-g722")

VOICE_CREDITS = [(material, authors, licence, ", ".join(pkgs))
                 for pkgs, material, authors, licence in VOICE_SOURCES.values()]

MIN_NATIVE_RATE = 11025  # clips recorded below this (8-kHz telephone band) are not used
GAP_SECONDS = 0.25  # pause between joined clips
CLIP_RMS_DB = -26.0  # every clip is set to this RMS before joining
TRIM_BELOW_PEAK_DB = 40.0  # a clip's active part: 10-ms frames within this of its loudest frame
POOL_INDEX = "pool.json"  # per voice: its utterances and the clips they are made of

_Clip = namedtuple("_Clip", "name path offset size kind")  # kind: "file", "mp3" (archive entry), "als"


def _missing_packages() -> list[str]:
    """The Debian packages of the extended voices that are not installed (by their files)."""
    present = {
        "tuxpaint-stamps-default": TUXPAINT_DIR.is_dir(),
        "gcin-voice": GCIN_DIR.is_dir(),
        "klettres-data": KLETTRES_DIR.is_dir(),
        "ktuberling-data": KTUBERLING_DIR.is_dir(),
        "flight-of-the-amazon-queen": QUEEN_FILE.is_file(),
        "drascula": (DRASCULA_DIR / "en").is_dir(),
        "drascula-spanish": (DRASCULA_DIR / "es").is_dir(),
    }
    return [pkg for pkg, ok in present.items() if not ok]


# --------------------------------------------------------------------------- clips of a voice
_TUX_DESC = re.compile(r"_desc(?:_([a-z]{2,3}))?\.ogg(?:\.ogg)?$")
_QUEEN_JOE = re.compile(r"^(JOE.*|[0-9A-Z]{6}J\d)$")
_DRASCULA_PREFIX = re.compile(r"^([A-Za-z]*)\d+$")
_DRASCULA_SKIP = {"S", "F"}  # sound effects; an unidentified speaker


def _clips(voice: str) -> list[_Clip]:
    """Every source clip of ``voice``, in a fixed order (by name)."""
    _, _, _, source, sel, _, _ = VOICES[voice]
    out = []
    if source == "tuxpaint":
        for p in sorted(TUXPAINT_DIR.rglob("*_desc*.ogg*")):
            m = _TUX_DESC.search(p.name)
            if m and (m.group(1) or "en") == sel:
                out.append(_Clip(p.relative_to(TUXPAINT_DIR).as_posix(), p, 0, 0, "file"))
    elif source == "gcin":
        out = [_Clip(p.parent.name, p, 0, 0, "file") for p in sorted(GCIN_DIR.glob(f"*/{sel}.ogg"))]
    elif source == "klettres":
        out = [_Clip(p.relative_to(KLETTRES_DIR).as_posix(), p, 0, 0, "file")
               for p in sorted((KLETTRES_DIR / sel).glob("*/*.ogg"))]
    elif source == "ktuberling":
        out = [_Clip(p.name, p, 0, 0, "file") for p in sorted((KTUBERLING_DIR / sel).iterdir())
               if p.suffix.lower() in (".ogg", ".wav", ".opus", ".flac")]
    elif source == "queen":
        _, _, entries = _formats.read_queen_table(QUEEN_FILE)
        for name, offset, size in sorted(entries):
            stem, _, ext = name.rpartition(".")
            if ext.upper() == "SB" and bool(_QUEEN_JOE.match(stem)) == (sel == "joe"):
                out.append(_Clip(name, QUEEN_FILE, offset, size, "mp3"))
    elif source == "drascula":
        lang, who = sel.split(":")
        for p in sorted((DRASCULA_DIR / lang).iterdir()):
            m = _DRASCULA_PREFIX.match(p.stem)
            if p.suffix.upper() != ".ALS" or not m or m.group(1).upper() in _DRASCULA_SKIP:
                continue
            if (m.group(1).upper() == "BJ") == (who == "bj"):
                out.append(_Clip(p.name, p, 0, 0, "als"))
    else:  # pragma: no cover - the table is checked by the tests
        raise ValueError(f"unknown voice source {source!r}")
    return out


def _decode(clip: _Clip, sample_rate: int):
    """``clip`` as float32 at ``sample_rate``, or ``None`` when its native rate is below
    :data:`MIN_NATIVE_RATE`; returns ``(samples, native rate)``."""
    import soundfile as sf

    from sedemo.dsp import audio

    if clip.kind == "mp3":
        x, sr = _formats.decode_mp3(_formats.read_entry(clip.path, clip.offset, clip.size), clip.name)
    elif clip.kind == "als":
        x, sr = _formats.decode_als(Path(clip.path).read_bytes())
    else:
        try:
            data, sr = sf.read(str(clip.path), dtype="float32", always_2d=True)
            x = data.mean(axis=1)
        except (RuntimeError, TypeError, sf.SoundFileError):
            data, sr = audio._read_native(Path(clip.path))  # ffmpeg for what soundfile cannot read
            x = data.mean(axis=0)
    if sr < MIN_NATIVE_RATE or len(x) == 0:
        return None, sr
    if sr != sample_rate:
        x = audio.resample(x, sr, sample_rate)
    return np.asarray(x, dtype=np.float32), sr


def _trim_and_level(x: np.ndarray, sample_rate: int):
    """The active part of a clip (10-ms frames within :data:`TRIM_BELOW_PEAK_DB` of the
    loudest, with 50 ms kept on each side), DC removed, at :data:`CLIP_RMS_DB` RMS; ``None``
    for a silent clip."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    hop = sample_rate // 100
    n = len(x) // hop
    if n < 3:
        return None
    energy = (x[: n * hop].reshape(n, hop) ** 2).mean(axis=1)
    if energy.max() <= 1e-12:
        return None
    active = np.flatnonzero(energy >= energy.max() * 10 ** (-TRIM_BELOW_PEAK_DB / 10))
    margin = sample_rate // 20
    x = x[max(0, active[0] * hop - margin): min(len(x), (active[-1] + 1) * hop + margin)]
    return x * (10 ** (CLIP_RMS_DB / 20) / np.sqrt(np.mean(x**2)))


def _pack(clips, min_seconds: float, max_seconds: float, sample_rate: int, seed: int):
    """Join consecutive clips (``[(name, samples)]``, in order) into utterances: yields
    ``(names, samples)``. A clip longer than ``max_seconds`` is skipped; the clips of an
    utterance are joined with :data:`GAP_SECONDS` pauses until it reaches its target
    length (drawn in ``[min, (min + max) / 2]`` from ``seed``); one that would exceed
    ``max_seconds`` starts the next utterance; an unfinished last one is dropped."""
    rng = np.random.default_rng(seed)
    gap = np.zeros(int(GAP_SECONDS * sample_rate))
    max_len = int(max_seconds * sample_rate)
    names, parts, length = [], [], 0

    def target():
        return int(rng.uniform(min_seconds, (min_seconds + max_seconds) / 2) * sample_rate)

    def done(names, parts):
        y = np.concatenate(parts)
        peak = np.abs(y).max()
        return names, (y * (0.99 / peak) if peak > 0.99 else y).astype(np.float32)

    want, min_len = target(), int(min_seconds * sample_rate)
    for name, x in clips:
        if len(x) > max_len:
            continue
        if parts and length + len(gap) + len(x) > max_len:  # no room: close it (if long enough), restart
            if length >= min_len:
                yield done(names, parts)
            names, parts, length, want = [], [], 0, target()
        if parts:
            parts.append(gap)
            length += len(gap)
        names.append(name)
        parts.append(x)
        length += len(x)
        if length >= want:
            yield done(names, parts)
            names, parts, length, want = [], [], 0, target()


def _voice_seed(voice: str) -> int:
    return zlib.crc32(f"{voice}:{VOICES_VERSION}".encode())


def _build_voice_pools(root: Path, cfg, progress: bool, journal=None, sample_rate: int = 16000):
    """Decode, trim, join and write the utterances of every voice of :data:`VOICES` under
    ``root/speech/<voice>/``; returns ``[(voice, path)]``. A voice whose ``pool.json``
    is there (written after its utterances) is not decoded again (an interrupted build
    resumes voice by voice)."""
    from concurrent.futures import ThreadPoolExecutor

    from sedemo.data.sources import MIN_SPEECH_ACTIVITY, MIN_SPEECH_LEVEL_DB, _progress, _write
    from sedemo.dsp import audio

    missing = _missing_packages()
    if missing:
        raise FileNotFoundError(_missing_message(missing))
    speech = []
    params = {"version": VOICES_VERSION, "min_seconds": cfg.min_seconds, "max_seconds": cfg.max_seconds}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for voice in _progress(list(VOICES), len(VOICES), "decode voices", progress):
            folder = root / "speech" / voice
            index = _read_index(folder)
            if index is None or index.get("params") != params:
                clips = _clips(voice)

                def load(clip):
                    x, _ = _decode(clip, sample_rate)
                    return clip.name, (None if x is None else _trim_and_level(x, sample_rate))

                decoded = ((n, x) for start in range(0, len(clips), 256)  # a bounded read-ahead
                           for n, x in pool.map(load, clips[start:start + 256]) if x is not None)
                utts = []
                for names, y in _pack(decoded, cfg.min_seconds, cfg.max_seconds, sample_rate, _voice_seed(voice)):
                    level, activity = audio.active_level(y, sample_rate)
                    if not level > MIN_SPEECH_LEVEL_DB or activity < MIN_SPEECH_ACTIVITY:
                        continue
                    dst = folder / f"u{len(utts):05d}.flac"
                    _write(dst, y, journal)
                    utts.append({"file": dst.name, "seconds": round(len(y) / sample_rate, 3), "clips": names})
                index = {"voice": voice, "params": params, "clips": len(clips), "utterances": utts}
                if journal is not None:
                    journal.add(folder / POOL_INDEX)
                _write_index(folder, index)
            speech += [(voice, folder / u["file"]) for u in index["utterances"]]
    return speech


def _read_index(folder: Path):
    try:
        index = json.loads((folder / POOL_INDEX).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    ok = isinstance(index, dict) and all((folder / u["file"]).is_file() for u in index.get("utterances", []))
    return index if ok else None


def _write_index(folder: Path, index: dict):
    from sedemo._utils import atomic_output

    folder.mkdir(parents=True, exist_ok=True)
    with atomic_output(folder / POOL_INDEX) as tmp:
        tmp.write_text(json.dumps(index, ensure_ascii=False, indent=0))


def _missing_message(missing: list[str]) -> str:
    return (f"the extended voices need the Debian packages {', '.join(missing)}, which are not installed; "
            f"install them with `SEDEMO_EXTENDED_VOICES=1 bash scripts/system-deps.sh` (or `apt-get install -y "
            f"--no-install-recommends {' '.join(missing)}` as root), or build the book's corpus (--voices book)")


# --------------------------------------------------------------------------- stored summary
#: The summary of the extended corpus the default models were trained on (package data),
#: written by ``python scripts/corpus_summary.py`` from its ``info.json``: the book's
#: pages describe that corpus without building it.
EXTENDED_SUMMARY = Path(__file__).resolve().parents[1] / "results" / "corpus" / "extended.json"


def extended_summary(path=None) -> dict:
    """The stored summary of the extended corpus (default :data:`EXTENDED_SUMMARY`):
    ``{"command", "config", "splits": {split: {"speakers", "n_speakers", "sexes",
    "languages", "speech_pool_hours", "speech_pool_utterances", "mixtures",
    "mixture_hours"}}, "credits"}``. Chapter: 00_preface."""
    import json

    p = Path(path) if path is not None else EXTENDED_SUMMARY
    if not p.is_file():
        raise FileNotFoundError(f"{p} not found: build the extended corpus (make data-extended), then run "
                                "python scripts/corpus_summary.py --root data/corpus-extended")
    return json.loads(p.read_text())
