"""The Qt resource (.rcc) reader (sedemo.data.qt_resources), against files written here from
the format's description (an independent writer, not the reader run backwards)."""
import struct
import zlib

import pytest

from sedemo.data.qt_resources import read_rcc


def _name(text: str) -> bytes:
    units = text.encode("utf-16-be")
    return struct.pack(">HI", len(units) // 2, 0) + units


def write_rcc(path, files: dict[str, bytes], version: int = 3, compress=()):
    """One directory level: ``{"dir/name": bytes}`` -> a .rcc (root -> dir -> files)."""
    dirs = sorted({k.split("/")[0] for k in files})
    names, name_off = b"", {}
    for n in dirs + sorted(k.split("/")[1] for k in files):
        if n not in name_off:
            name_off[n] = len(names)
            names += _name(n)
    data, data_off = b"", {}
    for k in sorted(files):
        blob = files[k]
        if k in compress:
            blob = struct.pack(">I", len(blob)) + zlib.compress(blob)
        data_off[k] = len(data)
        data += struct.pack(">I", len(blob)) + blob
    pad = b"" if version == 1 else b"\0" * 8
    nodes = [struct.pack(">IHII", 0, 2, len(dirs), 1) + pad]  # the root
    children = []
    first = 1 + len(dirs)
    for d in dirs:
        kids = sorted(k for k in files if k.split("/")[0] == d)
        nodes.append(struct.pack(">IHII", name_off[d], 2, len(kids), first + len(children)) + pad)
        children += kids
    for k in children:
        flags = 1 if k in compress else 0
        nodes.append(struct.pack(">IHHHI", name_off[k.split("/")[1]], flags, 0, 0, data_off[k]) + pad)
    tree = b"".join(nodes)
    header_len = 20 if version < 3 else 24
    tree_at, data_at = header_len, header_len + len(tree)
    names_at = data_at + len(data)
    head = b"qres" + struct.pack(">IIII", version, tree_at, data_at, names_at)
    if version >= 3:
        head += struct.pack(">I", 0)
    path.write_bytes(head + tree + data + names)
    return path


@pytest.mark.parametrize("version", [1, 2, 3])
def test_reads_every_file_plain_and_zlib(tmp_path, version):
    files = {"sounds/rain.wav": b"RIFF" + bytes(range(50)), "sounds/train.ogg": b"OggS" * 40,
             "images/x.svg": "<svg>ünïcode</svg>".encode()}
    rcc = write_rcc(tmp_path / "a.rcc", files, version, compress={"sounds/train.ogg"})
    assert read_rcc(rcc) == files


def test_refuses_what_is_not_a_resource_file(tmp_path):
    bad = tmp_path / "x.rcc"
    bad.write_bytes(b"RIFF0000WAVE")
    with pytest.raises(ValueError, match="not a Qt resource file"):
        read_rcc(bad)
