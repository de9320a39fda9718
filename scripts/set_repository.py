#!/usr/bin/env python3
"""Point the book at its public git repository: one URL, written everywhere it is needed.

    python scripts/set_repository.py https://github.com/OWNER/REPO   # set it
    python scripts/set_repository.py --clear                          # back to the committed default
    python scripts/set_repository.py URL --dry-run                    # show the changes, write nothing

What it writes:

* ``_config.yml``: ``repository.url`` and ``repository.branch``; the repository and
  issues buttons (``html.use_repository_button``, ``html.use_issues_button``); the
  launch buttons (``launch_buttons.binderhub_url``: mybinder.org; ``colab_url``:
  Colab, for github.com repositories only, as the theme supports no other). With
  no URL (``--clear``, the committed default) all of them are off: no buttons, no
  broken links. The theme's download button (.ipynb, .pdf) is on either way.
* the install cell of every chapter notebook ``book/0*.ipynb``: its first code cell,
  tagged ``remove-cell`` (hidden on the website), whose line ``REPOSITORY = "..."``
  is what the cell installs sedemo from when it is missing (Colab, Binder). With an
  empty ``REPOSITORY`` the cell tells the reader to ``pip install -e .`` from a clone.
  ``--insert-missing`` adds the cell to chapters that lack it (after their first
  Markdown cell); otherwise a chapter without it is an error.

Running it twice with the same arguments changes nothing the second time. Only the
Python standard library is used: the GitHub Pages workflow runs it before any
virtual environment exists. Notebooks keep the formatting of ``scripts/nbtool.py``.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_GLOB = "0*.ipynb"
INSTALL_TAG = "remove-cell"
INSTALL_CELL_ID = "install"
BINDER_URL = "https://mybinder.org"
COLAB_URL = "https://colab.research.google.com"
PROVIDERS = ("github", "gitlab", "bitbucket")  # what sphinx-book-theme recognises in a repository URL
REPOSITORY_LINE = re.compile(r'^REPOSITORY = "[^"\n]*"$', re.MULTILINE)

INSTALL_CELL = '''\
# Set-up for Colab, Binder or a fresh Python (hidden on the website): install sedemo and
# build its corpus when sedemo is missing. REPOSITORY is set by scripts/set_repository.py.
REPOSITORY = ""
try:
    import sedemo
except ImportError:
    if not REPOSITORY:
        raise ImportError(
            "sedemo is not installed: clone the book's repository, run `pip install -e .` "
            "in it (see its README.md), then restart the kernel"
        ) from None
    %pip install -q "sedemo[synthetic,book] @ git+{REPOSITORY}"
    import importlib
    importlib.invalidate_caches()
    from sedemo import data
    data.build()  # the corpus: about a minute; synthetic speech where the Debian packages are absent
'''


class UsageError(Exception):
    """A problem the user can fix (bad URL, missing key or cell): printed without a traceback."""


# --------------------------------------------------------------------------- the URL
def normalise_url(url: str) -> str:
    """The repository URL as the book uses it: ``https://HOST/OWNER/REPO`` without a
    trailing ``/`` or ``.git``. Raises :class:`UsageError` saying what is wrong."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"not an http(s) URL: {url!r}. Give the web address of the repository, "
            "e.g. https://github.com/OWNER/REPO (not an SSH address such as git@github.com:OWNER/REPO)"
        )
    if parts.query or parts.fragment or re.search(r'[\s"\'\\{}]', url):
        raise UsageError(f"the URL {url!r} has a query, a fragment, spaces, quotes or braces; "
                         "give https://HOST/OWNER/REPO")
    path = parts.path.rstrip("/").removesuffix(".git")
    segments = [s for s in path.split("/") if s]
    if len(segments) < 2:
        raise UsageError(f"the URL {url!r} does not name a repository; give https://HOST/OWNER/REPO")
    host = parts.netloc.lower()
    if not any(p in host for p in PROVIDERS):
        raise UsageError(
            f"the book's theme only makes repository and launch buttons for GitHub, GitLab and "
            f"Bitbucket, and {parts.netloc!r} is none of them (the Sphinx build would fail)"
        )
    return f"{parts.scheme}://{parts.netloc}/{'/'.join(segments)}"


def is_github(url: str) -> bool:
    return urlsplit(url).netloc.lower() in ("github.com", "www.github.com")


# --------------------------------------------------------------------------- _config.yml
def _yaml_scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # a double-quoted YAML scalar


def _split_comment(rest: str) -> tuple[str, str]:
    """``' "x"  # note'`` -> ``('"x"', '  # note')``: a scalar as written and its trailing comment."""
    body = rest.strip()
    if body[:1] in ('"', "'"):
        end = body.find(body[0], 1)
        cut = end + 1 if end > 0 else len(body)
    else:
        cut = body.find(" #") if " #" in body else len(body)
    return body[:cut].strip(), body[cut:].rstrip()


def _same_scalar(raw: str, value) -> bool:
    """Whether the YAML scalar ``raw`` (as written, maybe quoted) is ``value``."""
    if isinstance(value, bool):
        return raw.lower() == ("true" if value else "false")
    return raw[:1] in ('"', "'") and raw[-1:] == raw[:1] and raw[1:-1] == value or raw == value


def set_yaml_values(text: str, values: dict[tuple[str, ...], object]) -> str:
    """Set ``key: value`` lines of a block-style YAML mapping, keeping everything else
    (comments, order, layout). ``values`` maps key paths to new scalar values; every
    path must already exist with a scalar value on its own line."""
    lines = text.splitlines(keepends=True)
    stack: list[tuple[int, str]] = []
    found = set()
    key_line = re.compile(r"^(\s*)([A-Za-z_][\w-]*)\s*:(.*?)(\r?\n)?$")
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = key_line.match(line)
        if not m:
            continue
        indent, key, rest = len(m.group(1)), m.group(2), m.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        path = tuple(k for _, k in stack)
        if path in values:
            raw, comment = _split_comment(rest)
            if not raw:
                raise UsageError(f"{'.'.join(path)} in the config is not a scalar")
            if not _same_scalar(raw, values[path]):  # an equal value keeps its spelling
                lines[i] = f"{m.group(1)}{key}: {_yaml_scalar(values[path])}{comment}{m.group(4) or ''}"
            found.add(path)
    missing = [".".join(p) for p in values if p not in found]
    if missing:
        raise UsageError(f"the config has no line for {', '.join(missing)}; restore the "
                         "repository:, launch_buttons: and html: sections of the committed _config.yml")
    return "".join(lines)


def config_values(url: str, branch: str) -> dict[tuple[str, ...], object]:
    on = bool(url)
    return {
        ("repository", "url"): url,
        ("repository", "branch"): branch,
        ("html", "use_repository_button"): on,
        ("html", "use_issues_button"): on,
        ("launch_buttons", "binderhub_url"): BINDER_URL if on else "",
        ("launch_buttons", "colab_url"): COLAB_URL if on and is_github(url) else "",
    }


def _check_config(text: str, values) -> None:
    """Parse the result with PyYAML when it is installed and compare (a safety net)."""
    try:
        import yaml
    except ImportError:
        return
    data = yaml.safe_load(text)
    for path, want in values.items():
        node = data
        for key in path:
            node = node[key]
        if node != want:
            raise RuntimeError(f"writing the config failed: {'.'.join(path)} reads {node!r}, not {want!r}")


# --------------------------------------------------------------------------- notebooks
def install_cell_source(url: str) -> str:
    """The install cell's source with ``REPOSITORY = url`` (no final newline, as nbtool writes)."""
    return REPOSITORY_LINE.sub(f"REPOSITORY = {json.dumps(url)}", INSTALL_CELL, count=1).rstrip("\n")


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def first_code_cell(nb: dict):
    return next((c for c in nb["cells"] if c.get("cell_type") == "code"), None)


def is_install_cell(cell) -> bool:
    return (cell is not None and cell.get("cell_type") == "code"
            and REPOSITORY_LINE.search(_source(cell)) is not None)


def update_notebook(nb: dict, url: str, insert_missing: bool, name: str) -> dict:
    cell = first_code_cell(nb)
    if not is_install_cell(cell):
        if not insert_missing:
            raise UsageError(
                f"{name}: the first code cell is not the install cell (a code cell with the line "
                'REPOSITORY = "..."); copy it from another chapter, or run again with --insert-missing'
            )
        if any(is_install_cell(c) for c in nb["cells"]):
            raise UsageError(f"{name}: the install cell exists but is not the first code cell; move it up")
        at = 1 if nb["cells"] and nb["cells"][0].get("cell_type") == "markdown" else 0
        ids = {c.get("id") for c in nb["cells"]}
        cell_id = INSTALL_CELL_ID if INSTALL_CELL_ID not in ids else f"{INSTALL_CELL_ID}-{len(ids)}"
        cell = {"cell_type": "code", "metadata": {"tags": [INSTALL_TAG]}, "source": _lines(install_cell_source(url)),
                "execution_count": None, "outputs": [], "id": cell_id}  # the key order of scripts/nbtool.py
        nb["cells"].insert(at, cell)
        return nb
    src = _source(cell)
    cell["source"] = _lines(REPOSITORY_LINE.sub(f"REPOSITORY = {json.dumps(url)}", src, count=1))
    tags = cell.setdefault("metadata", {}).setdefault("tags", [])
    if INSTALL_TAG not in tags:
        tags.append(INSTALL_TAG)
    return nb


def dump_notebook(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"  # as scripts/nbtool.py writes them


# --------------------------------------------------------------------------- main
def plan(url: str, branch: str, config: Path, book: Path, insert_missing: bool) -> dict[Path, tuple[str, str]]:
    """``{path: (old text, new text)}`` for the config and every chapter notebook."""
    if not config.is_file():
        raise UsageError(f"no config file at {config}")
    chapters = sorted(book.glob(CHAPTER_GLOB))
    if not chapters:
        raise UsageError(f"no chapter notebooks {book / CHAPTER_GLOB}")
    changes = {}
    old = config.read_text(encoding="utf-8")
    values = config_values(url, branch)
    new = set_yaml_values(old, values)
    _check_config(new, values)
    changes[config] = (old, new)
    for path in chapters:
        old = path.read_text(encoding="utf-8")
        try:
            nb = json.loads(old)
        except json.JSONDecodeError as err:
            raise UsageError(f"{path} is not valid notebook JSON: {err}") from None
        changes[path] = (old, dump_notebook(update_notebook(nb, url, insert_missing, str(path))))
    return changes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/set_repository.py",
        description="Write the book's repository URL into _config.yml and the install cell of every chapter.")
    parser.add_argument("url", nargs="?", help="https://HOST/OWNER/REPO (GitHub, GitLab or Bitbucket)")
    parser.add_argument("--clear", action="store_true", help="remove the URL: no buttons, no launch links")
    parser.add_argument("--branch", default="main", help="branch for launch and source links (default: %(default)s)")
    parser.add_argument("--config", type=Path, default=ROOT / "_config.yml", help="default: %(default)s")
    parser.add_argument("--book", type=Path, default=ROOT / "book",
                        help=f"folder of the chapter notebooks {CHAPTER_GLOB} (default: %(default)s)")
    parser.add_argument("--insert-missing", action="store_true",
                        help="add the install cell to chapters that lack it, after their first Markdown cell")
    parser.add_argument("--dry-run", action="store_true", help="print the changes as a diff and write nothing")
    args = parser.parse_args(argv)
    if args.clear == (args.url is not None):
        parser.error("give either a URL or --clear")
    if not re.fullmatch(r"[\w./-]+", args.branch):
        parser.error(f"not a branch name: {args.branch!r}")
    try:
        url = "" if args.clear else normalise_url(args.url)
        changes = plan(url, args.branch, args.config, args.book, args.insert_missing)
    except UsageError as err:
        print(f"set_repository: error: {err}", file=sys.stderr)
        return 2
    changed = [p for p, (old, new) in changes.items() if old != new]
    for path in changed:
        old, new = changes[path]
        if args.dry_run:
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                                       str(path), str(path)))
        else:
            path.write_text(new, encoding="utf-8")
    what = f"repository {url}" if url else "no repository (buttons and launch links off)"
    verb = "would change" if args.dry_run else "changed"
    print(f"{what}: {verb} {len(changed)} of {len(changes)} files", file=sys.stderr if args.dry_run else sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
