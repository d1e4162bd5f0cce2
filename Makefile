# audit-sdk developer entry points. Every target sets up what it needs by itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# pyproject.toml, setup.py and the C scanner: a change to any of them reinstalls (and recompiles)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml setup.py src/audit_sdk/_cscan.c | sha1sum | cut -c1-12)

.PHONY: demo test lint collector node-tools browser bench clean

$(STAMP): pyproject.toml setup.py src/audit_sdk/_cscan.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## Run the demo on the embedded default sink (no collector, no network).
demo: $(STAMP)
	$(PY) examples/demo_app.py --out demo-out

## Build the otelcol-audit collector distribution from Go modules (the script's stamp caches it).
collector:
	bash scripts/build-collector.sh

## Install the pinned Spectral CLI (npm ci in validators/; idempotent).
node-tools:
	bash scripts/install-node-tools.sh

## Install Debian's headless Chromium for the report's browser test (idempotent).
browser:
	bash scripts/install-browser.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples benchmarks scripts
	$(VENV)/bin/mypy
	bash scripts/validate_audit_config.sh

## The whole test suite: lint, types, unit, integration and collector end-to-end tests.
test: $(STAMP) collector node-tools browser
	$(MAKE) lint
	AUDIT_SDK_REQUIRE_COLLECTOR=1 AUDIT_SDK_REQUIRE_NODE_TOOLS=1 AUDIT_SDK_REQUIRE_BROWSER=1 \
		AUDIT_SDK_REQUIRE_CSCAN=1 $(PY) -m pytest -q

## Benchmarks: each prints its figures beside its baseline from the same run.
bench: $(STAMP) collector
	$(PY) benchmarks/bench_emit.py
	$(PY) benchmarks/bench_delivery.py
	$(PY) benchmarks/bench_verify.py --records 200000
	$(PY) benchmarks/bench_collector.py

clean:
	rm -rf $(VENV) demo-out collector/dist collector/build validators/node_modules build src/audit_sdk/*.so
