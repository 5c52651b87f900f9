# signbridge — two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs (pip packages, Debian packages) by itself.

# .venv's Python is also the Lambda runtime: Chalice packages for the Python it runs on, and the
# bytecode added to the package is that Python's. The newest that Chalice and every pinned requirement
# support: 3.13, else 3.12 (SnapStart needs 3.12+). One installed by pyenv counts even when it is not
# the selected version. Without either, python3 with a warning (infra/package.py refuses a Python
# older than 3.12). `make clean` first when switching: .venv keeps the Python it was made with.
ifeq ($(origin PYTHON),undefined)
PYENV_ROOT_DIR := $(shell pyenv root 2>/dev/null)
PYTHON := $(firstword $(foreach v,3.13 3.12,$(shell python$(v) -c '' >/dev/null 2>&1 && command -v python$(v)) \
                                          $(wildcard $(PYENV_ROOT_DIR)/versions/$(v).*/bin/python$(v))))
ifeq ($(PYTHON),)
$(warning neither python3.13 nor python3.12 found: .venv gets python3, and `make package` needs 3.12+)
PYTHON := python3
endif
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The sandbox prints signed PDFs with weasyprint (pango) in Chinese (Noto CJK);
# browser tests and document previews drive Debian's chromium.
DEMO_DEBS := libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk
TEST_DEBS := $(DEMO_DEBS) chromium
PYTEST_ARGS ?=

STAGE ?= dev
# A JSON file of the stage's settings, over .chalice/config.json's (docs/runbook.md#packaging).
SETTINGS ?=

.PHONY: demo run admin test reliability lint mutation mutation-sample docs-preview bench package clean system-demo system-test

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

## The admin CLI against the running local stack: make admin ARGS="tenants list".
ARGS ?= --help
admin: $(STAMP)
	$(BIN)/python -m devstack admin $(ARGS)

## Lint (ruff, mypy), then every test tier: unit, integration, browser, sandbox and reliability on two workers,
## beside the end-to-end tier (whole local stacks as processes, one at a time, the 1,000-contract load among
## them) followed by the mutation sample (docs/testing.md); see tests/tiers.sh.
test: system-test $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	./tests/tiers.sh $(PYTEST_ARGS)

## Mutation testing of the pure domain and the intake's signatures against the unit tests (mutmut, plus the
## module-level mutants it does not make): each module's score, failing under its floor (docs/testing.md).
mutation: $(STAMP)
	rm -rf mutants
	nice -n 10 $(BIN)/mutmut run --max-children 2
	nice -n 10 $(BIN)/python -m tests.mutation.score full --report mutants/report.md

## The fixed mutation sample `make test` runs (about a minute), failing under a floor.
mutation-sample: $(STAMP)
	$(BIN)/python -m tests.mutation.score sample

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

## Every benchmark (ratios in one run; a few minutes on 2 cores), written to BENCHMARKS.md with the machine
## and the date; the time each bench took is printed and recorded.
bench: $(STAMP)
	$(BIN)/python -m bench

## The deployable package for STAGE (dev|prod), refused while a required setting is missing or a
## placeholder: chalice package + infra/ merged and finished + precompiled bytecode (docs/runbook.md).
package: $(STAMP)
	$(BIN)/python -m infra.package --stage $(STAGE) --out build/$(STAGE) $(if $(SETTINGS),--settings $(SETTINGS))

clean:
	rm -rf $(VENV) .devstack .pytest_cache docs/previews build mutants
