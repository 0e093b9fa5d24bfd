# npcnn: `make test` sets everything up and runs the checks; `make report` regenerates the
# report. `make help` lists every target and variable.
PY        ?= python3
VENV      ?= .venv
BIN       := $(VENV)/bin
QUICK     ?=
SEEDS     ?=
JOBS      ?=
SCHEDULER ?=
ONLY      ?=
# The machine's MNIST beside the checkout, if there is one (CI and this project's
# machines); otherwise npcnn finds or downloads it itself (README, "Data").
export NPCNN_DATA ?= $(if $(wildcard ../shared/data/mnist),$(abspath ../shared/data/mnist),)

.PHONY: help venv test lint train bench report open clean

help:
	@echo "Targets:"
	@echo "  make test     create $(VENV) if missing, install, ruff check, pytest"
	@echo "  make report   run every study and render reports/index.html (only what changed)"
	@echo "  make open     open the report's index in a browser"
	@echo "  make train    train the seed's network (10 epochs) into the run store"
	@echo "  make bench    seconds per epoch and per layer, npcnn beside PyTorch if installed"
	@echo "  make venv     create $(VENV) and install the project with its extras"
	@echo "  make lint     ruff check"
	@echo "  make clean    remove reports/ and the test and lint caches (keeps runs/, data/)"
	@echo "Variables:"
	@echo "  QUICK=1                a preview report (2 epochs, 6,000 images) in reports/quick/"
	@echo "  SEEDS=N                seeds per point (default 3; 1 with QUICK=1)"
	@echo "  JOBS=N                 cores for training workers (default: every core)"
	@echo "  ONLY='lr momentum'     report only these studies, updated in the existing index"
	@echo "  SCHEDULER=tcp://h:8786 train on that Dask cluster (or set NPCNN_SCHEDULER)"
	@echo "  NPCNN_DATA=DIR         where MNIST is (default: ../shared/data/mnist if present)"
	@echo "  PY=python3.11 VENV=.venv   the interpreter and virtualenv make uses"

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall when the project's metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,notebooks,cluster]'
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(BIN)/ruff check src tests notebooks

test: lint
	$(BIN)/python -m pytest -q

train: venv
	$(BIN)/npcnn train --epochs 10

bench: venv
	$(BIN)/npcnn bench

report: venv
	$(BIN)/npcnn report $(if $(QUICK),--quick,) $(if $(SEEDS),--seeds $(SEEDS),) \
		$(if $(JOBS),--jobs $(JOBS),) $(if $(SCHEDULER),--scheduler $(SCHEDULER),) \
		$(if $(ONLY),--only $(ONLY),)

open:
	@test -f reports/index.html || { echo "no reports/index.html yet: run make report"; exit 1; }
	$(PY) -m webbrowser -t "file://$(abspath reports/index.html)"

clean:
	rm -rf reports .pytest_cache .ruff_cache
