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
	python3-configobj python3-netifaces python3-serial util-linux dpkg apt ca-certificates \
	busybox-static fdisk xfsprogs btrfs-progs dosfstools mdadm lvm2 pigz rsync zstd xz-utils \
	squashfs-tools acl e2fsprogs netplan.io
# Building the .deb and the test images, and booting them (make deb, make images, e2e tests).
IMAGE_DEBS := dpkg-dev debhelper dh-python pybuild-plugin-pyproject python3-all python3-setuptools \
	python3-wheel fakeroot debootstrap debian-archive-keyring squashfs-tools zstd pigz \
	qemu-system-x86 ovmf
TEST_DEBS += $(IMAGE_DEBS)

.PHONY: demo test unit integration cloudinit-tests lint bench venv host-debs host-test-debs cloudinit clean \
	deb images test-images host-image-debs

# `make demo VM=1`: the whole path in QEMU (root; builds or reuses the images).
demo: venv
ifeq ($(VM),1)
	$(MAKE) e2e
else
	$(VENV)/bin/maaslike demo
endif

# The whole path in QEMU; the timeline lands in build/e2e/timeline.json.
.PHONY: e2e
e2e: host-test-debs venv
	$(PY) -m tests.harness.e2e

test: host-test-debs venv cloudinit test-images
	$(PY) -m pytest -ra tests

unit: venv
	$(PY) -m pytest -ra tests/unit

lint: venv
	$(PY) -m pytest -ra tests/unit/test_linters.py

bench: host-test-debs venv cloudinit
	$(PY) bench/crawl.py
	$(PY) bench/payload.py
	$(PY) bench/engine.py
	$(PY) bench/extract.py
	$(PY) bench/curthooks.py

# `maaslike serve` under 500 booting nodes, and streaming an image beside nginx.
.PHONY: bench-serve
bench-serve: venv
	@$(SHELL) .ci/host-debs nginx-light curl
	$(PY) bench/serve_load.py
	$(PY) bench/serve_images.py

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

# The Debian package, python3-cloudinit-maaslike_<version>_all.deb, in build/deb.
deb: host-image-debs venv
	$(PY) -m tests.harness.debbuild --dest $(BUILD)/deb

# Debian 12 images (root; cached by content in build/images): minbase and
# target root tarballs, the ephemeral kernel, initrd and squashfs.
images: host-image-debs venv
	$(PY) -m tests.harness.images build minbase target ephemeral

# Before the tests, so their progress shows; without root, the tests skip.
test-images: venv
	$(PY) -m tests.harness.images build --if-root

host-image-debs:
	@$(SHELL) .ci/host-debs $(IMAGE_DEBS)

# cloud-init 22.4.2 (Debian 12) and 25.1.4 (Debian 13), unpacked, not installed.
cloudinit: venv
	$(PY) tests/harness/cloudinit_debs.py --dest $(BUILD)/cloudinit

clean:
	rm -rf $(VENV) $(BUILD) .pytest_cache .mypy_cache .ruff_cache .hypothesis
