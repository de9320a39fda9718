"""A non-editable install carries everything the chapters read: the pretrained models and
their metrics, the committed experiment results and listening excerpts, and the CSS/JS
of the listening controls (an installed sedemo has no repository around it)."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_holds_what_the_chapters_read(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True)
    if proc.returncode != 0 and "No module named" in proc.stderr:
        pytest.skip(f"cannot build a wheel here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("sedemo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "sedemo"
    needed = [p for pattern in ("pretrained/*", "display/assets/*", "results/losses/*.json",
                                "results/losses/audio/*") for p in package.glob(pattern) if p.is_file()]
    assert len(needed) > 50
    missing = [str(p.relative_to(ROOT)) for p in needed if str(p.relative_to(ROOT)) not in names]
    assert not missing, f"not in the wheel: {missing[:5]}"
    from sedemo.evaluation import experiments

    assert experiments.RESULTS_DIR.is_relative_to(package)  # found next to the installed package


def _packages(text: str) -> list[str]:
    return [line.partition("#")[0].strip() for line in text.splitlines() if line.partition("#")[0].strip()]


def test_binder_environment_matches_the_project():
    """Binder (repo2docker) builds from binder/: the book's pins and the lab packages, the
    CPU torch wheel, the Debian sources of the corpus named by scripts/system-deps.sh, and a
    postBuild that installs sedemo, opens .md chapters as notebooks and builds the corpus."""
    binder = ROOT / "binder"
    reqs = _packages((binder / "requirements.txt").read_text())
    included = [r.split(None, 1)[1] for r in reqs if r.startswith("-r ")]
    assert sorted((binder / p).resolve().name for p in included) == ["requirements-lab.txt", "requirements.txt"]
    assert all((binder / p).resolve().exists() for p in included)
    assert any("download.pytorch.org/whl/cpu" in r for r in reqs), "torch must come from the CPU index"
    system = (ROOT / "scripts" / "system-deps.sh").read_text()
    pkgs_line = system.split('PKGS="', 1)[1].split('"', 1)[0].replace("\\\n", " ").split()
    apt = _packages((binder / "apt.txt").read_text())
    assert apt and set(apt) <= set(pkgs_line), f"not in system-deps.sh: {set(apt) - set(pkgs_line)}"
    assert {p for p in pkgs_line if p.startswith(("asterisk", "lincity", "minetest", "sonic"))} == set(apt)
    post = binder / "postBuild"
    assert post.stat().st_mode & 0o111, "postBuild must be executable"
    body = post.read_text()
    for step in ("pip install --no-deps -e .", "jupytext-config set-default-viewer", "sedemo.data build"):
        assert step in body
    assert (binder / "runtime.txt").read_text().strip() == "python-3.11"
