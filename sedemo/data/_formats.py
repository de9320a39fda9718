"""Readers of the archives and raw formats that hold the extended corpus's game voices:
the ``queen.1c`` resource table of *Flight of the Amazon Queen* (MP3 speech entries) and
the raw 8-bit ``.ALS`` speech files of *Drascula*. Private to :mod:`sedemo.data.voices`.
Chapter: 00_preface.
"""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

QUEEN_MAGIC = b"QTBL"
QUEEN_HEADER = struct.Struct(">4s6s2xBH")  # magic, version, 2 skipped bytes, compression, entry count
QUEEN_ENTRY = struct.Struct(">12sBII")  # name (NUL padded), bundle, offset, size
QUEEN_MP3 = 1  # compression code of MP3 speech

ALS_RATE = 11025  # Drascula speech: raw unsigned 8-bit mono at 11.025 kHz
ALS_HEADER = 32  # bytes skipped at the start of every .ALS file (ScummVM does the same) ...
ALS_TRAILER = 32  # ... and at its end


def read_queen_table(path: Path) -> tuple[str, int, list[tuple[str, int, int]]]:
    """The resource table of a ``queen.1c`` file: ``(version, compression, [(name, offset,
    size), ...])``. Raises ``ValueError`` for a file that is not one (wrong magic, a table
    that runs past the end of the file, an entry outside the file).

    Layout (big-endian): ``QTBL``, a 6-byte version string, 2 skipped bytes, a 1-byte
    compression code (1 = MP3), a uint16 entry count, then entries of a 12-byte name,
    a 1-byte bundle number, a uint32 offset and a uint32 size.
    Chapter: 00_preface."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(QUEEN_HEADER.size)
        if len(head) < QUEEN_HEADER.size or head[:4] != QUEEN_MAGIC:
            raise ValueError(f"{path} is not a Flight of the Amazon Queen data file (no QTBL header)")
        _, version, compression, count = QUEEN_HEADER.unpack(head)
        table = fh.read(count * QUEEN_ENTRY.size)
    if len(table) < count * QUEEN_ENTRY.size:
        raise ValueError(f"{path}: its table of {count} entries runs past the end of the file")
    entries = []
    for i in range(count):
        raw_name, _bundle, offset, length = QUEEN_ENTRY.unpack_from(table, i * QUEEN_ENTRY.size)
        name = raw_name.split(b"\0", 1)[0].decode("ascii", errors="replace")
        if offset + length > size:
            raise ValueError(f"{path}: entry {name} ({offset}+{length}) lies outside the file ({size} bytes)")
        entries.append((name, offset, length))
    return version.split(b"\0", 1)[0].decode("ascii", errors="replace"), compression, entries


def read_entry(path: Path, offset: int, size: int) -> bytes:
    """``size`` bytes of ``path`` from ``offset`` (one archive entry).
    Chapter: 00_preface."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(size)
    if len(data) != size:
        raise ValueError(f"{path}: entry at {offset} is cut short ({len(data)} of {size} bytes)")
    return data


def decode_mp3(data: bytes, name: str = "entry") -> tuple[np.ndarray, int]:
    """Decode an MP3 stream held in memory: ``(samples float32 (L,), rate)``, mono.

    libsndfile (>= 1.1, shipped in the soundfile wheel) decodes MPEG audio in the process;
    where it cannot, the ffmpeg binary of ``imageio-ffmpeg`` (as :mod:`sedemo.dsp.audio`
    uses) decodes it through a pipe.
    Chapter: 00_preface."""
    import soundfile as sf

    try:
        x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        return np.ascontiguousarray(x.mean(axis=1)), int(sr)
    except (RuntimeError, TypeError, sf.SoundFileError):
        pass
    import subprocess

    from sedemo.dsp.audio import AudioDecodeError, _ffmpeg_exe

    proc = subprocess.run([_ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "mp3",
                           "-i", "pipe:0", "-vn", "-f", "au", "-c:a", "pcm_f32be", "-"],
                          input=data, capture_output=True, check=False)
    if proc.returncode != 0 or len(proc.stdout) <= 24:
        raise AudioDecodeError(f"cannot decode the MP3 {name}: {proc.stderr.decode(errors='replace').strip()}")
    x, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
    return np.ascontiguousarray(x.mean(axis=1)), int(sr)


def decode_als(data: bytes) -> tuple[np.ndarray, int]:
    """Decode a Drascula ``.ALS`` speech file: skip its 32-byte header and 32-byte trailer,
    then unsigned 8-bit samples (128 = silence) at 11.025 kHz: ``(float32 (L,), 11025)``.
    Chapter: 00_preface."""
    body = np.frombuffer(data, dtype=np.uint8)[ALS_HEADER:max(ALS_HEADER, len(data) - ALS_TRAILER)]
    return (body.astype(np.float32) - 128.0) / 128.0, ALS_RATE


def write_queen(path: Path, entries: list[tuple[str, bytes]], version: bytes = b"CEM10",
                compression: int = QUEEN_MP3) -> Path:
    """Write a ``queen.1c``-like file holding ``entries`` (name, bytes): the format
    :func:`read_queen_table` reads. For tests (fixtures that mimic the real file).
    Chapter: 00_preface."""
    head = QUEEN_HEADER.pack(QUEEN_MAGIC, version.ljust(6, b"\0")[:6], compression, len(entries))
    offset = len(head) + len(entries) * QUEEN_ENTRY.size
    table, blobs = b"", b""
    for name, blob in entries:
        table += QUEEN_ENTRY.pack(name.encode("ascii").ljust(12, b"\0")[:12], 1, offset, len(blob))
        offset += len(blob)
        blobs += blob
    Path(path).write_bytes(head + table + blobs)
    return Path(path)


def encode_als(x: np.ndarray) -> bytes:
    """Raw Drascula ``.ALS`` bytes for samples ``x`` in [-1, 1] (with the 32-byte header and
    trailer, silent): the format :func:`decode_als` reads. For tests.
    Chapter: 00_preface."""
    body = np.clip(np.round(np.asarray(x, dtype=np.float64) * 128 + 128), 0, 255).astype(np.uint8)
    pad = bytes([128]) * ALS_HEADER
    return pad + body.tobytes() + bytes([128]) * ALS_TRAILER
