# The two commands a newcomer needs (see README.md):
#   make run    set up .venv and run the main job
#   make test   set up .venv and run every check: lint, types, tests, coverage
# Both create the virtual environment on first use, so a fresh clone needs nothing else.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup run test lint browser deploy-tools wordnet speech screenshots demo-video bench reliability fuzz mutation mutation-pg diagrams clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

run: setup speech
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
	@test -f tests/browser/axe/node_modules/axe-core/axe.min.js || { \
	  echo "installing axe-core (npm, pinned in tests/browser/axe) for the accessibility audit"; \
	  npm ci --prefix tests/browser/axe --no-audit --no-fund >/dev/null 2>&1 || \
	  echo "could not install axe-core: the accessibility audit will be skipped"; }

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
# Listening questions say their word with Debian's espeak-ng (the server finds it on PATH;
# without it, a quiz that asks for listening questions is refused at creation).
speech:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  echo "installing Debian's espeak-ng for listening questions"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends espeak-ng) \
	    >/dev/null 2>&1 || echo "could not install espeak-ng: listening tests will be skipped"; }

wordnet:
	@test -f /usr/share/wordnet/index.sense -a -f /usr/share/wordnet/data.noun || { \
	  echo "installing Debian's WordNet 3.0 for the deck build's tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends wordnet-base wordnet-sense-index) \
	    >/dev/null 2>&1 || echo "could not install WordNet: the deck build tests will be skipped"; }

test: lint browser deploy-tools wordnet speech
	$(BIN)/pytest
	# the pure quiz core must stay fully covered, branches included
	$(BIN)/coverage report --include='src/livequiz/domain/*' --fail-under=100 --skip-covered

# The screenshots in docs/screenshots/ (shown in the README), taken by playing a short quiz in
# Chromium; run by hand when the pages change, not by the tests.
screenshots: setup browser
	$(BIN)/python scripts/screenshots.py docs/screenshots

# The demo video in docs/demo/ (shown at the top of the README): a short game recorded in
# Chromium, the host page, the big screen and three phones side by side, and its poster image.
# Playwright's recorder and the final encode use Debian's ffmpeg, and the pages' emoji Debian's
# Noto Color Emoji; installed here when missing and possible. Run by hand when the pages change;
# the tests only play the committed file (tests/browser/test_demo_video.py).
demo-video: setup browser
	@command -v ffmpeg >/dev/null 2>&1 || { \
	  echo "installing Debian's ffmpeg to record the demo video"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends ffmpeg) >/dev/null 2>&1 || \
	  echo "could not install ffmpeg: the demo video cannot be recorded"; }
	@test -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf || { \
	  echo "installing Debian's fonts-noto-color-emoji for the pages' emoji"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends fonts-noto-color-emoji) >/dev/null 2>&1 || \
	  echo "could not install the emoji font: emoji will show as boxes"; }
	$(BIN)/python scripts/demo_video.py docs/demo

# The pictures of docs/design.md's Mermaid diagrams (docs/design/*.svg), rendered by
# mermaid-cli (npm, pinned in scripts/mermaid) with Debian's chromium; run after changing a
# diagram (tests/test_design_doc.py fails while a picture is older than its source).
diagrams: setup
	@test -x scripts/mermaid/node_modules/.bin/mmdc || \
	  PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix scripts/mermaid --no-audit --no-fund
	$(BIN)/python scripts/render_diagrams.py

# The runs behind docs/benchmarks.md (~12 minutes; results in bench/results/). Leave the
# machine otherwise idle while it runs: the figures are only comparable within one run.
bench: setup
	bench/report.sh

# The long fault runs behind docs/reliability.md (~15 minutes): 100 kill -9 of the embedded
# server at random moments, the full and slow disk, the cluster faults on PostgreSQL + NATS,
# a cut-off process in its own network namespace, a long day of 3,000 quizzes, all
# reported through the checker (tests/reliability/checker.py). Figures are printed and appended
# to docs/reliability/results.jsonl, from which the report's tables are written.
RELIABILITY_KILLS ?= 100
RELIABILITY_CLUSTER_FAULTS ?= 40
RELIABILITY_LONG_DAY_QUIZZES ?= 3000
reliability: setup deploy-tools
	mkdir -p docs/reliability
	LIVEQUIZ_RELIABILITY_KILLS=$(RELIABILITY_KILLS) \
	LIVEQUIZ_RELIABILITY_CLUSTER_FAULTS=$(RELIABILITY_CLUSTER_FAULTS) \
	LIVEQUIZ_LONG_DAY_QUIZZES=$(RELIABILITY_LONG_DAY_QUIZZES) \
	LIVEQUIZ_LONG_DAY_PLOT=$(CURDIR)/docs/reliability/long-day.png \
	LIVEQUIZ_RELIABILITY_OUT=$(CURDIR)/docs/reliability/results.jsonl \
	  $(BIN)/pytest -p no:cacheprovider --no-cov -s -q -m "long or not long" tests/reliability tests/cluster \
	    tests/durability tests/netns

# Long fuzzing runs (docs/reliability.md, section 4): each atheris target for FUZZ_SECONDS
# (default 600), its corpus kept in .fuzz/ (out of git; tests/fuzz/seeds/ is the seed corpus),
# then the HTTP API from its OpenAPI document with 1,000 examples per operation and mode.
FUZZ_SECONDS ?= 600
fuzz: setup
	@mkdir -p .fuzz
	for target in frame bus wordlist; do \
	  mkdir -p .fuzz/$$target && \
	  $(BIN)/python tests/fuzz/atheris_targets.py $$target .fuzz/$$target \
	    tests/fuzz/seeds/$$target tests/fuzz/regressions/$$target \
	    -dict=tests/fuzz/json.dict -max_len=8192 -timeout=10 \
	    -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=.fuzz/$$target- \
	    > .fuzz/$$target.log 2>&1 || { tail -40 .fuzz/$$target.log; exit 1; }; \
	  echo "$$target: $$(grep '^Done' .fuzz/$$target.log)"; \
	done
	LIVEQUIZ_FUZZ_EXAMPLES=1000 $(BIN)/pytest -q -p no:cacheprovider --no-cov -s \
	  tests/fuzz/test_schemathesis.py

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

# The same for the PostgreSQL path (docs/reliability.md, section 8, "The PostgreSQL path"): the
# journal's fenced append, leases, the store's batches and takeovers, the owner's lease trust,
# against the contract suite on real PostgreSQL, tests/test_store.py and three servers sharing
# one storage (settings: [tool.livequiz.mutation-pg] in pyproject.toml). Run in .mutation-pg/,
# apart from `make mutation`'s mutants. About an hour on one busy core; MUTATION_JOBS and
# MUTANTS as above (after a full run, MUTANTS re-runs only those).
mutation-pg: setup
	$(BIN)/python scripts/mutation_pg.py $(if $(MUTANTS),,--fresh) --jobs $(MUTATION_JOBS) $(MUTANTS)

clean:
	rm -rf $(VENV) mutants .mutation-pg .pytest_cache .mypy_cache .ruff_cache .coverage .hypothesis
