# npcnn: `make test` sets everything up and runs the checks; `make report` regenerates the
# report. `make help` lists every target and variable.
PY        ?= python3
VENV      ?= .venv
BIN       := $(VENV)/bin
QUICK     ?=
DATASET   ?=
SEEDS     ?=
JOBS      ?=
SCHEDULER ?=
ONLY      ?=
# The machine's MNIST and Fashion-MNIST beside the checkout, if there are (CI and this
# project's machines); otherwise npcnn finds or downloads them itself (README, Conventions).
export NPCNN_DATA ?= $(if $(wildcard ../shared/data/mnist),$(abspath ../shared/data/mnist),)
FASHION_HERE := ../shared/data/fashion-mnist
export NPCNN_DATA_FASHION ?= $(if $(wildcard $(FASHION_HERE)),$(abspath $(FASHION_HERE)),)

# What make open shows: the report of DATASET (and QUICK) the way make report wrote it.
OPEN = reports/$(if $(filter-out mnist,$(DATASET)),$(DATASET)/,)$(if $(QUICK),quick/,)index.html

.PHONY: help venv test lint train bench report open clean

help:
	@echo "Targets:"
	@echo "  make test     create $(VENV) if missing, install, ruff check, pytest"
	@echo "  make report   run every study and render reports/index.html (only what changed)"
	@echo "                (DATASET=fashion: reports/fashion/, and reports/datasets.html)"
	@echo "  make open     open the report's index in a browser"
	@echo "  make train    train the original's network (10 epochs) into the run store"
	@echo "  make bench    seconds per epoch, per layer and per step against this machine's roofline,"
	@echo "               npcnn beside PyTorch if installed"
	@echo "  make venv     create $(VENV) and install the project with its extras"
	@echo "  make lint     ruff check"
	@echo "  make clean    remove reports/ and the test and lint caches (keeps runs/, data/)"
	@echo "Variables:"
	@echo "  QUICK=1                a preview report (2 epochs, 6,000 images) in .../quick/"
	@echo "  DATASET=fashion        every study on Fashion-MNIST (default mnist)"
	@echo "  SEEDS=N                seeds 0..N-1 for every point (default: each study's;"
	@echo "                         1 with QUICK=1)"
	@echo "  JOBS=N                 cores for training workers (default: every core)"
	@echo "  ONLY='lr momentum'     report only these studies, updated in the existing index"
	@echo "  SCHEDULER=tcp://h:8786 train on that Dask cluster (or set NPCNN_SCHEDULER)"
	@echo "  NPCNN_DATA=DIR         where MNIST is (default: ../shared/data/mnist if present)"
	@echo "  NPCNN_DATA_FASHION=DIR where Fashion-MNIST is (../shared/data/fashion-mnist)"
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
	$(BIN)/npcnn report $(if $(DATASET),--dataset $(DATASET),) $(if $(QUICK),--quick,) \
		$(if $(SEEDS),--seeds $(SEEDS),) \
		$(if $(JOBS),--jobs $(JOBS),) $(if $(SCHEDULER),--scheduler $(SCHEDULER),) \
		$(if $(ONLY),--only $(ONLY),)

open:
	@test -f $(OPEN) || { echo "no $(OPEN) yet: run make report"; exit 1; }
	$(PY) -m webbrowser -t "file://$(abspath $(OPEN))"

clean:
	rm -rf reports .pytest_cache .ruff_cache
