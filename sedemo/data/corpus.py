"""A built corpus: its items (clean/noisy pairs with their SNR and noise type), the
manifest, and :class:`FolderCorpus` for a reader's own folders of pairs.
Chapter: 01_noisy_speech.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path


from sedemo.dsp import audio
from sedemo.data.sources import CORPUS_VERSION, SAMPLE_RATE, SPLITS, default_root


# --------------------------------------------------------------------------- items
@dataclass
class Item:
    """One clean/noisy pair. ``load()`` returns ``(clean, noisy)`` float32 (L,) at 16 kHz;
    the noise is ``noisy - clean``.
    Chapter: 01_noisy_speech."""

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
    Chapter: 01_noisy_speech.
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
        extended = self.info.get("config", {}).get("voices") == "extended"
        if self.info.get("config", {}).get("bank"):
            lines.append(
                "**Validation mixtures in unseen real noise**: the validation speech of "
                f"`{self.info['config'].get('corpus')}` in held-out 0 A.D. ambient recordings, built by "
                "`python -m sedemo.data noise-bank` (for choosing models only)."
            )
        elif self.source == "debian" and extended:
            lines.append(
                "**Corpus: real speech and real noise, extended voices** (Asterisk prompts plus "
                "the recordings of Tux Paint, gcin, KLettres, KTuberling, Flight of the Amazon Queen "
                "and Drascula; LinCity-NG, Minetest and Sonic Pi ambience), built by "
                "`python -m sedemo.data build --voices extended`."
            )
        elif self.source == "debian":
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
            lines.append(f"**Corpus: user folder** `{self.info.get('folder', '')}` "
                         f"(layout: {self.info.get('layout', 'clean-noisy')}).")
        for split in SPLITS:
            its = self.items(split)
            if not its:
                continue
            minutes = sum(it.seconds for it in its) / 60
            splits = self.info.get("splits")
            summary = splits.get(split) if isinstance(splits, dict) else None
            if isinstance(summary, dict) and "n_speakers" in summary:  # the extended corpus: counts
                sexes = ", ".join(f"{n} {sex}" for sex, n in summary.get("sexes", {}).items())
                voices = (f"{summary.get('n_speakers')} voices ({sexes}), "
                          f"{summary.get('speech_pool_hours', 0):.1f} h of speech in "
                          f"{', '.join(summary.get('languages', []))}")
            else:
                voices = f"speakers {', '.join(self.speakers(split))}"
            lines.append(
                f"- *{split}*: {len(its)} mixtures, {minutes:.1f} min; {voices}; "
                f"{len(self.noise_sources(split))} noise files"
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
    Chapters: 01_noisy_speech, 02_time_frequency, 03_masks, 04_phase, 05_complex_mapping, 06_losses, 07_causality.
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


# --------------------------------------------------------------------------- user folders
class FolderCorpus(Corpus):
    """A reader's own clean/noisy pairs, in one of three layouts (files of the same name
    in the clean and the noisy folder form a pair; ``.wav`` or ``.flac``):

    * ``root/clean/`` + ``root/noisy/``: all pairs form the ``test`` split;
    * split sub-folders ``root/train/``, ``root/valid/`` (or ``val``, ``validation``,
      ``dev``) and ``root/test/``, each with ``clean/`` + ``noisy/`` (any of them may be
      missing);
    * VoiceBank-DEMAND's names: ``clean_trainset_wav`` + ``noisy_trainset_wav`` (or the
      ``_28spk_``/``_56spk_`` variants, e.g. ``clean_trainset_28spk_wav``) for ``train``,
      ``clean_testset_wav`` + ``noisy_testset_wav`` for ``test``.

    Ambiguous folders are refused with a ``ValueError`` that names the folders seen: two
    layouts at once, a clean folder without its noisy partner (or the reverse), two
    VoiceBank-DEMAND training sets, two names for one split, a split folder without
    ``clean/`` + ``noisy/``. ``FileNotFoundError`` when no layout is found. ``info``
    records the ``layout`` and the folders of each split. Files at other sample rates
    are resampled to 16 kHz when loaded.
    Chapter: 01_noisy_speech."""

    SPLIT_NAMES = {"train": ("train",), "valid": ("valid", "val", "validation", "dev"), "test": ("test",)}
    VOICEBANK = {
        "train": (("clean_trainset_wav", "noisy_trainset_wav"),
                  ("clean_trainset_28spk_wav", "noisy_trainset_28spk_wav"),
                  ("clean_trainset_56spk_wav", "noisy_trainset_56spk_wav")),
        "test": (("clean_testset_wav", "noisy_testset_wav"),),
    }
    AUDIO_SUFFIXES = (".wav", ".flac")

    def __init__(self, root: str | Path):
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"{root} is not a folder")
        layout, pairs = self._find_layout(root)
        items = []
        for split, clean_dir, noisy_dir in pairs:
            items += self._pair_items(split, clean_dir, noisy_dir)
        if not items:
            dirs = ", ".join(f"{c.relative_to(root)}/ + {n.relative_to(root)}/" for _, c, n in pairs)
            raise FileNotFoundError(f"no clean/noisy pairs under {root}: {dirs} hold no "
                                    f"{' or '.join(self.AUDIO_SUFFIXES)} files")
        info = {"source": "folder", "folder": str(root), "layout": layout,
                "splits": {s: [str(c.relative_to(root)), str(n.relative_to(root))] for s, c, n in pairs}}
        super().__init__(root, info, items)

    @classmethod
    def _find_layout(cls, root: Path):
        """``(layout, [(split, clean_dir, noisy_dir), ...])`` or a clear error."""
        subs = sorted(p.name for p in root.iterdir() if p.is_dir())
        seen = f"saw the folders {subs}" if subs else "saw no sub-folders"
        vb_names = {n for pairs in cls.VOICEBANK.values() for pair in pairs for n in pair}
        found = {
            "clean/ + noisy/": [n for n in ("clean", "noisy") if n in subs],
            "train/valid/test sub-folders": [n for names in cls.SPLIT_NAMES.values() for n in names if n in subs],
            "VoiceBank-DEMAND": [n for n in subs if n in vb_names],
        }
        kinds = [k for k, v in found.items() if v]
        if len(kinds) > 1:
            raise ValueError(f"{root} mixes the layouts {' and '.join(kinds)} ({seen}); keep one of "
                             "them there (move the other folders out)")
        if not kinds:
            raise FileNotFoundError(
                f"no clean/noisy pairs under {root} ({seen}): expected sub-folders clean/ and "
                "noisy/ with files of the same names, train/ and test/ sub-folders holding "
                "clean/ and noisy/, or VoiceBank-DEMAND's clean_testset_wav/noisy_testset_wav")
        kind = kinds[0]
        if kind == "clean/ + noisy/":
            return "clean-noisy", [("test", *cls._pair(root, "clean", "noisy", seen))]
        pairs = []
        if kind == "VoiceBank-DEMAND":
            for split, options in cls.VOICEBANK.items():
                present = [(c, n) for c, n in options if c in subs or n in subs]
                if len(present) > 1:
                    raise ValueError(f"{root} holds {len(present)} VoiceBank-DEMAND {split} sets "
                                     f"({', '.join(c for c, _ in present)}; {seen}): keep one of them there")
                if present:
                    pairs.append((split, *cls._pair(root, *present[0], seen)))
            return "voicebank-demand", pairs
        for split, names in cls.SPLIT_NAMES.items():
            present = [n for n in names if n in subs]
            if len(present) > 1:
                raise ValueError(f"{root} has {len(present)} folders for the {split} split "
                                 f"({', '.join(present)}; {seen}): keep one")
            if present:
                inner = sorted(p.name for p in (root / present[0]).iterdir() if p.is_dir())
                where = f"saw the folders {inner} in {present[0]}/" if inner else f"{present[0]}/ has no sub-folders"
                pairs.append((split, *cls._pair(root / present[0], "clean", "noisy", where)))
        return "splits", pairs

    @staticmethod
    def _pair(folder: Path, clean: str, noisy: str, seen: str):
        has_clean, has_noisy = (folder / clean).is_dir(), (folder / noisy).is_dir()
        if has_clean != has_noisy:
            have, missing = (clean, noisy) if has_clean else (noisy, clean)
            raise ValueError(f"{folder}: {have}/ has no partner {missing}/ ({seen}); clean and noisy "
                             "files come in pairs of the same names, in two folders")
        if not has_clean:
            raise ValueError(f"{folder}: no {clean}/ and {noisy}/ sub-folders ({seen}); each split "
                             "folder needs both")
        return folder / clean, folder / noisy

    @classmethod
    def _pair_items(cls, split: str, clean_dir: Path, noisy_dir: Path) -> list[Item]:
        clean_files = {p.name: p for p in clean_dir.iterdir() if p.suffix.lower() in cls.AUDIO_SUFFIXES}
        noisy_files = {p.name: p for p in noisy_dir.iterdir() if p.suffix.lower() in cls.AUDIO_SUFFIXES}
        unmatched = sorted(set(clean_files) ^ set(noisy_files))
        if unmatched:
            raise ValueError(
                f"{len(unmatched)} files in {clean_dir} / {noisy_dir} have no partner "
                f"(e.g. {unmatched[:3]}); every clean file needs a noisy file of the same name"
            )
        return [Item(split, Path(name).stem, clean_files[name], noisy_files[name],
                     noise_source="user", noise_type="user") for name in sorted(clean_files)]
