# The two commands of the README:
#   make book   set everything up (Debian packages, virtual environment, corpus) and build the site
#   make test   the same set-up, unit tests, an executed build with warnings as errors, browser tests
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
STAMP  := $(VENV)/.sedemo-installed
# Notebooks render their listening controls as static HTML (no kernel in the website).
export SEDEMO_STATIC := 1

.PHONY: book test unit data data-extended data-noise-bank system-deps venv clean clean-book browser-test lab lab-deps live-assets

book: system-deps venv data live-assets
	$(JB) build . --warningiserror --keep-going
	@echo
	@echo "The book is built: open $(CURDIR)/_build/html/index.html"
	@echo "(or serve it: $(PY) -m http.server -d _build/html 8000)"

test: system-deps venv data live-assets lab-deps
	$(PY) -m pytest -q -m "not browser"
	$(JB) build . --warningiserror --keep-going
	$(PY) -m pytest -q -m browser

# JupyterLab, jupytext, the MyST renderer and ipywidgets (requirements-lab.txt): for `make lab`
# and for the browser test that drives JupyterLab (tests/test_lab.py)
LAB_STAMP := $(VENV)/.sedemo-lab-installed
lab-deps: $(LAB_STAMP)
$(LAB_STAMP): requirements-lab.txt $(STAMP)
	$(PY) -m pip install -q -r requirements-lab.txt
	touch $(LAB_STAMP)

unit: venv
	$(PY) -m pytest -q -m "not browser and not corpus"

# The "Try it live" page's generated assets (book/_static/live/: onnxruntime-web from the npm
# registry at the version of web/package-lock.json, the exported GCRN, three test clips)
live-assets: venv data
	PYTHON=$(PY) bash scripts/build_live_assets.sh

system-deps:
	@bash scripts/system-deps.sh

venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

data: venv
	$(PY) -m sedemo.data build

# The extended corpus for training the default models (scripts/train_models.sh ulcrn|gcrn_ext):
# 60 real voices from more Debian packages, 8000 training mixtures (about 9 h); about 20 minutes.
data-extended: venv
	SEDEMO_EXTENDED_VOICES=1 bash scripts/system-deps.sh
	$(PY) -m sedemo.data build --voices extended --root data/corpus-extended --n-train 8000

# The training noise bank (0 A.D.'s ambient recordings, 23 min train + 5 min held-out families),
# the validation mixtures in its held-out families (data/noise-bank-valid) and the extra,
# train-only bank (GCompris and Scratch sounds, 8 min; data/noise-bank-extra) and the nature
# bank (MegaGlest's tileset ambiences, 13 min; data/noise-bank-nature); needs data-extended,
# 0ad-data (1.4 GB download), gcompris-qt-data, scratch and megaglest-data (240 MB); about a
# minute after the downloads.
data-noise-bank: data-extended
	SEDEMO_NOISE_BANK=1 bash scripts/system-deps.sh
	$(PY) -m sedemo.data noise-bank --out data/noise-bank --corpus data/corpus-extended \
		--valid-out data/noise-bank-valid
	$(PY) -m sedemo.data noise-bank-extra --out data/noise-bank-extra
	$(PY) -m sedemo.data noise-bank-nature --out data/noise-bank-nature

# JupyterLab with live controls: the chapters open as notebooks (jupytext), MyST renders
# (jupyterlab-myst), sliders are live (ipywidgets, SEDEMO_STATIC unset). Its settings live in
# the environment (JUPYTER_CONFIG_DIR), not in your home folder; outputs are never written
# into the .md chapters.
LAB_CONFIG := $(CURDIR)/$(VENV)/etc/sedemo-lab
lab: venv data lab-deps
	JUPYTER_CONFIG_DIR=$(LAB_CONFIG) $(VENV)/bin/jupytext-config set-default-viewer
	@echo "Opening JupyterLab on book/ (double-click a chapter; Run > Run All Cells)."
	SEDEMO_STATIC=0 JUPYTER_CONFIG_DIR=$(LAB_CONFIG) $(VENV)/bin/jupyter lab book $(if $(filter 0,$(shell id -u)),--allow-root,)

clean-book:
	rm -rf _build book/_static/live/ort book/_static/live/model book/_static/live/clips

clean: clean-book
	rm -rf $(VENV) data
