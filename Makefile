# Sutong — `make run` to try it, `make test` to check it. `make help` lists the rest.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help install run test chaos lint format typecheck migrations messages lock clean

help: ## Show this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: $(STAMP) ## Set up .venv with the pinned dependencies (quick when nothing changed)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,s3]"
	@touch $@

run: install ## Migrate, load demo data, serve http://127.0.0.1:8000 with worker and beat
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py seed_demo
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py rebuild_rollups
	@echo "Sutong: http://127.0.0.1:8000 — back-office /admin/ (admin / sutong-demo); Ctrl-C stops."
	DEBUG=$${DEBUG:-1} exec $(BIN)/python manage.py runall

test: install ## Lint, check migrations and types, run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/mypy .
	$(BIN)/pytest

chaos: install ## Fault injection on PostgreSQL + Redis: processes killed, services cut off, 10-min load (~25 min)
	SUTONG_CHAOS=1 $(BIN)/pytest tests/chaos -m chaos

bench: install ## Benchmarks at scale (PostgreSQL, Redis, wrk; ~40 min): intake under load beside django-helpdesk, 1M-complaint reads, SLA sweep, reports, classifier
	$(BIN)/python -m bench

lint: install ## ruff lint and format check
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

typecheck: install ## mypy with django-stubs
	$(BIN)/mypy .

migrations: install ## Make migrations after a model change
	$(BIN)/python manage.py makemigrations

messages: install ## Refresh the zh-hans and en catalogs from the source, then compile them
	$(BIN)/python manage.py makemessages --locale zh_Hans --locale en --no-obsolete --add-location file \
		--ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --ignore 'bench/*'
	$(BIN)/python manage.py fill_english_catalog
	@echo "Now translate the new and fuzzy entries of locale/zh_Hans/LC_MESSAGES/django.po."
	$(BIN)/python manage.py compilemessages --ignore '.venv/*'

lock: ## Re-pin constraints.txt from a fresh resolve of pyproject.toml
	rm -rf $(VENV).lock && $(PYTHON) -m venv $(VENV).lock
	$(VENV).lock/bin/python -m pip install --quiet --upgrade pip
	$(VENV).lock/bin/python -m pip install --quiet -e ".[dev,s3]"
	{ sed -n '1,2p' constraints.txt; $(VENV).lock/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf $(VENV).lock

clean: ## Remove .venv and var/ (the embedded database, broker, uploads)
	rm -rf $(VENV) var
