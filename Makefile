# Every target sets itself up: a fresh machine needs nothing but python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.goemu-installed

.PHONY: demo emu-test test bench lint clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

demo: $(STAMP)
	$(BIN)/goemu run

emu-test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 tests

test: emu-test

bench: $(STAMP)
	$(BIN)/python -m emu.bench

lint: $(STAMP)
	$(BIN)/ruff check emu loader tests

clean:
	rm -rf $(VENV) .cache .pytest_cache
