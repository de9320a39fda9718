#!/usr/bin/env python3
"""Convert chapter notebooks to and from a plain "percent" script for editing.

    python scripts/nbtool.py to-py book/01_noisy_speech.ipynb   # -> .py beside it (not committed)
    python scripts/nbtool.py to-nb book/01_noisy_speech.py      # -> .ipynb without outputs
    python scripts/nbtool.py strip book/*.ipynb                 # remove outputs in place

Cells are separated by lines ``# %%`` (code) and ``# %% [markdown]`` (Markdown,
each line prefixed by ``# ``). Only the .ipynb files are committed, without outputs.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def py_to_cells(text: str) -> list[dict]:
    cells, kind, buf = [], None, []

    def flush():
        if kind is None:
            return
        lines = buf[:]
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if kind == "markdown":
            lines = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines]
        src = "\n".join(lines)
        cell = {"cell_type": kind, "metadata": {}, "source": src.splitlines(keepends=True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, buf = ("markdown" if "[markdown]" in line else "code"), []
            if "tags=" in line:
                tags = line.split("tags=", 1)[1].strip().strip("[]").replace('"', "").split(",")
                buf.append(f"#TAGS:{','.join(t.strip() for t in tags if t.strip())}")
        elif kind is not None:
            buf.append(line)
    flush()
    for cell in cells:
        if cell["source"] and cell["source"][0].startswith("#TAGS:"):
            tags = cell["source"].pop(0)[6:].strip().split(",")
            cell["metadata"]["tags"] = tags
    return cells


def to_nb(path: Path) -> Path:
    nb = {"cells": py_to_cells(path.read_text()), "metadata": {"kernelspec": KERNEL,
          "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"c{i:03d}"
    out = path.with_suffix(".ipynb")
    out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return out


def to_py(path: Path) -> Path:
    nb = json.loads(path.read_text())
    parts = []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags")
        suffix = f" tags=[{','.join(tags)}]" if tags else ""
        if cell["cell_type"] == "markdown":
            parts.append("# %% [markdown]" + suffix + "\n" + "\n".join("# " + ln if ln else "#" for ln in src.splitlines()))
        else:
            parts.append("# %%" + suffix + "\n" + src)
    out = path.with_suffix(".py")
    out.write_text("\n\n".join(parts) + "\n")
    return out


def strip(path: Path) -> None:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def main(argv):
    if len(argv) < 2 or argv[0] not in ("to-py", "to-nb", "strip"):
        print(__doc__)
        return 2
    for name in argv[1:]:
        p = Path(name)
        if argv[0] == "to-py":
            print(to_py(p))
        elif argv[0] == "to-nb":
            print(to_nb(p))
        else:
            strip(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
