# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := app.py

.PHONY: run serve test lint format lock lock-check audit i18n-extract i18n-compile e2e-deps assets pdf-deps pdf-test-deps clean

# Python packages come only from the locks in requirements/ (every package, transitive ones too,
# pinned with its hashes; `make lock` writes them from pyproject.toml): build.txt (pip, setuptools),
# app.txt (the app) and dev.txt (the app and the development tools). Nothing is resolved at install
# time and nothing is built in an isolated environment that would fetch unpinned build tools.
PIP_INSTALL := $(BIN)/pip install --quiet --require-hashes --no-deps --no-build-isolation
INSTALL_PROJECT := $(BIN)/pip install --quiet --no-deps --no-build-isolation --editable . \
	&& $(BIN)/pip check >/dev/null || { $(BIN)/pip check; exit 1; }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements/build.txt

$(VENV)/.installed: pyproject.toml requirements/build.txt requirements/app.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements/build.txt -r requirements/app.txt
	$(INSTALL_PROJECT)
	touch $@

$(VENV)/.dev-installed: pyproject.toml requirements/build.txt requirements/dev.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements/build.txt -r requirements/dev.txt
	$(INSTALL_PROJECT)
	touch $(VENV)/.installed $@

# After changing a dependency in pyproject.toml. Existing pins are kept; to move one on:
# `make lock LOCK_ARGS="--upgrade-package NAME"` (or LOCK_ARGS=--upgrade for all).
lock: | $(VENV)/.dev-installed
	$(BIN)/python scripts/deps.py lock $(LOCK_ARGS)

# Fails when pyproject.toml and requirements/ disagree (asks PyPI, as `make lock` does).
lock-check: | $(VENV)/.dev-installed
	$(BIN)/python scripts/deps.py check

# Known vulnerabilities in the locked packages (PyPI's advisories); accepted ones, each with a
# reason and a review date, are in requirements/audit-accepted.toml.
audit: | $(VENV)/.dev-installed
	$(BIN)/python scripts/deps.py audit

i18n-compile:
	$(BIN)/pybabel compile --statistics -d lms/translations 2>&1 | grep -v '^$$' || true

# Re-extract messages after changing strings, then translate lms/translations/*/messages.po.
i18n-extract:
	$(BIN)/pybabel extract --no-location --sort-output -F babel.cfg -k _l -k lazy_gettext -k _lp:1c,2 -k lazy_pgettext:1c,2 -o lms/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i lms/translations/messages.pot -d lms/translations

# From Debian's registry: the libraries WeasyPrint loads, a CJK font for the certificate PDFs
# (WenQuanYi Micro Hei: Latin and all basic Hanzi in one font; Droid Sans Fallback for rare
# Hanzi of CJK Extension A) and, for the tests, poppler-utils (pdffonts, pdftotext, pdftoppm).
# Installed only when missing and apt-get is usable as root; otherwise one warning.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-wqy-microhei fonts-droid-fallback
PDF_TEST_PACKAGES := $(PDF_PACKAGES) poppler-utils

define apt_install_missing
	@missing=""; for pkg in $(1); do \
		dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian packages:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	else echo "Missing Debian packages:$$missing: certificate PDFs need them (install them as root with apt-get)."; fi
endef

pdf-deps:
	$(call apt_install_missing,$(PDF_PACKAGES))

pdf-test-deps:
	$(call apt_install_missing,$(PDF_TEST_PACKAGES))

run: $(VENV)/.installed i18n-compile
	@$(MAKE) --no-print-directory pdf-deps || echo "Could not install the PDF fonts; certificate PDFs will not be rendered."
	@$(MAKE) --no-print-directory assets || echo "Could not build the chart bundle; charts will not be drawn (tables still are)."
	$(BIN)/flask db upgrade
	$(BIN)/flask demo load --if-empty
	@if [ -z "$$LMS_BASE_URL" ] && ! grep -qs '^LMS_BASE_URL=.' .env; then \
	echo "LMS_BASE_URL is not set: certificate QR codes and badge links use the address of the request,"; \
	echo "or http://localhost in background jobs. Set it (environment or .env) to the public address."; fi
	@echo "Serving on http://$(HOST):$(PORT) (Ctrl+C to stop; another port: make run PORT=8000)"
	$(BIN)/flask run --host $(HOST) --port $(PORT)

# The production stack on this machine: PostgreSQL and Redis from LMS_DATABASE_URL and
# LMS_REDIS_URL (refused without them), the migrations, then gunicorn (gunicorn.conf.py), a Celery
# worker and Celery beat; Ctrl+C stops all three (scripts/serve.py). README: "Running in production".
serve: $(VENV)/.installed i18n-compile
	@$(MAKE) --no-print-directory pdf-deps || echo "Could not install the PDF fonts; certificate PDFs will not be rendered."
	@$(MAKE) --no-print-directory assets || echo "Could not build the chart bundle; charts will not be drawn (tables still are)."
	$(BIN)/python scripts/serve.py --bind $(HOST):$(PORT)

# From the npm registry: axe-core for the accessibility scans of the browser tests, ECharts and
# esbuild for the chart bundle.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --silent --no-audit --no-fund && touch $@; \
	else echo "npm not found: charts will not be drawn and browser tests will be skipped (install Node.js and npm)."; fi

e2e-deps: node_modules/.installed

# Chart bundle: assets/charts.js with the parts of ECharts it imports, built by esbuild (`npm run
# build`) into static/build/ (not tracked). Without npm the pages show their tables only.
static/build/charts.js: assets/charts.js node_modules/.installed
	@if [ -f node_modules/.installed ]; then npm run --silent build; fi

assets: static/build/charts.js

test: $(VENV)/.dev-installed i18n-compile
	@$(MAKE) --no-print-directory pdf-test-deps || echo "Could not install the PDF fonts and poppler-utils; the PDF tests will be skipped."
	@$(MAKE) --no-print-directory e2e-deps assets || echo "Could not install the npm packages; charts will not be drawn and browser tests will be skipped."
	rm -rf .test-results
	@echo "== SQLite =="
	env -u LMS_TEST_DATABASE_URL $(BIN)/python -m pytest
	@if [ -n "$$LMS_TEST_DATABASE_URL" ]; then \
		echo "== PostgreSQL =="; \
		$(BIN)/python -m pytest -m "not e2e" || exit 1; \
	else echo "LMS_TEST_DATABASE_URL is not set: PostgreSQL half skipped."; fi

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules static/build .test-results .pytest_cache
