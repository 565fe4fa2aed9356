# mmsola: `make test` installs what it needs and runs the tests; `make demo` runs the demo;
# `make lint` runs ruff (requirements/lint.txt, put into the environment if missing; ruff.toml).
# VENV puts the virtual environment elsewhere (default .venv); PYTEST_ARGS passes pytest options;
# TEST_WORKERS sets how many processes share the test files (default 2, one per core of the CI
# machine; 0 runs them in one process); DEMO_ARGS passes options of demo/run_demo.py (e.g.
# DEMO_ARGS='--seed 1'), STUDY_ARGS those of projects/pattern_study/pattern_study.py for
# `make pattern-study` (e.g. STUDY_ARGS='--seeds 1'). Both run from the repository root, as
# `python -m demo.run_demo` and `python -m projects.pattern_study.<script>`. `make docs` builds
# the Sphinx site of docs/en into docs/en/_build/html, warnings as errors (requirements/docs.txt,
# put into the environment if missing; the API pages import mmsola, so it installs first).
VENV ?= .venv
TEST_WORKERS ?= 2
PYTHON := $(VENV)/bin/python
RUFF_VERSION := $(shell sed -n 's/^ruff==//p' requirements/lint.txt)
SPHINX_VERSION := $(shell sed -n 's/^sphinx==//p' requirements/docs.txt)
MYST_VERSION := $(shell sed -n 's/^myst-parser==//p' requirements/docs.txt)

.PHONY: install test lint docs demo pattern-study

install:
	@MMSOLA_VENV=$(abspath $(VENV)) bash tools/install.sh

test: install
	$(PYTHON) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# only ruff itself is installed: linting takes seconds, before (or without) `make install`
lint:
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	@test "$$($(VENV)/bin/ruff --version 2>/dev/null)" = "ruff $(RUFF_VERSION)" || \
	  $(PYTHON) -m pip install -q --disable-pip-version-check -r requirements/lint.txt
	$(VENV)/bin/ruff check .

docs: install
	@$(PYTHON) -c 'import sphinx, myst_parser, sys; sys.exit((sphinx.__version__, \
	  myst_parser.__version__) != ("$(SPHINX_VERSION)", "$(MYST_VERSION)"))' 2>/dev/null || \
	  $(PYTHON) -m pip install -q --disable-pip-version-check -c requirements/pinned.txt \
	  -r requirements/docs.txt
	$(PYTHON) -m sphinx -W --keep-going -q -b html docs/en docs/en/_build/html

demo: install
	$(PYTHON) -m demo.run_demo $(DEMO_ARGS)

pattern-study: install
	$(PYTHON) -m projects.pattern_study.make_far_cue_dataset
	$(PYTHON) -m projects.pattern_study.pattern_study configs/demo/fpn_sola_far_cue_demo.py \
	  $(STUDY_ARGS)
