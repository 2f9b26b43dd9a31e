# One-command set-up: `make test` (lint + test suite) and `make demo` (the main job on the embedded default);
# `make drift`: the paper's EDM vs DDPM drift comparison, small, on CPU (docs/drift.md).
# All create .venv when missing and reinstall only when pyproject.toml changes.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.diamond-installed
TORCH_CPU_PIN := torch==2.13.0

.PHONY: test lint demo drift install clean

install: $(STAMP)

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Without CUDA, pin the CPU build of torch first so that the `torch>=2.4` range does not pull CUDA wheels.
$(STAMP): pyproject.toml | $(PY)
	@if command -v nvidia-smi >/dev/null 2>&1; then \
		echo "CUDA driver found: installing torch from pyproject's range"; \
	else \
		$(PY) -m pip install --quiet "$(TORCH_CPU_PIN)"; \
	fi
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

test: lint
	$(VENV)/bin/pytest

demo: $(STAMP)
	$(PY) -m diamond_wm.demo

drift: $(STAMP)
	$(PY) -m diamond_wm.experiments.drift

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
