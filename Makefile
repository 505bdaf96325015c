# Takedown: `make run` starts the service on SQLite, `make test` runs every check.
# Both set up what they need: a virtualenv in .venv, the Python packages, and
# (as root, with apt-get) the system packages Chromium, CJK fonts and gettext.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_PACKAGES := chromium fonts-noto-cjk gettext
# What only the benchmarks need: the site farm (nginx, unbound) and the peer (curl).
BENCH_PACKAGES := nginx unbound curl
export TAKEDOWN_DATA_DIR ?= $(CURDIR)/var

.PHONY: run demo test lint typecheck pytest system-deps venv messages messages-update clean bench

run: venv system-deps messages
	@echo "make run starts Takedown for real: it will contact the real internet (DNS, registries, the reported sites, your mail server). 'make demo' runs on a simulated internet instead."
	$(BIN)/takedown migrate --no-input
	$(BIN)/takedown serve

# The whole loop on the simulated internet at a pace a person can follow:
# prints the login, then the UI shows sites located, notified, taken down,
# closed and revived. PACE stretches the scenario's times (default 8).
PACE ?= 8
demo: venv system-deps messages
	$(BIN)/takedown serve --sandbox scenarios/seed-cases.yaml --pace $(PACE)

test: venv system-deps messages lint typecheck pytest

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# Installs only what is missing, so a machine that has everything needs neither
# root nor the network.
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing system packages:$$missing (install them with apt-get as root)"; \
	  fi; \
	fi

messages: venv
	$(BIN)/takedown compilemessages >/dev/null

# After adding or changing a translatable string: refresh the Japanese catalogue,
# then translate the new entries (a test fails on any untranslated one).
messages-update: venv
	$(BIN)/takedown makemessages -l ja --no-obsolete

lint: venv
	$(BIN)/ruff check takedown bench
	$(BIN)/ruff format --check takedown bench

typecheck: venv
	$(BIN)/mypy takedown

pytest: venv
	$(BIN)/pytest $(PYTEST_ARGS)

# Every benchmark, each beside its peer measured in the same run (bench/README.md
# keeps the last figures).  BENCH_DATABASE_URL=postgres://... also runs the
# ones where the database matters on PostgreSQL (an empty database).
bench: venv
	@$(MAKE) --no-print-directory system-deps SYSTEM_PACKAGES="$(BENCH_PACKAGES)"
	$(BIN)/python bench/resolvers.py
	$(BIN)/python bench/checks.py --sites 10000 --passes 2
	$(BIN)/python bench/watch.py --sites 10000 --passes 3
	$(BIN)/python bench/memory.py --sites 100000 --seconds 45
	$(BIN)/python bench/locate.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/stats.py
	$(BIN)/python bench/extract.py
	$(BIN)/python bench/bounces.py
	@if [ -n "$(BENCH_DATABASE_URL)" ]; then \
	  DATABASE_URL="$(BENCH_DATABASE_URL)" $(BIN)/python bench/checks.py --sites 10000 --passes 2 --processes 0 && \
	  DATABASE_URL="$(BENCH_DATABASE_URL)" $(BIN)/python bench/stats.py; \
	fi

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
