# Two commands do everything on a fresh machine (each creates .venv and installs on first use):
#   make demo   run all notebooks with papermill on the built-in demo data -> runs/ (git-ignored)
#   make test   the test suite: package tests + nbval over the notebooks and their solutions
# and for readers and instructors:
#   make lab     JupyterLab on notebooks/ with the project's environment
#   make figures rerun the demo and replace the committed figures/<dataset>/ (the only target that does)
#   make student the exercises as student notebooks with answer cells -> runs/grading/student/ (grading/README.md)
#   make grade SUBMISSIONS=DIR  grade students' notebooks with Otter -> runs/grading/grades.csv
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.semgru-installed
PYTEST_ARGS ?=
# PyTorch for the benchmark's hand-written twin; CPU-only machines may prefer
#   make bench TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch>=2.2
BENCH_ARGS ?=
GRADING     ?= runs/grading
SUBMISSIONS ?= submissions

.PHONY: install test test-fast demo figures lab bench student grade clean help

help:
	@echo "make demo    - run notebooks 01-06 with papermill on every built-in demo dataset -> runs/"
	@echo "make test    - run the test suite (pytest + nbval over notebooks/ and notebooks/solutions/)"
	@echo "make lab     - open JupyterLab on notebooks/ in the project's environment"
	@echo "make figures - rerun the demo and replace the committed figures/<dataset>/ with its figures"
	@echo "make bench   - speed benchmarks (not part of the tests)"
	@echo "make student - student notebooks with answer cells and their autograders -> $(GRADING)/"
	@echo "make grade SUBMISSIONS=DIR - grade the student notebooks in DIR -> $(GRADING)/grades.csv"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[notebooks,test]"
	touch $@

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env --durations=15 $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow" $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python -m semgru_keras.run --all-demo

figures: $(STAMP)
	$(BIN)/python -m semgru_keras.run --all-demo --publish

# Jupyter refuses to run as root without --allow-root (containers, many classroom servers run as root);
# LAB_ARGS passes more options, e.g. make lab LAB_ARGS="--no-browser --port 8890"
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS ?=

lab: $(STAMP)
	$(BIN)/python -m jupyter lab --KernelManager.transport=ipc $(ALLOW_ROOT) $(LAB_ARGS) notebooks/

bench: $(STAMP)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

student: $(STAMP)
	$(BIN)/python -m grading build --out $(GRADING)

grade: student
	$(BIN)/python -m grading grade --out $(GRADING) $(SUBMISSIONS)

clean:
	rm -rf $(VENV) .venv-py* runs .pytest_cache .cache
