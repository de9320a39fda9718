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

.PHONY: book test unit data system-deps venv clean clean-book browser-test

book: system-deps venv data
	$(JB) build . --warningiserror --keep-going
	@echo
	@echo "The book is built: open $(CURDIR)/_build/html/index.html"
	@echo "(or serve it: $(PY) -m http.server -d _build/html 8000)"

test: system-deps venv data
	$(PY) -m pytest -q -m "not browser"
	$(JB) build . --warningiserror --keep-going
	$(PY) -m pytest -q -m browser

unit: venv
	$(PY) -m pytest -q -m "not browser and not corpus"

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

clean-book:
	rm -rf _build

clean: clean-book
	rm -rf $(VENV) data
