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
