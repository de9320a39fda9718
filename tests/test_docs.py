"""The package's shape, checked: every public function and class names the chapter that
explains it (a name that resolves to a chapter of the book), modules stay small, no
docstring points outside the repository, and the API page lists every public module."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import sedemo

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_TAIL = re.compile(r"Chapters?: ((?:\d\d_[a-z_]+)(?:, \d\d_[a-z_]+)*)\.")
MAX_LINES = 650  # "about 600"


def _public_modules():
    mods = []
    for info in pkgutil.walk_packages(sedemo.__path__, "sedemo."):
        last = info.name.rsplit(".", 1)[-1]
        if last.startswith("_"):
            continue
        mods.append(importlib.import_module(info.name))
    return mods


MODULES = _public_modules()


def _public_objects(mod):
    for name, obj in vars(mod).items():
        if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if getattr(obj, "__module__", None) == mod.__name__:
            yield name, obj


def test_there_is_something_to_check():
    assert len(MODULES) > 30
    assert sum(1 for m in MODULES for _ in _public_objects(m)) > 200


@pytest.mark.parametrize("mod", MODULES, ids=lambda m: m.__name__)
def test_every_public_function_names_an_existing_chapter(mod):
    chapters = {p.stem for p in (ROOT / "book").glob("0*.md")}
    assert chapters, "no chapters found under book/"
    for name, obj in _public_objects(mod):
        doc = inspect.getdoc(obj) or ""
        found = CHAPTER_TAIL.search(doc)
        assert found, f"{mod.__name__}.{name}: the docstring must end with 'Chapter: NN_name.'"
        for chapter in found.group(1).split(", "):
            assert chapter in chapters, f"{mod.__name__}.{name} names {chapter!r}, not a chapter of book/"


def test_modules_are_small():
    big = {str(p.relative_to(ROOT)): n for p in (ROOT / "sedemo").rglob("*.py")
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_no_reference_to_files_outside_the_repository():
    bad = re.compile(r"GUIDEBOOK|STYLE\.md|\.ipynb\b|nbtool")
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "sedemo").rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if bad.search(line)]
    assert not hits, hits


def test_api_page_lists_every_public_module():
    api = (ROOT / "book" / "api.md").read_text()
    listed = set(re.findall(r"\.\. automodule:: (\S+)", api))
    for mod in MODULES:
        if not any(True for _ in _public_objects(mod)):
            continue
        package = mod.__name__.rsplit(".", 1)[0]
        exported = set(getattr(importlib.import_module(package), "__all__", ()))
        names = {n for n, _ in _public_objects(mod)}
        assert mod.__name__ in listed or (package in listed and names <= exported), (
            f"{mod.__name__}: neither it nor its package (with every name in __all__) is in book/api.md")


def test_unknown_names_raise_one_error_type():
    """An unknown name in any registry raises ValueError listing the valid choices."""
    import numpy as np

    from sedemo import losses, masks, metrics, models, train
    from sedemo.evaluation import scoring

    s = np.sin(np.linspace(0, 200, 16000))
    calls = [lambda: models.build_model("nope"), lambda: losses.get_loss("nope"),
             lambda: masks.oracle_mask("nope", clean=np.ones((3, 4)), noise=np.ones((3, 4))),
             lambda: metrics.score(estimate=s, reference=s, which=["nope"]),
             lambda: scoring.oracle_enhancer("nope"), lambda: train.make_loss("nope")]
    for call in calls:
        with pytest.raises(ValueError, match="choose"):
            call()


@pytest.mark.parametrize("chapter", sorted(p.name for p in (ROOT / "book").glob("[0-9][0-9]_*.md")))
def test_saving_a_chapter_in_jupyterlab_leaves_it_unchanged(chapter):
    """The chapters are kept in the exact form jupytext writes when a reader saves one in
    JupyterLab (``make lab``, with book/jupytext.toml): opening, running and saving a
    chapter never dirties the repository."""
    from conftest import jupyterlab_saved

    path = ROOT / "book" / chapter
    text = path.read_text()
    assert jupyterlab_saved(text, path.parent) == text, (
        f"{chapter} is not in the form JupyterLab saves: rewrite it with "
        "tests/conftest.py's jupyterlab_saved (``{code-cell} ipython3`` cells, the ipykernel kernelspec)")
