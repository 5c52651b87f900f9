# signbridge — two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs (pip packages, Debian packages) by itself.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The sandbox prints signed PDFs with weasyprint (pango) in Chinese (Noto CJK);
# browser tests and document previews drive Debian's chromium.
DEMO_DEBS := libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk
TEST_DEBS := $(DEMO_DEBS) chromium
PYTEST_ARGS ?=

STAGE ?= dev

.PHONY: demo run test reliability lint docs-preview bench package clean system-demo system-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

system-demo:
	@./devstack/ensure-debian-packages.sh $(DEMO_DEBS)

system-test:
	@./devstack/ensure-debian-packages.sh $(TEST_DEBS)

## One sales contract through its whole life on the embedded stack; prints its timeline.
demo: system-demo $(STAMP)
	$(BIN)/python -m devstack demo

## The whole local stack, up until Ctrl-C (API, DocuSign sandbox, embedded AWS, CRM receiver).
run: system-demo $(STAMP)
	$(BIN)/python -m devstack run

## Lint (ruff, mypy), then every test tier: unit, integration, browser, sandbox and reliability on two workers,
## beside the end-to-end tier (whole local stacks as processes, one at a time, the 1,000-contract
## load among them); see tests/tiers.sh.
test: system-test $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	./tests/tiers.sh $(PYTEST_ARGS)

## The fault matrix, the fuzzing and the 1,000-contract load on the local stack, written to RELIABILITY.md.
reliability: system-test $(STAMP)
	$(BIN)/python -m reliability --write

## ruff, then mypy (pyproject.toml: strict on the pure domain).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## The 8 contract documents rendered and screenshotted in headless Chromium.
docs-preview: system-test $(STAMP)
	$(BIN)/python -m devstack.docs_preview --out docs/previews

## Benchmarks (ratios in one run), written to BENCHMARKS.md.
bench: $(STAMP)
	$(BIN)/python -m bench

## The deployable package for STAGE (dev|prod): chalice package + infra/ merged + precompiled bytecode.
package: $(STAMP)
	$(BIN)/python -m infra.package --stage $(STAGE) --out build/$(STAGE)

clean:
	rm -rf $(VENV) .devstack .pytest_cache docs/previews build
