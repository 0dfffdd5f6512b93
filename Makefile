# Set-up is part of every target: each creates or updates .venv from the package registry.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export MPLBACKEND := Agg
# the SBML Test Suite cases, read in place
SBML_SUITE ?= $(or $(CROSSTALK_SBML_SUITE),../shared/sbml-semantic)

.PHONY: demo test sbml-suite fuzz bench bench-ensemble bench-petab bench-trials petab-gradients clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/crosstalk atlas --out out/atlas

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

sbml-suite: $(STAMP)
	$(PY) -m tests.sbml_suite --suite $(SBML_SUITE) --out out/sbml-suite.csv

fuzz: $(STAMP)
	$(PY) -m tests.fuzzing --cases 10000 --seed 0 --workers 2 --out out/fuzz.jsonl \
		$(if $(wildcard $(SBML_SUITE)),--suite $(SBML_SUITE))

bench: $(STAMP)
	$(PY) benchmarks/single_run.py

bench-ensemble: $(STAMP)
	$(PY) benchmarks/ensemble.py

bench-trials: $(STAMP)
	$(PY) benchmarks/trials.py

bench-petab: $(STAMP)
	$(PY) benchmarks/petab_speed.py

petab-gradients: $(STAMP)
	$(PY) benchmarks/petab_gradients.py

clean:
	rm -rf $(VENV) out .cache
