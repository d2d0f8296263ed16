# Set-up and checks. Everything runs inside a virtual environment in the repo (.venv).
# torch is installed first, pinned, so that pip never pulls a CUDA build on CPU machines;
# override with `make TORCH_SPEC='torch==2.13.0 --index-url ...' install` on GPU machines.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH_SPEC ?= torch==2.13.0

.PHONY: install demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job on the embedded default: the TinyStories figures, offline, into report/.
demo: install
	$(VENV)/bin/ssi reproduce tinystories --out report
	@echo "open report/index.html"

lint: install
	$(VENV)/bin/ruff check simplestories_interp tests benchmarks experiments

# Everything (what CI runs).
test: install lint
	$(PY) -m pytest -n 2 tests

# The quick loop while editing (under 2 minutes on 2 cores): all but the tests marked slow.
test-fast: install lint
	$(PY) -m pytest -n 2 -m "not slow" tests

bench: install
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/cache_throughput.py
	$(PY) benchmarks/neuron_scan.py
	$(PY) benchmarks/forward_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
