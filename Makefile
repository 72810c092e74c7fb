# BookRec: `make run` serves the demo site, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DEMO_ENV := DEBUG=1
PORT ?= 8000

.PHONY: run test lint venv venv-dev demo-data clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.app-installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.app-installed $@

venv: $(VENV)/.app-installed
venv-dev: $(VENV)/.dev-installed

## Install, migrate, load the demo catalog and ratings, train a model, then serve on SQLite.
demo-data: venv
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py load_demo
	$(DEMO_ENV) $(PY) manage.py retrain

run: demo-data
	@echo ""
	@echo "  BookRec is at http://127.0.0.1:$(PORT)/"
	@echo "  Demo reader: demo@bookrec.example / bookrec-demo"
	@echo "  Staff (admin at /admin/): staff@bookrec.example / bookrec-staff"
	@echo ""
	$(DEMO_ENV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

## Install the test tools and run every test (SQLite, or DATABASE_URL when set).
## Serial by default: on the shared 2-core machine `-n 2` measured slower (each xdist worker builds its own
## seeded databases and trained models; bench/RESULTS.md "make test: serial or -n 2"). The suite passes
## under it, so `make test PYTEST_ARGS="-n 2"` works where cores are free.
PYTEST_ARGS ?=
test: venv-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-wal db.sqlite3-shm
