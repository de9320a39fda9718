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
    """A reader's own clean/noisy pairs: ``root/clean/*.wav`` and ``root/noisy/*.wav``
    with the same file names (VoiceBank-DEMAND's ``clean_testset_wav`` and
    ``noisy_testset_wav`` folders are recognised too). All items form the ``test``
    split unless the folder has ``train``/``valid``/``test`` sub-folders of that shape.
    Files at other sample rates are resampled to 16 kHz when loaded.
    Chapter: 01_noisy_speech."""

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


