"""A reader for Qt's compiled resource files (``.rcc``), enough to take the recordings out of
GCompris (Debian ``gcompris-qt-data`` ships its sounds only inside ``.rcc`` files).

The format (Qt's ``rcc`` tool, ``QResourceRoot``; versions 1-3): a ``qres`` magic, then four
big-endian 32-bit numbers (format version and the offsets of the tree, the data and the
names; version 3 adds a flags word). The tree is an array of fixed-size nodes (14 bytes, 22
from version 2 on: a 64-bit modification time is appended): the name's offset (u32), flags
(u16; 2 = directory, 1 = zlib, 4 = zstd), then for a directory the child count and the first
child's index (u32 each), for a file the country and language (u16 each) and the data's
offset (u32). A name is its length in UTF-16 units (u16), a hash (u32) and UTF-16BE text; a
file's data is its length (u32) and its bytes (a zlib stream after a 4-byte length when
compressed, the format of ``qUncompress``).

Chapter: 05_complex_mapping.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

_DIR, _ZLIB, _ZSTD = 2, 1, 4


def read_rcc(path: str | Path) -> dict[str, bytes]:
    """Every file of a ``.rcc`` resource file: ``{"path/inside/name.ext": bytes}`` (zlib-compressed
    entries uncompressed). Raises ``ValueError`` (one line, naming the file) when the file is not
    a Qt resource file or an entry uses a compression this reader does not know (zstd).
    Chapter: 05_complex_mapping."""
    path = Path(path)
    b = path.read_bytes()
    if len(b) < 20 or b[:4] != b"qres":
        raise ValueError(f"{path} is not a Qt resource file (.rcc starts with 'qres'); give a GCompris .rcc file")
    version, tree, data, names = struct.unpack(">IIII", b[4:20])
    if version not in (1, 2, 3):
        raise ValueError(f"{path}: Qt resource format version {version} is not supported (1-3 are)")
    node = 14 if version == 1 else 22

    def name_at(off: int) -> str:
        n, = struct.unpack(">H", b[names + off:names + off + 2])
        return b[names + off + 6:names + off + 6 + 2 * n].decode("utf-16-be")

    out: dict[str, bytes] = {}
    stack = [(0, "")]
    while stack:
        i, prefix = stack.pop()
        p = tree + i * node
        name_off, flags = struct.unpack(">IH", b[p:p + 6])
        name = name_at(name_off) if i else ""
        if flags & _DIR:
            count, first = struct.unpack(">II", b[p + 6:p + 14])
            here = f"{prefix}{name}/" if name else prefix
            stack.extend((c, here) for c in range(first, first + count))
            continue
        data_off, = struct.unpack(">I", b[p + 10:p + 14])
        size, = struct.unpack(">I", b[data + data_off:data + data_off + 4])
        raw = b[data + data_off + 4:data + data_off + 4 + size]
        if flags & _ZSTD:
            raise ValueError(f"{path}: entry {prefix}{name} is zstd-compressed, which this reader does not read")
        if flags & _ZLIB:
            raw = zlib.decompress(raw[4:])
        out[prefix + name] = raw
    return out
