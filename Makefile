# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app.py

.PHONY: run test lint format i18n-extract i18n-compile e2e-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

i18n-compile:
	$(BIN)/pybabel compile --statistics -d lms/translations 2>&1 | grep -v '^$$' || true

# Re-extract messages after changing strings, then translate lms/translations/*/messages.po.
i18n-extract:
	$(BIN)/pybabel extract --no-location --sort-output -F babel.cfg -k _l -k lazy_gettext -k _lp:1c,2 -k lazy_pgettext:1c,2 -o lms/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i lms/translations/messages.pot -d lms/translations

run: $(VENV)/.installed i18n-compile
	$(BIN)/flask db upgrade
	$(BIN)/flask demo load --if-empty
	@echo "Serving on http://127.0.0.1:5000 (Ctrl+C to stop)"
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# axe-core for the accessibility scans of the browser tests, from the npm registry.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --silent --no-audit --no-fund && touch $@; \
	else echo "npm not found: browser tests will be skipped (install Node.js and npm)."; fi

e2e-deps: node_modules/.installed

test: $(VENV)/.dev-installed i18n-compile
	@$(MAKE) --no-print-directory e2e-deps || echo "Could not install axe-core; browser tests will be skipped."
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

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules .test-results .pytest_cache
