# Espace Partenaires — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
export FLASK_APP := wsgi.py

.PHONY: run test install migrate demo send-mail clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
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

send-mail: install
	$(BIN)/flask send-mail

clean:
	rm -rf $(VENV) instance .pytest_cache
