"""The book's corpus: deterministic clean/noisy pairs at 16 kHz from real recordings.

Chapter 0 (``book/00_preface.md``) credits the recordings and chapter 1
(``book/01_noisy_speech.ipynb``) listens to them; every experiment of the book
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
(ITU-T P.56, :func:`sedemo.audio.active_level`), noise is scaled so that
speech level minus noise RMS level equals the chosen SNR, and the pair is scaled
down together only if the mixture would clip. Everything is drawn from NumPy
generators seeded by ``(seed, split, index)``: the same command builds the same
corpus on every machine. Layout on disk::

    ROOT/info.json              which source, parameters, credits
    ROOT/manifest.csv           one row per mixture (split, id, paths, speaker, noise, SNR ...)
    ROOT/speech/<speaker>/*.flac   decoded speech pool (16 kHz)
    ROOT/noise/<split>/*.flac      noise pool (16 kHz)
    ROOT/<split>/<id>_{clean,noisy}.flac   the mixtures (16-bit FLAC)

Build it with ``python -m sedemo.data build`` (``make data``).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import audio

SAMPLE_RATE = 16000
SPLITS = ("train", "valid", "test")
CORPUS_VERSION = 2  # 2: the Asterisk 'silence' prompts are no longer used as speech

ASTERISK_DIR = Path("/usr/share/asterisk/sounds")
LINCITY_DIR = Path("/usr/share/games/lincity-ng/sounds")
MINETEST_DIR = Path("/usr/share/games/minetest/games/minetest_game/mods")
SONICPI_DIR = Path("/usr/share/sonic-pi/samples")

# speaker folder -> (split, sex, language, licence, recorded by)
SPEAKERS = {
    "en_US_f_Allison": ("train", "female", "English (US)", "CC-BY-SA-3.0", "Allison Smith"),
    "it_IT_m_Carlo": ("train", "male", "Italian", "CC-BY-3.0", "Carlo Flora"),
    "ru_RU_f_IvrvoiceRU": ("valid", "female", "Russian", "CC-BY-3.0", "Maxim Topal (ivrvoice.ru)"),
    "fr_CA_f_June": ("test", "female", "French (Canada)", "CC-BY-SA-3.0", "June Wallack"),
}

# (source, regular expression on the file stem, noise type)
NOISE_RULES = [
    ("lincity", r"^(TraficHigh|TraficLow|RailTrain|DirtTrack|Harbor)\d*$", "traffic"),
    ("minetest", r"^carts_cart_moving", "traffic"),
    ("lincity", r"^(SportsCroud|School|Market(Full|Med|Low)|Residential(High|Med|Low)|Shanty|University|Commune|Health)\d*$", "crowd"),
    ("lincity", r"^(IndustryHigh|IndustryLight|Mill|CoalMine|OreMine|Blacksmith|PowerCoal(Full|Med|Low)|WindMill|WindMillHTech|Recycle|Pottery|MonumentConstruction)\d*$", "machinery"),
    ("minetest", r"^default_furnace_active$", "machinery"),
    ("sonicpi", r"^(loop_industrial|loop_3d_printer|ambi_soft_buzz|ambi_haunted_hum)$", "machinery"),
    ("lincity", r"^(Water|ParklandLake|Green|Farm|OrganicFarm|Fire|FireWasteland)\d*$", "nature"),
    ("minetest", r"^(env_sounds_water|env_sounds_lava|fire_fire|fire_large|fire_small)", "nature"),
    ("sonicpi", r"^vinyl_hiss$", "stationary"),
]
# a prompt counts as speech only if its P.56 active level and activity exceed these
MIN_SPEECH_LEVEL_DB = -50.0
MIN_SPEECH_ACTIVITY = 0.2
NOISE_TYPES = ("traffic", "crowd", "machinery", "nature", "stationary")
SYNTHETIC_NOISES = ("white", "pink", "brown", "hum")

CREDITS = {
    "debian": [
        ("English (US) prompts, speaker Allison", "Allison Smith, Asterisk core sounds (Digium)", "CC-BY-SA-3.0", "asterisk-core-sounds-en-g722"),
        ("French (Canada) prompts, speaker June", "June Wallack, Asterisk core sounds", "CC-BY-SA-3.0", "asterisk-core-sounds-fr-g722"),
        ("Italian prompts, speaker Carlo", "Carlo Flora, Asterisk core sounds", "CC-BY-3.0", "asterisk-core-sounds-it-g722"),
        ("Russian prompts", "Maxim Topal (ivrvoice.ru), Asterisk core sounds", "CC-BY-3.0", "asterisk-core-sounds-ru-g722"),
        ("City ambience loops (traffic, crowd, industry, water, farm, fire)", "LinCity-NG authors", "GPL-2+", "lincity-ng-data"),
        ("Game sounds (carts, furnace, water, lava, fire)", "celeron55 (Perttu Ahola) and Minetest contributors", "CC-BY-SA-3.0", "minetest-data"),
        ("Samples (vinyl hiss, buzz, hum, industrial loops)", "Sonic Pi samples (Samuel Aaron and contributors; mostly CC0)", "CC0-1.0 / see package", "sonic-pi-samples"),
        ("Synthetic white, pink, brown noise and mains hum", "generated by sedemo", "-", "-"),
    ],
    "synthetic": [
        ("Synthetic speech", "eSpeak NG (via the espeakng-loader wheel)", "GPL-3+", "espeakng-loader"),
        ("Synthetic white, pink, brown noise, mains hum and espeak babble", "generated by sedemo", "-", "-"),
    ],
}


@dataclass(frozen=True)
class CorpusConfig:
    """Parameters of the corpus build (all sizes are numbers of mixtures).

    The test split is a grid: every noise type x every SNR in ``test_snrs`` x
    ``n_test_per_cell`` utterances, so tables can be read by SNR and noise type.
    """

    n_train: int = 800
    n_valid: int = 100
    n_test_per_cell: int = 6
    train_snr_range: tuple = (-5.0, 15.0)
    valid_snr_range: tuple = (-5.0, 15.0)
    test_snrs: tuple = (-5.0, 0.0, 5.0, 10.0)
    speech_level_db: float = -26.0
    min_seconds: float = 2.0
    max_seconds: float = 8.0
    synthetic_utterances_per_speaker: int = 90
    seed: int = 0


def default_root() -> Path:
    """Where the corpus lives: ``$SEDEMO_DATA``, else ``data/corpus`` in a source
    checkout, else ``~/.cache/sedemo/corpus``."""
    env = os.environ.get("SEDEMO_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[1]
    if (repo / "pyproject.toml").exists() and os.access(repo, os.W_OK):
        return repo / "data" / "corpus"
    return Path.home() / ".cache" / "sedemo" / "corpus"


def debian_sources_present() -> bool:
    """True when the Asterisk speech packages of all four speakers are installed."""
    return all((ASTERISK_DIR / spk).is_dir() for spk in SPEAKERS)


# --------------------------------------------------------------------------- items
@dataclass
class Item:
    """One clean/noisy pair. ``load()`` returns ``(clean, noisy)`` float32 (L,) at 16 kHz;
    the noise is ``noisy - clean``."""

    split: str
    id: str
    clean_path: Path
    noisy_path: Path
    speaker: str = ""
    noise_type: str = ""
    noise_source: str = ""
    snr_db: float = float("nan")
    seconds: float = float("nan")
    extra: dict = field(default_factory=dict)

    def load(self):
        clean = audio.load(self.clean_path, sample_rate=SAMPLE_RATE)
        noisy = audio.load(self.noisy_path, sample_rate=SAMPLE_RATE)
        if len(clean) != len(noisy):
            raise ValueError(
                f"{self.id}: clean has {len(clean)} samples but noisy has {len(noisy)}; "
                "the pair is misaligned; rebuild the corpus (python -m sedemo.data build --force)"
            )
        return clean, noisy


class Corpus:
    """A built corpus: its ``info`` (source, parameters, credits) and its items by split.

    ``Corpus.items("test")`` lists :class:`Item` objects; ``describe()`` returns a
    Markdown paragraph saying which corpus this is, for the book.
    """

    def __init__(self, root: Path, info: dict, items: list[Item]):
        self.root = Path(root)
        self.info = info
        self._items = items

    @property
    def source(self) -> str:
        return self.info["source"]

    def items(self, split: str | None = None) -> list[Item]:
        if split is not None and split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
        return [it for it in self._items if split is None or it.split == split]

    def __len__(self):
        return len(self._items)

    def speakers(self, split: str) -> list[str]:
        return sorted({it.speaker for it in self.items(split)})

    def noise_sources(self, split: str) -> list[str]:
        return sorted({it.noise_source for it in self.items(split)})

    def describe(self) -> str:
        """Markdown: which corpus, its splits and sizes, and how it was mixed."""
        lines = []
        if self.source == "debian":
            lines.append(
                "**Corpus: real speech and real noise** (Asterisk prompts; LinCity-NG, "
                "Minetest and Sonic Pi ambience), built by `python -m sedemo.data build`."
            )
        elif self.source == "synthetic":
            lines.append(
                "**Corpus: SYNTHETIC fallback** (espeak-ng speech and synthetic noise): the "
                "Debian speech packages were not installed when this page was built, so "
                "every number here is measured on machine speech, not on human speech."
            )
        else:
            lines.append(f"**Corpus: user folder** `{self.info.get('folder', '')}`.")
        for split in SPLITS:
            its = self.items(split)
            if not its:
                continue
            minutes = sum(it.seconds for it in its) / 60
            lines.append(
                f"- *{split}*: {len(its)} mixtures, {minutes:.1f} min; speakers "
                f"{', '.join(self.speakers(split))}; {len(self.noise_sources(split))} noise files"
            )
        lines.append(
            f"- speech at {self.info.get('config', {}).get('speech_level_db', -26)} dBFS active "
            "level (ITU-T P.56); SNR = active speech level - noise RMS level"
        )
        return "\n".join(lines)


def _read_manifest(root: Path) -> list[Item]:
    items = []
    with open(root / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            items.append(
                Item(
                    split=row["split"],
                    id=row["id"],
                    clean_path=root / row["clean"],
                    noisy_path=root / row["noisy"],
                    speaker=row["speaker"],
                    noise_type=row["noise_type"],
                    noise_source=row["noise_source"],
                    snr_db=float(row["snr_db"]),
                    seconds=float(row["seconds"]),
                )
            )
    return items


def load_corpus(root: str | Path | None = None) -> Corpus:
    """Open the corpus built by :func:`build` (chapters 1-7 call this first).

    Raises ``FileNotFoundError`` with the command to run when it is missing.
    """
    root = Path(root) if root is not None else default_root()
    info_path = root / "info.json"
    if not info_path.exists():
        raise FileNotFoundError(
            f"no corpus at {root}: build it first with `make data` or "
            f"`python -m sedemo.data build --root {root}` (a few minutes, offline)"
        )
    info = json.loads(info_path.read_text())
    if info.get("version") != CORPUS_VERSION:
        raise RuntimeError(
            f"the corpus at {root} was built by another version of sedemo "
            f"({info.get('version')} != {CORPUS_VERSION}); rebuild it with "
            "`python -m sedemo.data build --force`"
        )
    return Corpus(root, info, _read_manifest(root))


# --------------------------------------------------------------------------- pools
def _family(stem: str) -> str:
    """Noise family: the file stem without its take number (``TraficHigh2`` -> ``TraficHigh``)."""
    return re.sub(r"[._-]?\d+$", "", stem)


def _hash01(text: str) -> float:
    return zlib.crc32(text.encode()) / 2**32


def _debian_noise_files() -> list[tuple[Path, str, str]]:
    """All usable noise files as (path, noise type, source package)."""
    found = []
    candidates = {
        "lincity": sorted(LINCITY_DIR.glob("*.wav")),
        "minetest": sorted(MINETEST_DIR.glob("*/sounds/*.ogg")),
        "sonicpi": sorted(SONICPI_DIR.glob("*.flac")),
    }
    for path_source, paths in candidates.items():
        for p in paths:
            stem = p.stem
            for src, pattern, ntype in NOISE_RULES:
                if src == path_source and re.search(pattern, stem):
                    found.append((p, ntype, src))
                    break
    return found


def split_noise_families(families_by_type: dict[str, list[str]]) -> dict[str, str]:
    """Assign each noise family to a split: within each noise type, families are
    ordered by a hash of their name; positions 0, 5, 10 ... go to test, 1, 6, ... to
    valid, the rest to train. Deterministic, and every type with >= 3 families
    appears in every split."""
    assignment = {}
    for ntype, fams in families_by_type.items():
        ordered = sorted(set(fams), key=_hash01)
        for i, fam in enumerate(ordered):
            assignment[fam] = "test" if i % 5 == 0 else "valid" if i % 5 == 1 else "train"
    return assignment


def synthetic_noise(kind: str, seconds: float, seed: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Synthetic noise, float32 (L,), RMS 0.1: ``white``, ``pink`` (1/f power),
    ``brown`` (1/f^2), ``hum`` (50 or 60 Hz mains hum with 8 harmonics and a little
    hiss). Shaped in the frequency domain from seeded Gaussian noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    if kind == "hum":
        t = np.arange(n) / sample_rate
        f0 = 50.0 if rng.random() < 0.5 else 60.0
        x = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) for k in range(1, 9))
        x = x + 0.02 * rng.standard_normal(n)
    elif kind in ("white", "pink", "brown"):
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / sample_rate)
        f[0] = f[1]
        exponent = {"white": 0.0, "pink": 0.5, "brown": 1.0}[kind]
        x = np.fft.irfft(spec / f**exponent, n)
    else:
        raise ValueError(f"unknown synthetic noise {kind!r}; choose one of {SYNTHETIC_NOISES}")
    x = x - x.mean()
    return (0.1 * x / np.sqrt(np.mean(x**2))).astype(np.float32)


def _write(path: Path, x: np.ndarray):
    path.parent.mkdir(parents=True, exist_ok=True)
    audio.save(path, x, SAMPLE_RATE)


def _progress(iterable, total, desc, enabled):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    # in a log (not a terminal) print a line every 10 s instead of a live bar
    return tqdm(iterable, total=total, desc=desc, unit="file", file=sys.stderr,
                mininterval=0.1 if sys.stderr.isatty() else 10.0)


def _build_debian_pools(root: Path, cfg: CorpusConfig, progress: bool):
    """Decode the speech prompts and noise loops into FLAC pools at 16 kHz."""
    bytes_per_second = 8000  # G.722 at 64 kbit/s
    jobs = []
    for spk in SPEAKERS:
        for p in sorted((ASTERISK_DIR / spk).rglob("*.g722")):
            secs = p.stat().st_size / bytes_per_second
            if "silence" in p.relative_to(ASTERISK_DIR / spk).parts:
                continue  # the prompts under silence/ are recorded room tone, not speech
            if cfg.min_seconds <= secs <= cfg.max_seconds:
                rel = p.relative_to(ASTERISK_DIR / spk).with_suffix("")
                jobs.append((p, spk, root / "speech" / spk / (str(rel).replace("/", "__") + ".flac")))

    def decode(job):
        src, spk, dst = job
        if not dst.exists():
            x = audio.load(src, sample_rate=SAMPLE_RATE)
            level, activity = audio.active_level(x, SAMPLE_RATE)
            if not level > MIN_SPEECH_LEVEL_DB or activity < MIN_SPEECH_ACTIVITY:
                return None  # no speech in it (room tone, a click): never a clean target
            _write(dst, x)
        return spk, dst

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        decoded = list(_progress(pool.map(decode, jobs), len(jobs), "decode speech", progress))
    speech = [d for d in decoded if d is not None]

    noise_files = _debian_noise_files()
    fams = {}
    for p, ntype, _ in noise_files:
        fams.setdefault(ntype, []).append(_family(p.stem))
    fam_split = split_noise_families(fams)
    noise = []
    for p, ntype, src in _progress(noise_files, len(noise_files), "decode noise", progress):
        split = fam_split[_family(p.stem)]
        dst = root / "noise" / split / f"{ntype}__{src}__{p.stem}.flac"
        if not dst.exists():
            x = audio.load(p, sample_rate=SAMPLE_RATE)
            if len(x) < SAMPLE_RATE // 2 or audio.rms_db(x) < -60:
                continue  # too short or nearly silent to serve as noise
            x = x - x.mean()
            peak = np.abs(x).max()
            if peak > 0.99:
                x = x * (0.99 / peak)
            _write(dst, x)
        noise.append((split, ntype, f"{src}:{p.name}", dst))
    noise += _synthetic_noise_pool(root, cfg)
    return speech, noise


def _synthetic_noise_pool(root: Path, cfg: CorpusConfig):
    out = []
    for s_i, split in enumerate(SPLITS):
        for k_i, kind in enumerate(SYNTHETIC_NOISES):
            dst = root / "noise" / split / f"stationary__synthetic__{kind}.flac"
            if not dst.exists():
                _write(dst, synthetic_noise(kind, 12.0, seed=cfg.seed * 1000 + 10 * s_i + k_i))
            out.append((split, "stationary", f"synthetic:{kind}-{split}", dst))
    return out


# espeak-ng "speakers" of the synthetic fallback: (voice, pitch 0-100, words/min, split)
SYNTH_SPEAKERS = {
    "espeak_en-us_p35": ("en-us", 35, 165, "train"),
    "espeak_en-gb_p65": ("en-gb", 65, 150, "train"),
    "espeak_en-us_p80": ("en-us", 80, 175, "valid"),
    "espeak_en-gb_p45": ("en-gb", 45, 160, "test"),
}
_WORDS = (
    "the birch canoe slid on smooth planks glue sheet to dark blue background it is easy "
    "to tell depth of a well these days chicken leg is rare dish rice often served in round "
    "bowls juice of lemons makes fine punch box was thrown beside parked truck hogs were fed "
    "chopped corn and garbage four hours of steady work faced us large size in stockings is "
    "hard to sell please leave your message after the tone all circuits are busy now"
).split()


class _Espeak:
    """Minimal ctypes driver of the espeak-ng library shipped by ``espeakng-loader``.

    espeak-ng's output differs by a few samples from call to call (its own
    internal randomisation), so the synthetic speech pool is not bit-exact across
    builds; the mixtures are deterministic given the pool on disk."""

    def __init__(self):
        import ctypes

        try:
            import espeakng_loader
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "neither the Debian speech packages nor espeakng-loader are available: "
                "install one (`apt-get install asterisk-core-sounds-en-g722 ...`, see "
                "README) or `pip install espeakng-loader`"
            ) from exc
        self.ctypes = ctypes
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_parent = os.path.dirname(espeakng_loader.get_data_path())
        self.rate = self.lib.espeak_Initialize(2, 0, data_parent.encode(), 0)  # 2 = synchronous
        if self.rate <= 0:
            raise RuntimeError("espeak-ng failed to initialise")
        self._chunks = []
        proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
        self._cb = proto(self._collect)
        self.lib.espeak_SetSynthCallback(self._cb)
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]

    def _collect(self, wav, n, events):
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def say(self, text: str, voice: str, pitch: int, rate: int) -> np.ndarray:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            self.lib.espeak_SetVoiceByName(b"en")
        self.lib.espeak_SetParameter(1, rate, 0)  # espeakRATE
        self.lib.espeak_SetParameter(3, pitch, 0)  # espeakPITCH
        self._chunks = []
        data = text.encode()
        self.lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 1, None, None)
        self.lib.espeak_Synchronize()
        x = np.concatenate(self._chunks).astype(np.float32) / 32768.0
        return audio.resample(x, self.rate, SAMPLE_RATE)


def _build_synthetic_pools(root: Path, cfg: CorpusConfig, progress: bool):
    why = "requested" if debian_sources_present() else "used because the Debian speech packages are missing"
    warnings.warn(
        f"building the SYNTHETIC fallback corpus (espeak-ng speech), {why}. "
        "Install the packages listed in README.md (make system-deps) for real speech.",
        stacklevel=3,
    )
    print("*" * 72 + "\n* SYNTHETIC CORPUS: espeak-ng speech, not human recordings.\n" + "*" * 72, file=sys.stderr)
    tts = _Espeak()
    speech = []
    jobs = [(spk, i) for spk in SYNTH_SPEAKERS for i in range(cfg.synthetic_utterances_per_speaker)]
    for spk, i in _progress(jobs, len(jobs), "synthesise speech", progress):
        voice, pitch, rate, _ = SYNTH_SPEAKERS[spk]
        dst = root / "speech" / spk / f"utt{i:03d}.flac"
        if not dst.exists():
            rng = np.random.default_rng([cfg.seed, zlib.crc32(spk.encode()), i])
            text = " ".join(rng.choice(_WORDS, size=int(rng.integers(7, 16))))
            x = tts.say(text, voice, pitch, rate)
            _write(dst, 0.5 * x / max(np.abs(x).max(), 1e-6))
        speech.append((spk, dst))
    noise = _synthetic_noise_pool(root, cfg)
    # babble: four overlapping espeak talkers not used as targets in that split
    for s_i, split in enumerate(SPLITS):
        dst = root / "noise" / split / "crowd__synthetic__babble.flac"
        if not dst.exists():
            rng = np.random.default_rng([cfg.seed, 99, s_i])
            layers = []
            for j in range(4):
                text = " ".join(rng.choice(_WORDS, size=40))
                layers.append(tts.say(text, "en-us", int(rng.integers(20, 90)), int(rng.integers(140, 190))))
            n = min(len(x) for x in layers)
            x = sum(layer[:n] for layer in layers)
            _write(dst, (0.1 * x / np.sqrt(np.mean(x**2))).astype(np.float32))
        noise.append((split, "crowd", f"synthetic:babble-{split}", dst))
    return speech, noise


# --------------------------------------------------------------------------- mixing
def _speaker_split(speaker: str, source: str) -> str:
    """The split a speaker belongs to (speakers never cross splits)."""
    return SPEAKERS[speaker][0] if source == "debian" else SYNTH_SPEAKERS[speaker][3]


def _plan(split: str, cfg: CorpusConfig, speech: list, noise: list, source: str):
    """The list of mixtures of one split: (id, speech file, noise entry, snr, rng seed)."""
    split_idx = SPLITS.index(split)
    utts = [(spk, p) for spk, p in speech if _speaker_split(spk, source) == split]
    noises = [n for n in noise if n[0] == split]
    if not utts or not noises:
        raise RuntimeError(f"no speech or no noise for split {split!r}; is the corpus source complete?")
    plan = []
    if split == "test":
        types = sorted({n[1] for n in noises})
        k = 0
        for ntype in types:
            pool = [n for n in noises if n[1] == ntype]
            for snr in cfg.test_snrs:
                for j in range(cfg.n_test_per_cell):
                    rng = np.random.default_rng([cfg.seed, split_idx, k])
                    utt = utts[(k * 7) % len(utts)]
                    plan.append((f"{split}{k:04d}", utt, pool[j % len(pool)], float(snr), rng))
                    k += 1
    else:
        n = cfg.n_train if split == "train" else cfg.n_valid
        lo, hi = cfg.train_snr_range if split == "train" else cfg.valid_snr_range
        for k in range(n):
            rng = np.random.default_rng([cfg.seed, split_idx, k])
            utt = utts[int(rng.integers(len(utts)))]
            nz = noises[int(rng.integers(len(noises)))]
            plan.append((f"{split}{k:04d}", utt, nz, float(rng.uniform(lo, hi)), rng))
    return plan


def make_mixture(clean: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator,
                 speech_level_db: float = -26.0):
    """Mix one utterance the way the corpus does (chapter 1).

    ``clean``, ``noise``: float (L,), (M,) at 16 kHz. Sets the clean active level to
    ``speech_level_db`` dBFS (P.56), fits the noise to the clean length at a random
    offset, scales it to ``snr_db`` and, if the mixture would clip, scales clean and
    noise down together. Returns ``(clean, noisy)`` float32 with ``noisy - clean``
    the scaled noise.
    """
    level, _ = audio.active_level(clean, SAMPLE_RATE)
    clean = clean * 10 ** ((speech_level_db - level) / 20)
    mix = audio.mix_at_snr(clean, noise, snr_db, sample_rate=SAMPLE_RATE, level="p56", rng=rng)
    noisy, clean = np.asarray(mix.noisy, dtype=np.float64), np.asarray(mix.clean, dtype=np.float64)
    peak = max(np.abs(noisy).max(), np.abs(clean).max())
    if peak > 0.99:
        noisy, clean = noisy * 0.99 / peak, clean * 0.99 / peak
    return clean.astype(np.float32), noisy.astype(np.float32)


def build(root: str | Path | None = None, source: str = "auto", config: CorpusConfig = CorpusConfig(),
          progress: bool = True, force: bool = False) -> Corpus:
    """Build (or reuse) the corpus at ``root`` and return it.

    ``source``: ``"auto"`` (Debian packages when present, else the synthetic fallback,
    with a loud warning), ``"debian"`` or ``"synthetic"``. An existing corpus with the
    same source and parameters is reused unless ``force``. Deterministic: the same
    arguments give the same files. Takes about a minute on two cores.
    """
    root = Path(root) if root is not None else default_root()
    if source == "auto":
        source = "debian" if debian_sources_present() else "synthetic"
    if source not in ("debian", "synthetic"):
        raise ValueError(f"unknown source {source!r}; choose 'auto', 'debian' or 'synthetic'")
    if source == "debian" and not debian_sources_present():
        raise FileNotFoundError(
            f"the Asterisk speech packages are not installed under {ASTERISK_DIR}; install them "
            "(see README.md: `make system-deps`) or use source='synthetic'"
        )
    info_path = root / "info.json"
    wanted = {"version": CORPUS_VERSION, "source": source, "config": _jsonable(asdict(config))}
    if info_path.exists() and not force:
        old = json.loads(info_path.read_text())
        if {k: old.get(k) for k in wanted} == wanted:
            return load_corpus(root)
        if old.get("version") != CORPUS_VERSION and old.get("source") == source:
            print(f"the corpus at {root} is from an older version of sedemo "
                  f"({old.get('version')}); rebuilding it", file=sys.stderr)
            force = True
        else:
            raise RuntimeError(
                f"a different corpus already exists at {root} (source {old.get('source')}); "
                "pass force=True (--force) to rebuild it, or choose another --root"
            )
    if force and root.exists():
        import shutil

        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    pools = _build_debian_pools if source == "debian" else _build_synthetic_pools
    speech, noise = pools(root, config, progress)
    rows = []
    noise_cache: dict[Path, np.ndarray] = {}
    for split in SPLITS:
        plan = _plan(split, config, speech, noise, source)
        for mix_id, (spk, spath), (_, ntype, nsrc, npath), snr, rng in _progress(plan, len(plan), f"mix {split}", progress):
            if npath not in noise_cache:
                noise_cache[npath] = audio.load(npath, sample_rate=SAMPLE_RATE)
            clean, noisy = make_mixture(audio.load(spath, sample_rate=SAMPLE_RATE), noise_cache[npath],
                                        snr, rng, config.speech_level_db)
            rel_c, rel_n = Path(split) / f"{mix_id}_clean.flac", Path(split) / f"{mix_id}_noisy.flac"
            _write(root / rel_c, clean)
            _write(root / rel_n, noisy)
            rows.append({
                "split": split, "id": mix_id, "clean": str(rel_c), "noisy": str(rel_n),
                "speaker": spk, "speech_file": str(Path(spath).relative_to(root)),
                "noise_type": ntype, "noise_source": nsrc, "snr_db": f"{snr:.3f}",
                "seconds": f"{len(clean) / SAMPLE_RATE:.3f}",
            })
    with open(root / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    info = dict(wanted, credits=CREDITS[source], sample_rate=SAMPLE_RATE,
                speakers={s: _speaker_split(s, source) for s in {r["speaker"] for r in rows}})
    info_path.write_text(json.dumps(info, indent=1))
    return load_corpus(root)


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


# --------------------------------------------------------------------------- user folders
class FolderCorpus(Corpus):
    """A reader's own clean/noisy pairs: ``root/clean/*.wav`` and ``root/noisy/*.wav``
    with the same file names (VoiceBank-DEMAND's ``clean_testset_wav`` and
    ``noisy_testset_wav`` folders are recognised too). All items form the ``test``
    split unless the folder has ``train``/``valid``/``test`` sub-folders of that shape.
    Files at other sample rates are resampled to 16 kHz when loaded."""

    CLEAN_NAMES = ("clean", "clean_testset_wav", "clean_trainset_wav", "clean_trainset_28spk_wav")
    NOISY_NAMES = ("noisy", "noisy_testset_wav", "noisy_trainset_wav", "noisy_trainset_28spk_wav")

    def __init__(self, root: str | Path):
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"{root} is not a folder")
        items = []
        for split_dir, split in self._split_dirs(root):
            clean_dir = next((split_dir / n for n in self.CLEAN_NAMES if (split_dir / n).is_dir()), None)
            noisy_dir = next((split_dir / n for n in self.NOISY_NAMES if (split_dir / n).is_dir()), None)
            if clean_dir is None or noisy_dir is None:
                continue
            clean_files = {p.name: p for p in clean_dir.iterdir() if p.suffix.lower() in (".wav", ".flac")}
            noisy_files = {p.name: p for p in noisy_dir.iterdir() if p.suffix.lower() in (".wav", ".flac")}
            unmatched = sorted(set(clean_files) ^ set(noisy_files))
            if unmatched:
                raise ValueError(
                    f"{len(unmatched)} files in {clean_dir} / {noisy_dir} have no partner "
                    f"(e.g. {unmatched[:3]}); every clean file needs a noisy file of the same name"
                )
            for name in sorted(clean_files):
                items.append(Item(split, Path(name).stem, clean_files[name], noisy_files[name],
                                  noise_source="user", noise_type="user"))
        if not items:
            raise FileNotFoundError(
                f"no clean/noisy pairs under {root}: expected sub-folders "
                f"{self.CLEAN_NAMES[0]}/ and {self.NOISY_NAMES[0]}/ with files of the same names"
            )
        super().__init__(root, {"source": "folder", "folder": str(root)}, items)

    @staticmethod
    def _split_dirs(root: Path):
        subs = [(root / s, s) for s in SPLITS if (root / s).is_dir()]
        if subs:
            return subs
        if (root / "clean_trainset_wav").is_dir() or (root / "clean_trainset_28spk_wav").is_dir():
            return [(root, "train"), (root, "test")]
        return [(root, "test")]


# --------------------------------------------------------------------------- CLI
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sedemo.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the corpus (decode, mix, write FLAC + manifest)")
    b.add_argument("--root", type=Path, default=None, help="where to write it (default: %(default)s -> data/corpus)")
    b.add_argument("--source", default="auto", choices=("auto", "debian", "synthetic"))
    b.add_argument("--n-train", type=int, default=CorpusConfig.n_train)
    b.add_argument("--n-valid", type=int, default=CorpusConfig.n_valid)
    b.add_argument("--n-test-per-cell", type=int, default=CorpusConfig.n_test_per_cell)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--force", action="store_true", help="delete and rebuild an existing corpus")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    i = sub.add_parser("info", help="describe the built corpus")
    i.add_argument("--root", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.cmd == "build":
        cfg = CorpusConfig(n_train=args.n_train, n_valid=args.n_valid,
                           n_test_per_cell=args.n_test_per_cell, seed=args.seed)
        corpus = build(args.root, source=args.source, config=cfg, progress=not args.quiet, force=args.force)
        print(f"corpus ready at {corpus.root}")
    else:
        corpus = load_corpus(args.root)
    print(corpus.describe())


if __name__ == "__main__":
    main()
