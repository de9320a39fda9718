"""Tests of ``scripts/set_repository.py`` (one repository URL into ``_config.yml`` and the
install cell of every chapter) and of the install cell every chapter starts with."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "set_repository.py"
CHAPTERS = sorted((ROOT / "book").glob("0*.ipynb"))
URL = "https://github.com/example/sedemo"

_spec = importlib.util.spec_from_file_location("set_repository", SCRIPT)
setrepo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(setrepo)


def _first_code_cell(path: Path):
    nb = nbformat.read(path, as_version=4)
    return next(c for c in nb.cells if c.cell_type == "code")


def _snapshot(book) -> dict[Path, str]:
    config, folder = book
    return {p: p.read_text() for p in [config, *sorted(folder.glob("*.ipynb"))]}


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
    before = _snapshot(book)
    assert run(book, URL + ".git/") == 0  # normalised: no .git, no trailing slash
    config, folder = book
    cfg = yaml.safe_load(config.read_text())
    assert cfg["repository"]["url"] == URL and cfg["repository"]["branch"] == "main"
    assert cfg["html"]["use_repository_button"] is True and cfg["html"]["use_issues_button"] is True
    assert cfg["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert cfg["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    chapters = sorted(folder.glob("*.ipynb"))
    assert len(chapters) == len(CHAPTERS)
    for path in chapters:
        nbformat.validate(nbformat.read(path, as_version=4))
        cell = _first_code_cell(path)
        assert f'REPOSITORY = "{URL}"' in cell.source.splitlines(), path.name
        assert "remove-cell" in cell.metadata["tags"]
        old, new = json.loads(before[path]), json.loads(path.read_text())
        for nb in (old, new):  # nothing else in the notebook changed
            next(c for c in nb["cells"] if c["cell_type"] == "code")["source"] = None
        assert old == new, path.name


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


def test_colab_only_for_github(book):
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


def test_a_chapter_without_the_install_cell_is_an_error_unless_inserted(book, capsys):
    _, folder = book
    path = folder / "09_new.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# New"),
                                         nbformat.v4.new_code_cell("import sedemo")])
    nbformat.write(nb, path)
    before = _snapshot(book)
    assert run(book, URL) == 2
    assert "09_new.ipynb" in capsys.readouterr().err
    assert _snapshot(book) == before  # nothing written, not even the other chapters
    assert run(book, URL, "--insert-missing") == 0
    cells = nbformat.read(path, as_version=4).cells
    assert [c.cell_type for c in cells] == ["markdown", "code", "code"]
    assert cells[1].source == setrepo.install_cell_source(URL)
    assert cells[1].metadata["tags"] == ["remove-cell"]
    nbformat.validate(nbformat.read(path, as_version=4))


def test_dry_run_prints_a_diff_and_writes_nothing(book, capsys):
    before = _snapshot(book)
    assert run(book, URL, "--dry-run") == 0
    out = capsys.readouterr().out
    assert f'+  url: "{URL}"' in out and f'+    "REPOSITORY = \\"{URL}\\"\\n",' in out
    assert _snapshot(book) == before


# ----------------------------------------------------------------------------- the book itself
def test_committed_config_matches_its_repository_url():
    """Buttons and launch links are on exactly when a URL is set (empty by default)."""
    text = (ROOT / "_config.yml").read_text()
    url = yaml.safe_load(text)["repository"]["url"]
    assert setrepo.set_yaml_values(text, setrepo.config_values(url, "main")) == text


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_starts_with_the_install_cell(path):
    """The first code cell of every chapter is the install cell, hidden on the website."""
    cell = _first_code_cell(path)
    assert setrepo.is_install_cell(cell), (
        f"{path.name}: the first code cell must be the install cell; "
        "copy it from another chapter or run scripts/set_repository.py --insert-missing")
    assert "remove-cell" in cell.metadata.get("tags", [])
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
