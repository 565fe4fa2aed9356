# mmsola: `make test` installs what it needs and runs the tests; `make demo` runs the demo.
# VENV puts the virtual environment elsewhere (default .venv); PYTEST_ARGS passes pytest options,
# DEMO_ARGS options of tools/demo/run_demo.py (e.g. DEMO_ARGS='--seed 1').
VENV ?= .venv
PYTHON := $(VENV)/bin/python

.PHONY: install test demo

install:
	@MMSOLA_VENV=$(abspath $(VENV)) bash tools/install.sh

test: install
	$(PYTHON) -m pytest $(PYTEST_ARGS)

demo: install
	$(PYTHON) tools/demo/run_demo.py $(DEMO_ARGS)
