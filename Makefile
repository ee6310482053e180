# sameo: `make demo` runs the main job, `make test` runs every test. Both set up .venv from scratch.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: venv demo test lint clean

# The Python environment: sameo_core + training (editable) with test, export and replay extras.
$(VENV)/.stamp: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.stamp

lint: venv
	$(VENV)/bin/ruff check .

test: venv lint
	$(PY) -m pytest -q test

demo: venv
	$(PY) -m sameo_core.demo --out out/demo

clean:
	rm -rf $(VENV) build install log out
