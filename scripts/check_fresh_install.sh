#!/usr/bin/env bash
# Check what a reader gets from a plain, NON-editable install: build a wheel of this
# repository, install it with its `synthetic` and `book` extras into a FRESH virtual
# environment, build the pip-only synthetic corpus outside the repository, and execute
# every chapter book/0*.md headlessly (jupytext -> notebook -> nbclient) from a folder
# outside the repository, with a kernel of that environment. Fails when a chapter raises,
# and when the repository's `git status --porcelain` changes.
#
#   bash scripts/check_fresh_install.sh                 # about an hour on 2 busy cores
#   FRESH_KEEP=1 bash scripts/check_fresh_install.sh    # keep the temporary folder
#   FRESH_CHAPTERS="01_noisy_speech 03_masks" bash scripts/check_fresh_install.sh
#
# Settings (environment): PYTHON (the python that makes the fresh venv; python3),
# REPO_PY (the python that builds the wheel; .venv/bin/python, else python3),
# FRESH_N_TRAIN (training mixtures of the corpus; 400), FRESH_CELL_TIMEOUT (s; 1200),
# FRESH_CONSTRAIN=1 (install every package at its requirements.txt pin, not the newest).
# Needs network access to PyPI (or a mirror) for the fresh environment.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
REPO_PY=${REPO_PY:-$REPO/.venv/bin/python}
[ -x "$REPO_PY" ] || REPO_PY=$(command -v python3)
N_TRAIN=${FRESH_N_TRAIN:-400}
CELL_TIMEOUT=${FRESH_CELL_TIMEOUT:-1200}
T0=$SECONDS

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sedemo-fresh.XXXXXX")
cleanup() {
    if [ "${FRESH_KEEP:-0}" = 1 ]; then
        echo "kept $TMP"
    else
        rm -rf -- "$TMP"
    fi
}
trap cleanup EXIT
step() { printf '\n== [%4ds] %s\n' "$((SECONDS - T0))" "$*"; }

# pins: the one exact line of requirements.txt for a package (case-insensitive name)
pin() {
    local lines
    lines=$(grep -i "^$1==" "$REPO/requirements.txt" || true)
    if [ "$(printf '%s' "$lines" | grep -c '==')" != 1 ]; then
        echo "error: requirements.txt needs exactly one line '$1==VERSION'" >&2
        exit 2
    fi
    printf '%s' "$lines" | tr -d '[:space:]'
}
TORCH_PIN=$(pin torch)
NB_PINS=()
for p in nbclient nbformat ipykernel jupytext; do v=$(pin "$p"); NB_PINS+=("$v"); done

step "repository $REPO; temporary folder $TMP"
git -C "$REPO" status --porcelain >"$TMP/git-before.txt"
touch "$TMP/start-stamp"
echo "git status --porcelain: $(wc -l <"$TMP/git-before.txt") entries before the check"

# 1. A wheel, built from a copy of the working tree (tracked files and untracked files that
#    git does not ignore), so that stale ignored folders of the checkout (build/,
#    *.egg-info) cannot leak into the wheel and nothing is written into the repository.
step "wheel (from a copy of the working tree, with $REPO_PY)"
mkdir -p "$TMP/src" "$TMP/wheel"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$REPO" && while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done) |
    (cd "$REPO" && tar --null -T - -cf -) | tar -xf - -C "$TMP/src"
(cd "$TMP/src" && "$REPO_PY" -m pip wheel -q --no-deps -w "$TMP/wheel" .)
WHEELS=("$TMP"/wheel/sedemo-*.whl)
[ "${#WHEELS[@]}" = 1 ] && [ -f "${WHEELS[0]}" ] || { echo "error: expected one sedemo wheel, got: ${WHEELS[*]}" >&2; exit 1; }
WHEEL=${WHEELS[0]}
echo "$(basename "$WHEEL"): $(du -h "$WHEEL" | cut -f1)"
rm -rf "$TMP/src"

# Everything from here on runs outside the repository, with nothing of it on the path.
cd "$TMP"
unset PYTHONPATH VIRTUAL_ENV PYTHONHOME CONDA_PREFIX
export PIP_DISABLE_PIP_VERSION_CHECK=1

# 2. A fresh virtual environment: torch first and pinned (an unpinned torch can pull a CUDA
#    build of several GB), then the wheel with its extras, then what executes notebooks.
step "fresh venv ($($PYTHON --version 2>&1)); $TORCH_PIN first"
"$PYTHON" -m venv "$TMP/venv"
VPY=$TMP/venv/bin/python
CONSTRAINT=()
[ "${FRESH_CONSTRAIN:-0}" = 1 ] && CONSTRAINT=(-c "$REPO/requirements.txt")
"$VPY" -m pip install -q "${CONSTRAINT[@]}" "$TORCH_PIN"
step "install $(basename "$WHEEL")[synthetic,book] ${NB_PINS[*]}"
"$VPY" -m pip install -q "${CONSTRAINT[@]}" "$WHEEL[synthetic,book]" "${NB_PINS[@]}"
"$VPY" -m pip check
"$VPY" - "$TMP/venv" "$REPO" <<'EOF'
import sys
from pathlib import Path
import sedemo, torch
venv, repo = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
where = Path(sedemo.__file__).resolve()
assert venv in where.parents, f"sedemo imported from {where}, not from the fresh venv"
assert repo not in where.parents, f"sedemo imported from the repository: {where}"
print(f"sedemo from {where.parent}; torch {torch.__version__}")
EOF
"$VPY" -m ipykernel install --prefix "$TMP/venv" --name sedemo-fresh --display-name "sedemo (fresh install)" >/dev/null
export JUPYTER_PATH=$TMP/venv/share/jupyter
export JUPYTER_CONFIG_DIR=$TMP/jupyter-config JUPYTER_RUNTIME_DIR=$TMP/jupyter-runtime
export MPLCONFIGDIR=$TMP/matplotlib IPYTHONDIR=$TMP/ipython
export PATH=$TMP/venv/bin:$PATH

# 3. The pip-only synthetic corpus, outside the repository.
export SEDEMO_DATA=$TMP/corpus SEDEMO_STATIC=1
step "synthetic corpus into $SEDEMO_DATA (--n-train $N_TRAIN)"
"$VPY" -m sedemo.data build --source synthetic --quiet --n-train "$N_TRAIN"

# 4. Every chapter: jupytext -> notebook in $TMP/nb, executed by nbclient with the fresh
#    venv's kernel, in the working folder $TMP/run.
mkdir -p "$TMP/nb" "$TMP/run" "$TMP/tmp"
# the chapters' temporary folders (tempfile.mkdtemp training runs, never removed by them) go
# into $TMP too, so that the check leaves nothing behind in the system's /tmp
export TMPDIR=$TMP/tmp
cat >"$TMP/execute.py" <<'EOF'
"""Execute notebooks with the kernel `sedemo-fresh`; print OK and seconds, or the first error."""
import re, sys, time, traceback
from pathlib import Path
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

tmp, cell_timeout, notebooks = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
argv0 = Path(KernelSpecManager().get_kernel_spec("sedemo-fresh").argv[0])
assert argv0.resolve() == Path(sys.executable).resolve(), f"kernel runs {argv0}, not {sys.executable}"

def run(nb, path):
    NotebookClient(nb, timeout=cell_timeout, startup_timeout=300, kernel_name="sedemo-fresh",
                   resources={"metadata": {"path": str(path)}}).execute()

# the kernel must be this environment's python and import the installed sedemo
probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    "import os, sys, sedemo; print(sys.executable); print(sedemo.__file__); print(os.getcwd())")])
run(probe, tmp / "run")
print("kernel:", " | ".join(o["text"].strip().replace("\n", " | ") for o in probe.cells[0].outputs))
failed = []
for f in notebooks:
    name = Path(f).stem
    nb = nbformat.read(f, as_version=4)
    t = time.perf_counter()
    try:
        run(nb, tmp / "run")
    except CellExecutionError as e:
        failed.append(name)
        print(f"FAIL {name} after {time.perf_counter() - t:.0f} s:\n" + re.sub(r"\x1b\[[0-9;]*m", "", str(e)), flush=True)
    except Exception:
        failed.append(name)
        print(f"FAIL {name} after {time.perf_counter() - t:.0f} s:\n{traceback.format_exc()}", flush=True)
    else:
        print(f"OK   {name} {time.perf_counter() - t:.0f} s", flush=True)
    nbformat.write(nb, tmp / "nb" / f"{name}.executed.ipynb")
print(f"{len(notebooks) - len(failed)} of {len(notebooks)} chapters ran" + (f"; failed: {', '.join(failed)}" if failed else ""))
sys.exit(1 if failed else 0)
EOF
CHAPTERS=()
for md in "$REPO"/book/0*.md; do
    name=$(basename "$md" .md)
    if [ -n "${FRESH_CHAPTERS:-}" ] && ! [[ " $FRESH_CHAPTERS " == *" $name "* ]]; then continue; fi
    "$TMP/venv/bin/jupytext" --quiet --to ipynb -o "$TMP/nb/$name.ipynb" "$md"
    CHAPTERS+=("$TMP/nb/$name.ipynb")
done
[ "${#CHAPTERS[@]}" -gt 0 ] || { echo "error: no chapter book/0*.md matched" >&2; exit 2; }
step "execute ${#CHAPTERS[@]} chapters (cell timeout ${CELL_TIMEOUT} s, SEDEMO_STATIC=1, working folder $TMP/run)"
status=0
"$VPY" "$TMP/execute.py" "$TMP" "$CELL_TIMEOUT" "${CHAPTERS[@]}" || status=1

# 5. The repository must be as it was.
step "repository unchanged?"
git -C "$REPO" status --porcelain >"$TMP/git-after.txt"
if ! diff -u "$TMP/git-before.txt" "$TMP/git-after.txt"; then
    echo "FAIL: git status --porcelain of $REPO changed during the check (diff above)"
    status=1
else
    echo "OK   git status --porcelain unchanged"
fi
# for information: files in the checkout written during the check, ignored ones included
# (runs/ and .git/ left out: training jobs and git itself write there)
changed=$(cd "$REPO" && find . \( -path ./.git -o -path ./runs \) -prune -o -type f -newer "$TMP/start-stamp" -print | head -20)
[ -z "$changed" ] || printf 'note: files of the checkout modified during the check (may be other processes):\n%s\n' "$changed"

step "done in $((SECONDS - T0)) s: $([ $status = 0 ] && echo PASSED || echo FAILED)"
exit $status
