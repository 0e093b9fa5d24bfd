# npcnn: `make test` sets everything up and runs the checks; `make report` regenerates the report.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
QUICK   ?=
JOBS    ?=
SCHEDULER ?=
export NPCNN_DATA ?= $(if $(wildcard ../shared/data/mnist),$(abspath ../shared/data/mnist),)

.PHONY: help venv test lint train bench report clean

help:
	@echo "make test     create .venv if missing, install, ruff check, pytest"
	@echo "make train    train the seed's network (10 epochs) into runs/cli-default"
	@echo "make bench    seconds per epoch, eval time, per-layer times (PyTorch side by side if installed)"
	@echo "make report   run every study and render reports/index.html   (QUICK=1 for a preview)"
	@echo "              SCHEDULER=tcp://host:8786 trains on that Dask cluster"

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall when the project's metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,notebooks,cluster]'
	$(BIN)/python -m ipykernel install --sys-prefix --name npcnn --display-name "npcnn (.venv)" >/dev/null
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(BIN)/ruff check src tests notebooks/generate.py

test: lint
	$(BIN)/python -m pytest -q

train: venv
	$(BIN)/python -m npcnn train --epochs 10 --out runs/cli-default

bench: venv
	$(BIN)/python -m npcnn bench

report: venv
	$(BIN)/python -m npcnn.report $(if $(QUICK),--quick,) $(if $(JOBS),--jobs $(JOBS),) \
		$(if $(SCHEDULER),--scheduler $(SCHEDULER),)

clean:
	rm -rf reports .pytest_cache .ruff_cache
