"""Tests of ``scripts/set_repository.py`` (one repository URL into ``_config.yml`` and the
install cell of every chapter, a MyST Markdown notebook ``book/0*.md``) and of the install
cell every chapter starts with. The chapters are read back with jupytext, as the build does."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from conftest import jupyterlab_saved

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "set_repository.py"
CHAPTERS = sorted((ROOT / "book").glob("0*.md"))
URL = "https://github.com/example/sedemo"

_spec = importlib.util.spec_from_file_location("set_repository", SCRIPT)
setrepo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(setrepo)


HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


def _read(path: Path):
    """The chapter as the build reads it: a notebook (jupytext, MyST Markdown)."""
    nb = jupytext.read(path, fmt="md:myst")
    nbformat.validate(nb)
    return nb


def _first_code_cell(path: Path):
    return next(c for c in _read(path).cells if c.cell_type == "code")


def _is_install_cell(cell) -> bool:
    return setrepo.is_install_cell(cell.source, cell.metadata.get("tags"))


def _snapshot(book) -> dict[Path, bytes]:
    config, folder = book
    return {p: p.read_bytes() for p in [config, *sorted(folder.glob("*"))]}


def _without_install_cell_source(path: Path) -> list:
    """The cells of a chapter (without their random ids), the source of its first code cell blanked."""
    cells = [{k: v for k, v in c.items() if k != "id"} for c in _read(path).cells]
    next(c for c in cells if c["cell_type"] == "code")["source"] = None
    return cells


@pytest.fixture
def book(tmp_path):
    """Copies of ``_config.yml`` and of every chapter, each with its install cell (added by
    ``--insert-missing`` to a chapter that lacks it) and no URL: the committed state."""
    folder = tmp_path / "book"
    folder.mkdir()
    for path in CHAPTERS:
        shutil.copy(path, folder / path.name)
    config = tmp_path / "_config.yml"
    shutil.copy(ROOT / "_config.yml", config)
    assert setrepo.main(["--clear", "--insert-missing", "--config", str(config), "--book", str(folder)]) == 0
    return config, folder


def run(book, *args) -> int:
    config, folder = book
    return setrepo.main([*args, "--config", str(config), "--book", str(folder)])


def test_url_lands_in_config_and_in_every_chapters_first_code_cell(book):
    _, folder = book
    before = {p: _without_install_cell_source(p) for p in sorted(folder.glob("*.md"))}
    text_before = {p: p.read_text() for p in before}
    assert run(book, URL + ".git/") == 0  # normalised: no .git, no trailing slash
    config, folder = book
    cfg = yaml.safe_load(config.read_text())
    assert cfg["repository"]["url"] == URL and cfg["repository"]["branch"] == "main"
    assert cfg["html"]["use_repository_button"] is True and cfg["html"]["use_issues_button"] is True
    assert cfg["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert cfg["launch_buttons"]["colab_url"] == ""  # Colab opens only .ipynb; the chapters are .md
    chapters = sorted(folder.glob("*.md"))
    assert len(chapters) == len(CHAPTERS)
    for path in chapters:
        cell = _first_code_cell(path)
        assert f'REPOSITORY = "{URL}"' in cell.source.splitlines(), path.name
        assert "remove-cell" in cell.metadata["tags"]
        assert _without_install_cell_source(path) == before[path], path.name  # no other cell changed
        diff = [(a, b) for a, b in zip(text_before[path].splitlines(keepends=True),
                                       path.read_text().splitlines(keepends=True)) if a != b]
        assert diff == [('REPOSITORY = ""\n', f'REPOSITORY = "{URL}"\n')], path.name  # one line of the text
        assert len(text_before[path].splitlines()) == len(path.read_text().splitlines())


def test_running_twice_changes_nothing(book):
    config, folder = book
    cmd = [sys.executable, str(SCRIPT), URL, "--config", str(config), "--book", str(folder)]
    first = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert f"changed {len(CHAPTERS) + 1} of {len(CHAPTERS) + 1} files" in first.stdout
    after_first = _snapshot(book)
    second = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert f"changed 0 of {len(CHAPTERS) + 1} files" in second.stdout
    assert _snapshot(book) == after_first


def test_clear_restores_the_committed_default(book):
    committed = _snapshot(book)
    assert run(book, URL) == 0
    assert run(book, "--clear") == 0
    assert _snapshot(book) == committed
    config, _ = book
    assert config.read_text() == (ROOT / "_config.yml").read_text()


def test_binder_for_any_host_and_never_colab(book):
    assert run(book, "https://gitlab.com/example/sedemo") == 0
    cfg = yaml.safe_load(book[0].read_text())
    assert cfg["launch_buttons"]["colab_url"] == ""
    assert cfg["launch_buttons"]["binderhub_url"] == "https://mybinder.org"


@pytest.mark.parametrize("url, message", [
    ("git@github.com:example/sedemo.git", "not an http(s) URL"),
    ("ssh://git@github.com/example/sedemo", "not an http(s) URL"),
    ("github.com/example/sedemo", "not an http(s) URL"),
    ("file:///srv/sedemo", "not an http(s) URL"),
    ("https://github.com/example", "does not name a repository"),
    ('https://github.com/example/se"demo', "quotes"),
    ("https://example.org/example/sedemo", "GitHub, GitLab and Bitbucket"),
])
def test_invalid_url_is_refused_with_a_clear_message(book, capsys, url, message):
    before = _snapshot(book)
    assert run(book, url) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert _snapshot(book) == before


NEW_CHAPTER = HEADER + """
# New

An introduction in two paragraphs,

```python
print("and a fenced example: Markdown, not a code cell")
```

```{code-cell}
import sedemo
```

More text.

```{code-cell}
:tags: [hide-input]

print(sedemo)
```
"""


def test_a_chapter_without_the_install_cell_is_an_error_unless_inserted(book, capsys):
    _, folder = book
    path = folder / "09_new.md"
    path.write_text(NEW_CHAPTER)
    old_cells = _read(path).cells
    before = _snapshot(book)
    assert run(book, URL) == 2
    err = capsys.readouterr().err
    assert "09_new.md" in err and "--insert-missing" in err and "Traceback" not in err
    assert _snapshot(book) == before  # nothing written, not even the other chapters
    assert run(book, URL, "--insert-missing") == 0
    cells = _read(path).cells
    assert [c.cell_type for c in cells] == ["markdown", "code", "code", "markdown", "code"]
    assert cells[1].source == setrepo.install_cell_source(URL)
    assert cells[1].metadata["tags"] == ["remove-cell"]
    assert [(c.cell_type, c.source, c.metadata) for c in cells[:1] + cells[2:]] == \
        [(c.cell_type, c.source, c.metadata) for c in old_cells]
    # what jupytext itself writes for the inserted cell: the file is stable when re-saved
    text = path.read_text()
    assert "\n\n" + setrepo.install_cell_text(URL) + "\n```{code-cell}\nimport sedemo" in text
    assert setrepo.install_cell_text(URL) in jupyterlab_saved(text)
    after_insert = _snapshot(book)
    assert run(book, URL, "--insert-missing") == 0  # inserted once only
    assert _snapshot(book) == after_insert
    assert run(book, "--clear") == 0
    assert _first_code_cell(path).source == setrepo.install_cell_source("")


@pytest.mark.parametrize("body, first", [
    ("```{code-cell}\nimport sedemo\n```\n\nText.\n", 0),  # no Markdown first: the install cell opens it
    ("# Only Markdown\n\nNo code yet.\n", 1),  # at the end
    ("# Title\n\n+++\n\nA second Markdown cell.\n\n```{code-cell}\nx = 1\n```\n", 1),
    ('+++ {"tags": ["intro"]}\n\n# Title\n\n+++\n\nMore.\n', 1),  # a first Markdown cell with metadata
])
def test_insert_missing_goes_after_the_first_markdown_cell(book, body, first):
    _, folder = book
    path = folder / "09_new.md"
    path.write_text(HEADER + "\n" + body)
    old_cells = _read(path).cells
    assert run(book, URL, "--insert-missing") == 0
    cells = _read(path).cells
    assert _is_install_cell(cells[first]) and cells[first].source == setrepo.install_cell_source(URL)
    assert [(c.cell_type, c.source, c.metadata) for c in cells[:first] + cells[first + 1:]] == \
        [(c.cell_type, c.source, c.metadata) for c in old_cells]


def test_an_install_cell_that_is_not_the_first_code_cell_is_an_error(book, capsys):
    _, folder = book
    path = folder / "09_new.md"
    path.write_text(HEADER + "\n# New\n\n```{code-cell}\nimport numpy\n```\n\n"
                    + setrepo.install_cell_text(""))
    before = _snapshot(book)
    for args in [(), ("--insert-missing",)]:
        assert run(book, URL, *args) == 2
        assert "not the first code cell; move it up" in capsys.readouterr().err
        assert _snapshot(book) == before


def test_an_untagged_install_cell_gets_its_tag(book):
    _, folder = book
    path = folder / "09_new.md"
    cell = setrepo.install_cell_text("")
    for options, tags in [("", ["remove-cell"]), (":tags: [hide-input]\n\n", ["hide-input", "remove-cell"]),
                          ("---\nmystnb:\n  number_source_lines: true\n---\n", ["remove-cell"])]:
        path.write_text(HEADER + "\n# New\n\n" + cell.replace(":tags: [remove-cell]\n\n", options))
        assert run(book, URL) == 0
        first = _first_code_cell(path)
        assert first.metadata["tags"] == tags and first.source == setrepo.install_cell_source(URL)
        after = path.read_text()
        assert run(book, URL) == 0 and path.read_text() == after


@pytest.mark.parametrize("text, message", [
    ("# No front matter\n", "not a MyST Markdown notebook"),
    ("---\ntitle: x\n---\n\n# A Markdown page\n", "front matter is not that of a MyST Markdown notebook"),
    (HEADER + "\n```{code-cell}\nREPOSITORY = \"\"\n", "never closed"),
])
def test_a_file_that_is_not_a_chapter_is_refused(book, capsys, text, message):
    _, folder = book
    (folder / "09_new.md").write_text(text)
    before = _snapshot(book)
    assert run(book, URL, "--insert-missing") == 2
    err = capsys.readouterr().err
    assert message in err and "09_new.md" in err and "Traceback" not in err
    assert _snapshot(book) == before


def test_line_endings_are_kept(book):
    _, folder = book
    path = folder / CHAPTERS[0].name
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert run(book, URL) == 0
    data = path.read_bytes()
    assert f'REPOSITORY = "{URL}"\r\n'.encode() in data and b"\n" not in data.replace(b"\r\n", b"")


def test_dry_run_prints_a_diff_and_writes_nothing(book, capsys):
    before = _snapshot(book)
    assert run(book, URL, "--dry-run") == 0
    out = capsys.readouterr().out
    assert f'+  url: "{URL}"' in out and f'+REPOSITORY = "{URL}"\n' in out and '-REPOSITORY = ""\n' in out
    assert _snapshot(book) == before


# ----------------------------------------------------------------------------- the book itself
def test_committed_config_matches_its_repository_url():
    """Buttons and launch links are on exactly when a URL is set (empty by default)."""
    text = (ROOT / "_config.yml").read_text()
    url = yaml.safe_load(text)["repository"]["url"]
    assert setrepo.set_yaml_values(text, setrepo.config_values(url, "main")) == text


def test_the_chapters_are_the_book():
    """Every chapter of the table of contents is a MyST Markdown notebook, none a .ipynb."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    chapters = [f for f in files if Path(f).name.startswith("0")]
    assert [ROOT / f"{f}.md" for f in chapters] == CHAPTERS and len(CHAPTERS) >= 8
    # a notebook beside a chapter (a jupytext pairing, an export) would be a second source
    # of the same page: Sphinx warns, and the build treats warnings as errors
    assert "book/*.ipynb" in yaml.safe_load((ROOT / "_config.yml").read_text())["exclude_patterns"]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_starts_with_the_install_cell(path):
    """The first code cell of every chapter is the install cell, hidden on the website."""
    nb = _read(path)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    cell = next(c for c in nb.cells if c.cell_type == "code")
    assert _is_install_cell(cell), (
        f"{path.name}: the first code cell must be the install cell; "
        "copy it from another chapter or run scripts/set_repository.py --insert-missing")
    url = json.loads(setrepo.REPOSITORY_LINE.search(cell.source).group(0).split("=", 1)[1])
    assert cell.source == setrepo.install_cell_source(url), f"{path.name}: the install cell differs from the others"


def _install_cell_code() -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(setrepo.install_cell_source(""))


def test_install_cell_is_a_no_op_when_sedemo_is_installed():
    namespace = {}
    exec(compile(_install_cell_code(), "install-cell", "exec"), namespace)
    assert namespace["sedemo"].__name__ == "sedemo"


def test_install_cell_without_url_tells_the_reader_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, "sedemo", None)  # import sedemo now raises ImportError
    with pytest.raises(ImportError, match=r"pip install -e \."):
        exec(compile(_install_cell_code(), "install-cell", "exec"), {})
