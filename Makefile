# Sealbox: the two set-up commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# axe-core, the accessibility checker the browser tests run in each page (npm, pinned in package-lock.json).
AXE := node_modules/axe-core/axe.min.js
export SEALBOX_DATA_DIR ?= ./var

# Compiled gettext catalogues: made by the install, remade when a .po is newer.
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard sealbox/locale/*/LC_MESSAGES/django.po))

.PHONY: run test check lint typecheck pytest bench install clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m sealbox.catalogues --force
	touch $(STAMP)

$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $(AXE)

%.mo: %.po | $(STAMP)
	$(BIN)/python -m sealbox.catalogues

install: $(STAMP) $(CATALOGUES)

run: $(STAMP) $(CATALOGUES)
	$(BIN)/sealbox migrate --verbosity 0
	exec $(BIN)/sealbox serve

lint: $(STAMP)
	$(BIN)/ruff check sealbox tests bench
	$(BIN)/ruff format --check sealbox tests bench
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy sealbox

pytest: $(STAMP) $(CATALOGUES) $(AXE)
	SEALBOX_DATA_DIR=$$(mktemp -d) $(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The fast lane for a developer's loop: lint, types, and the suite without the
# browser and process-starting tests, on both cores.
check: lint typecheck $(CATALOGUES)
	SEALBOX_DATA_DIR=$$(mktemp -d) $(BIN)/pytest -q -n 2 -m "not browser and not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules build *.egg-info
