# edgefer: the README's commands. Every target sets up .venv first (idempotent, offline after once).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUNS   ?= runs

.PHONY: setup demo test lint format clean train-all test-py310

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[cpu,train,dev]"
	touch $(STAMP)

setup: $(STAMP) ## create .venv with the runtime, training and test dependencies

demo: $(STAMP) ## the live loop offline on the packaged CREMA-D clips (INT8 engine built once; no camera/mic)
	$(BIN)/edgefer run --demo --save $(RUNS)/demo/demo.mp4

test: $(STAMP) ## the test suite (real data from ../shared/data or $$EDGEFER_DATA), then ruff
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check edgefer tests

test-py310: ## CI's runtime job: a fresh Python 3.10 venv with edgefer[cpu,live] (no TensorFlow) and its tests
	.ci/run py310

train-all: $(STAMP) ## train the five edge variants on ../shared/data (hours on 2 cores; resumable)
	scripts/train-all.sh $(RUNS)/shipped

lint: $(STAMP)
	$(BIN)/ruff check edgefer tests
	$(BIN)/ruff format --check edgefer tests

format: $(STAMP)
	$(BIN)/ruff format edgefer tests
	$(BIN)/ruff check --fix edgefer tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
