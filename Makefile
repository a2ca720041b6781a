# Two commands: `make serve` (set up, migrate, run embedded) and `make test` (set up, run all).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: serve test install lint typecheck unit integration bench demo clean browser-deps screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

serve: install
	$(BIN)/herald db upgrade
	$(BIN)/herald serve

demo: install
	$(BIN)/herald demo

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit

# The UI tests drive Debian's Chromium (never a browser downloaded by `playwright install`);
# the Chinese screenshots need a CJK font. Each is installed only when missing.
browser-deps:
	@missing=; test -x /usr/bin/chromium || missing="chromium"; \
	dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; fi

# The test run also regenerates docs/screenshots/ (the UI page walk writes them).
test: install lint typecheck browser-deps
	HERALD_UI_SCREENSHOTS=docs/screenshots $(BIN)/pytest

# Only the UI page walk (every page, phone and desktop, zh and en), with its screenshots.
screenshots: install browser-deps
	HERALD_UI_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/e2e/test_ui_pages.py -k fits

# The full benchmark (< 15 minutes): appends its report to docs/benchmarks.md, raw JSON in
# docs/bench/. `make bench ARGS=--quick` is the smoke check the test suite also runs.
bench: install
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache herald.db herald.db-* herald.key herald-demo.db herald-demo.db-*
