# Every target sets itself up: a fresh machine needs nothing but python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.goemu-installed

.PHONY: demo emu-test test bench lint clean setup fuzz wheel wheel-check

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

# Property-based fuzzing with a larger budget than the one emu-test runs (tests/fuzz/).
fuzz: $(STAMP)
	GOEMU_FUZZ_EXAMPLES=$${GOEMU_FUZZ_EXAMPLES:-3000} $(BIN)/python -m pytest -q -n 2 tests/fuzz -p no:cacheprovider

# The wheel (runtime sources, stubs and demos as package data), and a clean install of it from PyPI.
wheel: $(STAMP)
	$(BIN)/python -m pip wheel . --no-deps -q -w dist

wheel-check: wheel
	rm -rf .wheel-venv && $(PYTHON) -m venv .wheel-venv
	.wheel-venv/bin/python -m pip install -q dist/goemu-*.whl
	cd "$$(mktemp -d)" && $(CURDIR)/.wheel-venv/bin/goemu run --arch amd64

lint: $(STAMP)
	$(BIN)/ruff check emu loader tests

clean:
	rm -rf $(VENV) .cache .pytest_cache dist build .wheel-venv
