# Every target works on a fresh machine: the virtual environment is made on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ladkit-installed

.PHONY: test demo study study-compute lab tour notebooks bench gpu-check clean-venv

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	$(BIN)/python -m ipykernel install --sys-prefix --name ladkit --display-name "Python 3 (ladkit)" >/dev/null
	touch $(STAMP)

# One test process per (logical) core, a test file per process at a time (its module fixtures trained once);
# tests/conftest.py gives each one torch thread. `pytest tests/...` alone runs serially.
test: $(STAMP)
	$(BIN)/python -m pytest -q -ra -n logical --dist loadfile tests

demo: $(STAMP)
	$(BIN)/ladkit demo --out runs/demo

study: $(STAMP)
	$(BIN)/ladkit study configs/study.yaml

study-compute: $(STAMP)  # what LAD buys per unit of compute (RESULTS.md): about 2 h on 2 cores, resumable
	$(BIN)/ladkit study configs/study_compute.yaml

# The tutorial in JupyterLab (tools/lab: root allowed, README rendered, one kernel, each notebook
# listed once); nbstripout as this clone's git filter, so a saved tour's outputs never reach a commit.
LAB_ARGS ?=  # more jupyter lab options (the tour's: a port, a token, --no-browser)
lab: $(STAMP)
	$(BIN)/python tools/lab/git_filter.py
	$(BIN)/jupyter lab notebooks --config=tools/lab/jupyter_lab_config.py $(LAB_ARGS)

# A newcomer's tour in headless Chromium: make lab, then 00 -> 05 with Run All at the defaults
# (37-43 min on 2 cores, most of it 04); report in test-artifacts/tour/. Then `make test` must stay green.
tour: $(STAMP)
	$(BIN)/python tools/lab/tour.py $(TOUR_ARGS)

notebooks: $(STAMP)  # after editing a notebook's .py text: re-pair the .ipynb twins
	$(BIN)/python tools/sync_notebooks.py

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# One GPU, at most 8 minutes: CUDA tests, torchrun + NCCL, a sweep, the step benchmark (BENCHMARKS.md "GPU")
GPU_CHECK_OUT ?= runs/gpu_check
gpu-check: $(STAMP)
	$(BIN)/python benchmarks/gpu_check.py --out $(GPU_CHECK_OUT)

clean-venv:
	rm -rf $(VENV)
