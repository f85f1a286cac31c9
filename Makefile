# The two commands a newcomer needs (see README.md):
#   make run    set up .venv and run the main job
#   make test   set up .venv and run every check: lint, types, tests, coverage
# Both create the virtual environment on first use, so a fresh clone needs nothing else.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup run test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

run: setup
	$(BIN)/livequiz demo

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

test: lint
	$(BIN)/pytest
	# the pure quiz core must stay fully covered, branches included
	$(BIN)/coverage report --include='src/livequiz/domain/*' --fail-under=100 --skip-covered

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .hypothesis
