# Set-up is part of every target: each creates or updates .venv from the package registry.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export MPLBACKEND := Agg
# the SBML Test Suite cases, read in place
SBML_SUITE ?= $(or $(CROSSTALK_SBML_SUITE),../shared/sbml-semantic)

.PHONY: demo test lab sbml-suite fuzz bench bench-ensemble bench-lab bench-petab \
	bench-trials petab-gradients petab-fits bench-models calibrate-model calibrate-her2 profile-her2 robustness \
	ensemble-behaviours clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(VENV)/bin/crosstalk warmup
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/crosstalk atlas --out out/atlas

lab: $(STAMP)
	$(VENV)/bin/crosstalk lab $(if $(PORT),--port $(PORT))

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

bench-lab: $(STAMP)
	$(PY) benchmarks/lab_latency.py

bench-trials: $(STAMP)
	$(PY) benchmarks/trials.py

bench-petab: $(STAMP)
	$(PY) benchmarks/petab_speed.py

petab-gradients: $(STAMP)
	$(PY) benchmarks/petab_gradients.py

# seeded 50-start fides fits of three benchmark problems; each resumes from out/fits/<name>
FIT_PROBLEMS ?= Boehm_JProteomeRes2014 Fujita_SciSignal2010 Zheng_PNAS2012
# the bundled model against its data (docs/model.md, "Calibration"): an hour or more on one
# core; then which of the 15 behaviours hold at the fitted values
calibrate-model: $(STAMP)
	$(VENV)/bin/crosstalk calibrate simulator/models/data/er_crosstalk_mcf7/er_crosstalk_mcf7.yaml \
		--from-nominal --starts 1 --seed 0 --optimizer fides-fim --max-iterations 250 \
		--predict simulator/models/data/er_crosstalk_mcf7/er_crosstalk_mcf7_held_out.yaml \
		--out out/calibration
	$(PY) benchmarks/fit_behaviours.py out/calibration/parameters_fitted.tsv

# the HER2-amplified phenotype's ER and IRS-1 expression from BT-474's CCLE viability
# (docs/model.md): 4 fides starts, 20-25 min on two cores; then the stored fit it reproduces
calibrate-her2: $(STAMP)
	$(VENV)/bin/crosstalk calibrate simulator/models/data/ccle_viability/ccle_viability.yaml \
		--starts 4 --seed 0 --from-nominal --executor processes --out out/fit_bt474
	$(PY) benchmarks/compare_fit.py out/fit_bt474/parameters_fitted.tsv \
		simulator/models/data/ccle_viability/fitted.tsv

# the BT-474 fit's profiles (resumes calibrate-her2's starts from out/fit_bt474/starts)
profile-her2: $(STAMP)
	$(VENV)/bin/crosstalk calibrate simulator/models/data/ccle_viability/ccle_viability.yaml \
		--starts 4 --seed 0 --from-nominal --executor processes --out out/fit_bt474 \
		--profile BT474_ER_synthesis --profile BT474_IRS1_expression

petab-fits: $(STAMP)
	for p in $(FIT_PROBLEMS); do \
		ref=$$(awk -F'\t' -v p=$$p '$$1 == p {print $$2}' benchmarks/petab_best_known.tsv); \
		$(VENV)/bin/crosstalk calibrate ../shared/petab/benchmark/$$p/$$p.yaml --starts 50 \
			--seed 0 --executor processes --out out/fits/$$p \
			$${ref:+--reference $$ref} || exit 1; done

bench-models: $(STAMP)
	$(PY) benchmarks/models.py
	$(PY) benchmarks/model_family.py

robustness: $(STAMP)
	$(PY) benchmarks/robustness.py --runner core --jobs 2 --out out/robustness.csv

# the 15 behaviours across the calibrated ensemble: the BT-474 fit's posterior (docs/model.md)
ensemble-behaviours: $(STAMP)
	$(PY) benchmarks/ensemble_behaviours.py --samples 2000 --members 50 --jobs 2 \
		--out out/ensemble_behaviours.csv

clean:
	rm -rf $(VENV) out .cache
