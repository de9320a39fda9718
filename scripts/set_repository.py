#!/usr/bin/env python3
"""Point the book at its public git repository: one URL, written everywhere it is needed.

    python scripts/set_repository.py https://github.com/OWNER/REPO   # set it
    python scripts/set_repository.py --clear                          # back to the committed default
    python scripts/set_repository.py URL --dry-run                    # show the changes, write nothing

What it writes:

* ``_config.yml``: ``repository.url`` and ``repository.branch``; the repository and
  issues buttons (``html.use_repository_button``, ``html.use_issues_button``); the
  launch button ``launch_buttons.binderhub_url`` (mybinder.org). ``colab_url`` stays
  empty: Colab opens only ``.ipynb`` files, and the chapters are MyST Markdown. With
  no URL (``--clear``, the committed default) all of them are off: no buttons, no
  broken links. The theme's download button is on either way.
* the install cell of every chapter ``book/0*.md`` (MyST Markdown text notebooks, the
  format of ``jupytext --to myst``): its first code cell, a ```{code-cell} with the
  option ``:tags: [remove-cell]`` (hidden on the website), whose line
  ``REPOSITORY = "..."`` is what the cell installs sedemo from when it is missing
  (Colab, Binder). With an empty ``REPOSITORY`` the cell tells the reader to
  ``pip install -e .`` from a clone. ``--insert-missing`` adds the cell to chapters
  that lack it (after their first Markdown cell, the text before their first
  ```{code-cell} or ``+++`` line); otherwise a chapter without it is an error.

Only the ``REPOSITORY`` line (and, where missing, the ``remove-cell`` tag) of a chapter
changes: the rest of the file is kept byte for byte. Running it twice with the same
arguments changes nothing the second time. Only the Python standard library is used:
the GitHub Pages workflow runs it before any virtual environment exists.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_GLOB = "0*.md"
INSTALL_TAG = "remove-cell"
BINDER_URL = "https://mybinder.org"
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
    data.build()  # the corpus: about 5 minutes; synthetic speech where the Debian packages are absent
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
        ("launch_buttons", "colab_url"): "",  # Colab cannot open the chapters' MyST Markdown
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


# --------------------------------------------------------------------------- chapters
# A chapter is a jupytext MyST Markdown notebook: a YAML front matter (jupytext, kernelspec),
# then Markdown, with code cells fenced as ```{code-cell} (options as ``:key: value`` lines
# or a ``---`` YAML block, then a blank line, then the code) and Markdown cells split by
# ``+++`` lines. Only what is needed to find and edit the install cell is parsed here.
CODE_CELL_OPEN = re.compile(r"^(`{3,})\{code-cell\}")
MARKDOWN_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
CELL_BREAK = re.compile(r"^\+\+\+(\s|$)")
OPTION_LINE = re.compile(r"^:([\w-]+):(.*)$")
FLOW_TAGS = re.compile(r"^(:?tags:[ \t]*)\[(.*)\][ \t]*$")


class CodeCell(NamedTuple):
    """A ```{code-cell} of a chapter: ``lines[start]`` opens it, ``lines[body:end]`` is
    its code, ``lines[end]`` closes it; ``lines[start + 1:body]`` are its options."""
    start: int
    body: int
    end: int
    options: list[str]
    source: str
    tags: list[str] | None  # None: tags written in a form this script does not edit


class Chapter(NamedTuple):
    lines: list[str]
    cells: list[CodeCell]
    insert_at: int  # where a missing install cell goes: after the first Markdown cell
    newline: str


def _bare(line: str) -> str:
    return line.rstrip("\r\n")


def _closes(line: str, char: str, length: int) -> bool:
    s = _bare(line).strip()
    return len(s) >= length and set(s) == {char}


def _parse_tags(option_lines: list[str]) -> list[str] | None:
    """The ``tags`` of a cell's options; ``[]`` without tags, None when written otherwise
    than as one flow list (``:tags: [a, b]`` or, in a YAML block, ``tags: [a, b]``)."""
    for line in option_lines:
        s = _bare(line).strip()
        if s.startswith(("tags:", ":tags:")):
            m = FLOW_TAGS.match(s)
            if not m:
                return None
            return [t.strip().strip("'\"") for t in m.group(2).split(",") if t.strip()]
    return []


def _code_cell(lines: list[str], i: int, name: str) -> CodeCell:
    fence = len(CODE_CELL_OPEN.match(lines[i]).group(1))
    j = i + 1
    if j < len(lines) and _bare(lines[j]).strip() == "---":  # a YAML block of options
        j += 1
        while j < len(lines) and _bare(lines[j]).strip() != "---":
            j += 1
        if j == len(lines):
            raise UsageError(f"{name}:{i + 1}: the options of this code cell have no closing ---")
        j += 1
    else:
        while j < len(lines) and OPTION_LINE.match(_bare(lines[j])):
            j += 1
        if j > i + 1 and j < len(lines) and not _bare(lines[j]).strip():
            j += 1  # the blank line between the options and the code
    body = j
    while j < len(lines) and not _closes(lines[j], "`", fence):
        j += 1
    if j == len(lines):
        raise UsageError(f"{name}:{i + 1}: this code cell is never closed (a line {'`' * fence})")
    options = lines[i + 1:body]
    source = "".join(lines[body:j])
    return CodeCell(i, body, j, options, source.removesuffix("\n").removesuffix("\r"), _parse_tags(options))


def parse_chapter(text: str, name: str) -> Chapter:
    """Split a MyST Markdown notebook into what :func:`update_chapter` needs. Raises
    :class:`UsageError` for a file that is not one."""
    lines = text.splitlines(keepends=True)
    if not lines or _bare(lines[0]).strip() != "---":
        raise UsageError(f"{name}: not a MyST Markdown notebook (no front matter); convert a notebook "
                         "with `jupytext --to myst`")
    close = next((k for k in range(1, len(lines)) if _bare(lines[k]).strip() == "---"), None)
    header = "".join(lines[1:close or 1])
    if close is None or not re.search(r"^\s+format_name:\s*myst\s*$", header, re.MULTILINE) \
            or not re.search(r"^kernelspec:", header, re.MULTILINE):
        raise UsageError(f"{name}: its front matter is not that of a MyST Markdown notebook (jupytext "
                         "text_representation with format_name: myst, and a kernelspec)")
    cells: list[CodeCell] = []
    breaks: list[int] = []  # the first line of every cell after the first Markdown cell
    fence = None  # (character, length) of an open Markdown code fence or directive
    i = close + 1
    while i < len(lines):
        line = _bare(lines[i])
        if fence:
            if _closes(line, *fence):
                fence = None
        elif CODE_CELL_OPEN.match(line):
            cells.append(_code_cell(lines, i, name))
            breaks.append(i)
            i = cells[-1].end
        elif CELL_BREAK.match(line):
            breaks.append(i)
        elif m := MARKDOWN_FENCE.match(line):
            fence = (m.group(1)[0], len(m.group(1)))
        i += 1
    # After the first Markdown cell: before the first cell that follows it (or at the end).
    # A chapter that opens with a code cell gets the install cell first; one that opens
    # with ``+++`` (a Markdown cell with metadata) has that cell as its first.
    insert_at = len(lines)
    if breaks:
        lead_blank = all(not _bare(ln).strip() for ln in lines[close + 1:breaks[0]])
        opens_with_markdown_cell = lead_blank and CELL_BREAK.match(_bare(lines[breaks[0]]))
        if not opens_with_markdown_cell:
            insert_at = breaks[0]
        elif len(breaks) > 1:
            insert_at = breaks[1]
    newline = "\r\n" if lines[0].endswith("\r\n") else "\n"
    return Chapter(lines, cells, insert_at, newline)


def install_cell_source(url: str) -> str:
    """The install cell's code with ``REPOSITORY = url``, as jupytext reads it (no final newline)."""
    return REPOSITORY_LINE.sub(f"REPOSITORY = {json.dumps(url)}", INSTALL_CELL, count=1).rstrip("\n")


def has_repository_line(source: str) -> bool:
    return any(REPOSITORY_LINE.fullmatch(line) for line in source.splitlines())


def is_install_cell(source: str, tags) -> bool:
    """Whether a code cell (its code and its tags) is the install cell."""
    return has_repository_line(source) and INSTALL_TAG in (tags or [])


def install_cell_text(url: str, newline: str = "\n") -> str:
    """The install cell as a MyST code cell (what jupytext writes when JupyterLab saves a chapter)."""
    text = f"```{{code-cell}} ipython3\n:tags: [{INSTALL_TAG}]\n\n{install_cell_source(url)}\n```\n"
    return text.replace("\n", newline)


def _tagged_options(cell: CodeCell, name: str) -> list[str]:
    """The options of ``cell`` with the tag ``remove-cell`` added."""
    if cell.tags is None:
        raise UsageError(f"{name}:{cell.start + 1}: the install cell's tags are not one list [..]; "
                         f"tag it {INSTALL_TAG} by hand (:tags: [{INSTALL_TAG}])")
    options = list(cell.options)
    tags = ", ".join([*cell.tags, INSTALL_TAG])
    for k, line in enumerate(options):
        m = FLOW_TAGS.match(_bare(line).strip())
        if m:
            indent = line[:len(line) - len(line.lstrip())]
            options[k] = f"{indent}{m.group(1)}[{tags}]{line[len(_bare(line)):]}"
            return options
    nl = "\r\n" if cell.options and cell.options[0].endswith("\r\n") else "\n"
    if options and _bare(options[0]).strip() == "---":  # a YAML block
        return [options[0], f"tags: [{tags}]{nl}", *options[1:]]
    if not options:
        return [f":tags: [{tags}]{nl}", nl]
    return [f":tags: [{tags}]{nl}", *options]


def update_chapter(text: str, url: str, insert_missing: bool, name: str) -> str:
    """The chapter ``text`` with ``REPOSITORY = url`` in its install cell (inserted with
    ``insert_missing`` when absent); nothing else changes."""
    chapter = parse_chapter(text, name)
    lines, nl = chapter.lines, chapter.newline
    first = chapter.cells[0] if chapter.cells else None
    if first is None or not has_repository_line(first.source):
        installs = [c for c in chapter.cells if has_repository_line(c.source)]
        if installs:
            raise UsageError(f"{name}:{installs[0].start + 1}: the install cell exists but is not the "
                             "first code cell; move it up")
        if not insert_missing:
            raise UsageError(
                f"{name}: the first code cell is not the install cell (a code cell tagged {INSTALL_TAG} "
                'with the line REPOSITORY = "..."); copy it from another chapter, or run again '
                "with --insert-missing")
        at = chapter.insert_at
        before = "" if at == 0 or not _bare(lines[at - 1]).strip() else nl
        if at == len(lines) and lines and not lines[-1].endswith("\n"):
            before = nl + before
        after = nl if at < len(lines) else ""
        return "".join(lines[:at]) + before + install_cell_text(url, nl) + after + "".join(lines[at:])
    for k in range(first.body, first.end):
        if REPOSITORY_LINE.fullmatch(_bare(lines[k])):
            lines[k] = f"REPOSITORY = {json.dumps(url)}{lines[k][len(_bare(lines[k])):]}"
            break
    if INSTALL_TAG not in (first.tags or []):
        lines[first.start + 1:first.body] = _tagged_options(first, name)
    return "".join(lines)


# --------------------------------------------------------------------------- main
def plan(url: str, branch: str, config: Path, book: Path, insert_missing: bool) -> dict[Path, tuple[str, str]]:
    """``{path: (old text, new text)}`` for the config and every chapter."""
    if not config.is_file():
        raise UsageError(f"no config file at {config}")
    chapters = sorted(book.glob(CHAPTER_GLOB))
    if not chapters:
        raise UsageError(f"no chapters {book / CHAPTER_GLOB}")
    changes = {}
    with config.open(encoding="utf-8", newline="") as f:
        old = f.read()
    values = config_values(url, branch)
    new = set_yaml_values(old, values)
    _check_config(new, values)
    changes[config] = (old, new)
    for path in chapters:
        with path.open(encoding="utf-8", newline="") as f:  # line endings as they are
            old = f.read()
        changes[path] = (old, update_chapter(old, url, insert_missing, str(path)))
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
                        help=f"folder of the chapters {CHAPTER_GLOB} (default: %(default)s)")
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
            with path.open("w", encoding="utf-8", newline="") as f:
                f.write(new)
    what = f"repository {url}" if url else "no repository (buttons and launch links off)"
    verb = "would change" if args.dry_run else "changed"
    print(f"{what}: {verb} {len(changed)} of {len(changes)} files", file=sys.stderr if args.dry_run else sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
