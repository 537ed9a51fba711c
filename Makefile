# The project's commands. `make run` and `make test` are all a newcomer needs (see README.md).
#
# Dependencies are locked with hashes in uv.lock (every extra, every platform): `make install` installs
# exactly the lock into .venv with uv, the project editable; the Lambda layer is built from the same lock
# (infra/bundling.py). `make update-deps` refreshes the lock: each transitive dependency moves to its newest
# release the pins in pyproject.toml allow. To add or move a direct dependency, edit its pin in
# pyproject.toml, then `make lock` (re-resolves only what that change needs); commit both files.
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml uv.lock 2>/dev/null | sha1sum | cut -c1-12)
PYTEST_WORKERS ?= 2

export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# uv goes where pip goes on this machine: the index and CA certificates pip is configured with (PIP_* or
# pip.conf, read once and only by the targets that download) and the system's certificate store, so a
# mirror or a TLS-inspecting proxy set up for pip works for uv too. pip's extra indexes are not passed on:
# the lock names only the public index. uv never downloads a Python: .venv's own is used.
UV_ENV = $(eval UV_ENV := $(shell python3 -m pip config list 2>/dev/null | sed -n \
	-e "s/^[^.]*\.index-url=\('.*'\)$$/UV_DEFAULT_INDEX=\1/p" -e "s/^[^.]*\.cert=\('.*'\)$$/SSL_CERT_FILE=\1/p" \
	| awk -F= '!seen[$$1]++') UV_SYSTEM_CERTS=1 UV_PYTHON_DOWNLOADS=never)$(UV_ENV)
UV_RUN = env $(UV_ENV) UV_PROJECT_ENVIRONMENT=$(VENV) $(UV)

# uv itself is the one package pip installs: its version and hashes are read from uv.lock (python3 ≥ 3.11
# has tomllib), so even the bootstrap installs nothing the lock does not name.
UV_REQUIREMENT = python3 -c 'import tomllib; uv = next(p for p in tomllib.load(open("uv.lock", "rb"))["package"] \
	if p["name"] == "uv"); print("uv==" + uv["version"], *("--hash=" + w["hash"] for w in uv["wheels"]))'

.PHONY: install run test lint unit synth bench lock update-deps clean

# Also Debian's chromium (and the fonts it draws text with) for the portal page's browser tests: Playwright
# drives it and downloads no browser. Installed with apt-get only when /usr/bin/chromium is missing and only as
# root or with password-less sudo; otherwise, or if apt-get fails, one line says what to install.
install: $(STAMP)
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=no; fi; \
	  if [ "$$sudo" = no ] || ! command -v apt-get >/dev/null 2>&1; then \
	    echo "==> no /usr/bin/chromium: the browser tests need it (apt-get install chromium fonts-liberation)"; \
	  else \
	    echo "==> installing Debian's chromium and fonts-liberation for the browser tests (apt-get)"; \
	    { $$sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq update && \
	      $$sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends \
	        chromium fonts-liberation; } >/dev/null || \
	    echo "==> apt-get could not install chromium: the browser tests need it (chromium fonts-liberation)"; \
	  fi; \
	fi

# Re-installs whenever pyproject.toml or uv.lock changes; `--locked` refuses a lock that no longer matches
# pyproject.toml (run `make lock`) instead of installing something else.
$(STAMP): pyproject.toml uv.lock | $(UV)
	@echo "==> installing the locked dependencies into $(VENV) (uv.lock; the first run downloads about 200 MB)"
	$(UV_RUN) sync --locked --all-extras
	@rm -f $(VENV)/.installed-* && touch $@

# Only when .venv has no uv yet: later uv versions arrive through the lock like every other package. The
# venv gets no pip of its own when python3's pip can install into it (`--python`: 6 s less on a new clone).
$(UV):
	@echo "==> creating $(VENV) and installing uv into it (pinned and hash-checked by uv.lock)"
	test -x $(PY) || python3 -m venv --without-pip $(VENV)
	$(UV_REQUIREMENT) > $(VENV)/uv-requirements.txt
	if python3 -m pip --python $(PY) --version >/dev/null 2>&1; then pip="python3 -m pip --python $(PY)"; \
	else $(PY) -m ensurepip --default-pip >/dev/null && pip="$(PY) -m pip"; fi; \
	$$pip install --quiet --require-hashes --only-binary=:all: -r $(VENV)/uv-requirements.txt

run: install
	@echo "==> starting arcollect local --demo (Ctrl-C stops it)"
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
	env $(UV_ENV) CDK_OUTDIR=cdk.out $(PY) -m infra.app
	$(VENV)/bin/cfn-lint cdk.out/*.template.json

bench: install
	$(PY) -m benchmarks

lock: | $(UV)
	$(UV_RUN) lock

update-deps: | $(UV)
	$(UV_RUN) lock --upgrade

clean:
	rm -rf cdk.out .build .bench .pytest_cache .mypy_cache .ruff_cache
