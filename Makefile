# Espace Partenaires — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links
export FLASK_APP := wsgi.py

.PHONY: run test lint typecheck install migrate demo send-mail clean lock upgrade-lock outdated

# Everything comes from the hashed lock: exact versions, transitive included, nothing floats.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-dev.txt
	$(BIN)/python -m pip check
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask demo --if-empty

## make run: install, migrate, load the demo if the database is empty, serve on 127.0.0.1:$${PORT:-5000}
run: demo
	@bash scripts/run.sh

## make test: the whole suite on SQLite, then on PostgreSQL
test: install
	@bash scripts/test.sh

## make lint: ruff's lint rules, then whether `ruff format` would change a file (pyproject.toml)
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make typecheck: mypy on the models and the services (the files listed in pyproject.toml)
typecheck: install
	$(BIN)/mypy

send-mail: install
	$(BIN)/flask send-mail

## make lock: recompile the locks after editing requirements*.in (keeps every other version)
lock: install
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --allow-unsafe --output-file requirements-dev.txt requirements-dev.in

## make upgrade-lock: move every dependency to its newest release allowed by requirements*.in
upgrade-lock: install
	$(PIP_COMPILE) --upgrade --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --allow-unsafe --upgrade --output-file requirements-dev.txt requirements-dev.in

## make outdated: a report of locked versions with a newer release (never fails the build)
outdated: install
	-$(BIN)/python scripts/outdated.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache
