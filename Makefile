# edgefer: the README's commands. Every target sets up .venv first (idempotent, offline after once).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SERVE_VENV  ?= .venv-serve
SERVE_STAMP := $(SERVE_VENV)/.installed
RUNS   ?= runs

.PHONY: setup serve-venv demo test lint format clean train-all test-py310

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[cpu,train,dev]"
	touch $(STAMP)

setup: $(STAMP) ## create .venv with the runtime, training and test dependencies

# edgefer serve: PyTriton pins numpy<2, so it gets a venv of its own (runtime only, no TensorFlow).
$(SERVE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SERVE_VENV)/bin/python -m pip install --quiet -e ".[cpu,serve]"
	touch $(SERVE_STAMP)

serve-venv: $(SERVE_STAMP) ## create .venv-serve for `edgefer serve` (Triton via PyTriton)

demo: $(STAMP) ## the live loop offline on the packaged CREMA-D clips (INT8 engine built once; no camera/mic)
	$(BIN)/edgefer run --demo --save $(RUNS)/demo/demo.mp4

test: $(STAMP) $(SERVE_STAMP) ## the test suite (real data from ../shared/data or $$EDGEFER_DATA, else tests/data/sample; a real Triton server from .venv-serve), then ruff
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check edgefer tests benchmarks scripts
	$(BIN)/ruff format --check edgefer tests benchmarks scripts

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
	rm -rf $(VENV) $(SERVE_VENV) .pytest_cache .ruff_cache
