# The two commands README promises, and what they need.
#   make demo   set up, then run the local demo (serve, preseed, crawl)
#   make test   set up, then run every test suite (CI runs this)

SHELL := /bin/bash
PYTHON := $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || command -v python3)
VENV := .venv
BUILD := build
PY := $(VENV)/bin/python

# Debian packages: what an ephemeral image has (runtime), plus what the
# tests need (cloud-init's own dependencies, namespaces, loop devices).
RUNTIME_DEBS := python3-venv python3-requests python3-oauthlib python3-yaml
TEST_DEBS := $(RUNTIME_DEBS) python3-jinja2 python3-jsonschema python3-jsonpatch \
	python3-configobj python3-netifaces python3-serial util-linux dpkg apt ca-certificates

.PHONY: demo test unit integration cloudinit-tests lint bench venv host-debs host-test-debs cloudinit clean

demo: venv
	$(VENV)/bin/maaslike demo

test: host-test-debs venv cloudinit
	$(PY) -m pytest -ra tests

unit: venv
	$(PY) -m pytest -ra tests/unit

lint: venv
	$(PY) -m pytest -ra tests/unit/test_linters.py

bench: host-test-debs venv cloudinit
	$(PY) bench/crawl.py

host-debs:
	@$(SHELL) .ci/host-debs $(RUNTIME_DEBS)

host-test-debs:
	@$(SHELL) .ci/host-debs $(TEST_DEBS)

venv: host-debs $(VENV)/.stamp

$(VENV)/.stamp: setup.cfg pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv --system-site-packages $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# cloud-init 22.4.2 (Debian 12) and 25.1.4 (Debian 13), unpacked, not installed.
cloudinit: venv
	$(PY) tests/harness/cloudinit_debs.py --dest $(BUILD)/cloudinit

clean:
	rm -rf $(VENV) $(BUILD) .pytest_cache .mypy_cache .ruff_cache .hypothesis
