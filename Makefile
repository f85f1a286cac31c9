# The two commands a newcomer needs (see README.md):
#   make run    set up .venv and run the main job
#   make test   set up .venv and run every check: lint, types, tests, coverage
# Both create the virtual environment on first use, so a fresh clone needs nothing else.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup run test lint browser deploy-tools wordnet screenshots bench mutation clean

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

# Browser tests drive Debian's chromium (Playwright's own browser download does not work
# everywhere). Installed here when missing and possible; without it those tests skip loudly,
# and in CI (CI=true) a skip fails the run.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 || \
	  echo "could not install chromium: browser tests will be skipped"; }

# The deployment tests (tests/deploy/) run Debian's nginx with deploy/nginx.conf and check
# deploy/prometheus.yml with promtool (from Debian's prometheus package). Installed when missing
# and possible (as root; without recommends; where a service manager runs, the packages may
# start their own nginx and prometheus services); without them those tests skip loudly, and in
# CI (CI=true) a skip fails the run.
deploy-tools:
	@{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 || { \
	  echo "installing Debian's nginx for the deployment tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends nginx) >/dev/null 2>&1 || \
	  echo "could not install nginx: the nginx tests will be skipped"; }
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing Debian's prometheus (for promtool) for the deployment tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends prometheus) >/dev/null 2>&1 || \
	  echo "could not install prometheus: the promtool check will be skipped"; }

# The deck build (livequiz deck build) and its tests read Princeton WordNet 3.0 from Debian's
# wordnet-base and wordnet-sense-index (/usr/share/wordnet). Installed when missing and
# possible; without them those tests skip loudly, and in CI (CI=true) a skip fails the run.
wordnet:
	@test -f /usr/share/wordnet/index.sense -a -f /usr/share/wordnet/data.noun || { \
	  echo "installing Debian's WordNet 3.0 for the deck build's tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends wordnet-base wordnet-sense-index) \
	    >/dev/null 2>&1 || echo "could not install WordNet: the deck build tests will be skipped"; }

test: lint browser deploy-tools wordnet
	$(BIN)/pytest
	# the pure quiz core must stay fully covered, branches included
	$(BIN)/coverage report --include='src/livequiz/domain/*' --fail-under=100 --skip-covered

# The screenshots in docs/screenshots/ (shown in the README), taken by playing a short quiz in
# Chromium; run by hand when the pages change, not by the tests.
screenshots: setup browser
	$(BIN)/python scripts/screenshots.py docs/screenshots

# The runs behind docs/benchmarks.md (~12 minutes; results in bench/results/). Leave the
# machine otherwise idle while it runs: the figures are only comparable within one run.
bench: setup
	bench/report.sh

# Mutation testing of the quiz core (docs/reliability.md, section 8): mutmut makes one small
# change at a time to src/livequiz/domain (a flipped comparison, a dropped argument, a renamed
# key) and runs tests/domain against each; a change no test notices is a wrong result the tests
# would let through. Prints the score per module and every mutant not killed. Slow (about 40
# minutes on one busy core), so not part of `make test`; MUTATION_JOBS workers (default 1).
# MUTANTS='livequiz.domain.views.*' re-runs only those, after a full run, to check new tests.
MUTATION_JOBS ?= 1
MUTANTS ?=
mutation: setup
	$(if $(MUTANTS),,rm -rf mutants)
	$(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS)
	$(BIN)/mutmut results --all true | $(BIN)/python scripts/mutation_score.py

clean:
	rm -rf $(VENV) mutants .pytest_cache .mypy_cache .ruff_cache .coverage .hypothesis
