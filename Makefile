# The project's commands. `make run` and `make test` are all a newcomer needs (see README.md).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_WORKERS ?= 2

export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test lint unit synth bench clean

install: $(STAMP)

# Re-installs whenever pyproject.toml (the pinned dependencies) changes.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -e '.[cli,infra,dev]'
	rm -f $(VENV)/.installed-* && touch $@

run: install
	$(VENV)/bin/arcollect local --demo

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile

# Fast feedback: pure logic only.
unit: install
	$(PY) -m pytest tests/unit -q

synth: install
	CDK_OUTDIR=cdk.out $(PY) -m infra.app
	$(VENV)/bin/cfn-lint cdk.out/*.template.json

bench: install
	$(PY) -m benchmarks

clean:
	rm -rf cdk.out .build .bench .pytest_cache .mypy_cache .ruff_cache
