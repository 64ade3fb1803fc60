# SPeTS front door: `make demo` runs the app on demo data, `make test` runs every test.
# `make help` lists all targets.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= development.ini
DEBIAN_PACKAGES := chromium fonts-noto-core poppler-utils libpango-1.0-0 libpangoft2-1.0-0
LOCALE_DIR := webapp/locale
PO_FILES := $(wildcard $(LOCALE_DIR)/*/LC_MESSAGES/*.po)
MO_FILES := $(PO_FILES:.po=.mo)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets with what they do.
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

.PHONY: demo
demo: install ## Install everything, load the demo into SQLite, serve it with a Prefect server and worker.
	$(BIN)/spets -c $(CONFIG) demo run

.PHONY: test
test: install postgresql ## Run the whole suite on SQLite, then on PostgreSQL.
	$(BIN)/pytest --db sqlite $(PYTEST_ARGS)
	$(BIN)/pytest --db postgresql $(PYTEST_ARGS)

.PHONY: test-sqlite
test-sqlite: install ## Run the suite on SQLite only.
	$(BIN)/pytest --db sqlite $(PYTEST_ARGS)

.PHONY: test-postgresql
test-postgresql: install postgresql ## Run the suite on PostgreSQL only.
	$(BIN)/pytest --db postgresql $(PYTEST_ARGS)

.PHONY: install
install: system-packages $(BIN)/.installed $(MO_FILES) ## Create the virtual environment and install SPeTS with its test tools.

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $@

%.mo: %.po $(BIN)/.installed
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@

.PHONY: system-packages
system-packages: ## Install Debian's Chromium, Noto fonts (Urdu) and poppler-utils if missing.
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

.PHONY: postgresql
postgresql: ## Start the local PostgreSQL cluster if it is not running.
	@bash .ci/ensure-postgresql

.PHONY: lint
lint: install ## Check style with ruff.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: messages
messages: install ## Extract translatable strings into the .pot file and update the Urdu catalogue.
	$(BIN)/pot-create -o $(LOCALE_DIR)/spets.pot --package-name SPeTS -d spets \
	  models forms services webapp demo
	$(BIN)/pybabel update --no-fuzzy-matching -D spets -i $(LOCALE_DIR)/spets.pot -d $(LOCALE_DIR) -l ur

.PHONY: migrate
migrate: install ## Upgrade the database named by CONFIG to the latest migration.
	$(BIN)/spets -c $(CONFIG) setup

.PHONY: bench
bench: install postgresql ## Run the student import benchmark on PostgreSQL; results go to benchmarks/results/.
	$(BIN)/python benchmarks/import_students.py

.PHONY: clean
clean: ## Remove the virtual environment and local data (var/).
	rm -rf $(VENV) var
