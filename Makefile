# Two commands do everything on a fresh machine (each creates .venv and installs on first use):
#   make demo   run all notebooks with papermill on the built-in demo data -> runs/ (git-ignored)
#   make test   the test suite: package tests + nbval over the notebooks and their solutions
# and for readers and instructors:
#   make lab     JupyterLab on notebooks/ with the project's environment
#   make figures rerun the demo and replace the committed figures/<dataset>/ (the only target that does)
#   make student the exercises as student notebooks with answer cells -> runs/grading/student/ (grading/README.md)
#   make grade SUBMISSIONS=DIR  grade students' notebooks with Otter -> runs/grading/grades.csv
# Notebooks are stored without outputs: `make install` and `make lab` point git's nbstripout filter (declared in
# .gitattributes) at this environment, and `make lab` saves the lessons without outputs (jupyter_server_config.py),
# so a Run All in JupyterLab leaves `git status` clean.
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

.PHONY: install git-filter test test-fast demo figures lab bench student grade clean help

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

install: $(STAMP) git-filter

# The clean filter stores a notebook as nbstripout leaves it: no outputs, no execution counts, no widget
# state, cell ids kept, and no Python patch version (language_info.version differs between machines).
# Inside a git checkout only (an unpacked archive has nothing to configure); `git config` without
# --global: this clone only. tests/test_notebooks.py and tests/test_browser.py run this target.
NBSTRIPOUT_FLAGS := --keep-id --extra-keys "metadata.language_info.version"
git-filter:
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git config filter.nbstripout.clean '"$(abspath $(BIN))/python" -m nbstripout $(NBSTRIPOUT_FLAGS)' && \
	  git config filter.nbstripout.smudge cat && \
	  git config diff.ipynb.textconv '"$(abspath $(BIN))/python" -m nbstripout -t $(NBSTRIPOUT_FLAGS)' && \
	  echo "git: notebooks are stored without outputs (nbstripout filter, see .gitattributes)"; \
	fi

test: $(STAMP)
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env --durations=15 $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow" $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python -m semgru_keras.run --all-demo

figures: $(STAMP)
	$(BIN)/python -m semgru_keras.run --all-demo --publish

# Jupyter refuses to run as root without --allow-root (containers, many classroom servers run as root);
# LAB_ARGS passes more options, e.g. make lab LAB_ARGS="--no-browser --port 8890".
# jupyter_server_config.py: the lessons are saved without outputs (see its docstring), so `git status` stays clean
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS ?=

lab: install
	$(BIN)/python -m jupyter lab --KernelManager.transport=ipc --config=jupyter_server_config.py $(ALLOW_ROOT) $(LAB_ARGS) notebooks/

bench: $(STAMP)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

student: $(STAMP)
	$(BIN)/python -m grading build --out $(GRADING)

grade: student
	$(BIN)/python -m grading grade --out $(GRADING) $(SUBMISSIONS)

clean:
	rm -rf $(VENV) .venv-py* runs .pytest_cache .cache
