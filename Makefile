# cabench: `make demo` and `make test` set up .venv themselves on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cabench-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export MPLBACKEND := Agg

.PHONY: install test test-fast lint format demo ci-check bench study clean-cache

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --durations=15

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: $(STAMP)
	CABENCH_PROGRESS=1 $(BIN)/python -m cabench.demo

# The project's own regression gate: a reduced, deterministic benchmark trained from scratch,
# then `cabench check` against the committed baseline (update it only deliberately:
# `cabench baseline write --store .cabench/ci/results.sqlite --out reports/baseline/ci.json`).
ci-check: $(STAMP)
	$(BIN)/python -m cabench.demo --preset ci
	$(BIN)/cabench check --baseline reports/baseline/ci.json --store .cabench/ci/results.sqlite

# The study (docs/study.md): six models x two seeds, both sites, every family; about an hour on
# 2 CPU cores. Sizes are options: make study STUDY_ARGS="--ct-cases 800 --epochs 20".
study: $(STAMP)
	CABENCH_PROGRESS=1 $(BIN)/python -m cabench.study $(STUDY_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

clean-cache:
	rm -rf .cabench/cache
