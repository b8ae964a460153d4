"""The Debian package builds with dpkg-buildpackage and installs into a fresh Debian 12 root.

The root is the cached minbase image, unpacked anew for the test: it has no
cloud-init, so ``dpkg -i`` leaves the package unconfigured and
``apt-get -f install`` must fetch cloud-init and the Python dependencies
from Debian, as an operator adding the package to an image would.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from cloudinit_maaslike import __version__
from tests.harness import debbuild, images, rootfs
from tests.harness.steps import clean_env

pytestmark = [pytest.mark.images]

SHIMS = ["DataSourceMAASLike", "cc_maaslike_payload", "cc_maaslike_early", "cc_maaslike_partitioning",
         "cc_maaslike_network", "cc_maaslike_extract", "cc_maaslike_curthooks", "cc_maaslike_hook",
         "cc_maaslike_late"]


def build_tools_missing() -> list:
    return [tool for tool in ("dpkg-buildpackage", "dh", "dh_python3", "fakeroot")
            if shutil.which(tool) is None]


@pytest.fixture(scope="module")
def deb() -> str:
    missing = build_tools_missing()
    if missing:
        pytest.skip(f"Debian build tools missing: {', '.join(missing)} (make host-test-debs)")
    return images.default_deb()


def deb_field(deb: str, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", deb, name], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_deb_is_arch_all_with_the_package_version(deb):
    assert os.path.basename(deb) == f"python3-cloudinit-maaslike_{__version__}_all.deb"
    assert deb_field(deb, "Version") == __version__
    assert deb_field(deb, "Architecture") == "all"
    depends = deb_field(deb, "Depends")
    for needed in ("cloud-init", "python3-oauthlib", "python3-requests", "python3-yaml", "python3:any"):
        assert needed in depends


def test_deb_holds_the_shims_the_package_and_the_snippets(deb):
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True,
                             check=True).stdout
    paths = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    site = "/usr/lib/python3/dist-packages"
    for shim in SHIMS:
        assert f"{site}/{shim}.py" in paths
    assert f"{site}/cloudinit_maaslike/__init__.py" in paths
    assert f"{site}/cloudinit_maaslike/datasource.py" in paths
    for snippet in os.listdir(os.path.join(debbuild.REPO, "config", "cloud.cfg.d")):
        assert f"/etc/cloud/cloud.cfg.d/{snippet}" in paths
    assert "/usr/bin/maaslike" in paths
    assert not any("/tests/" in p or p.endswith(".pyc") for p in paths)


def test_deb_build_is_reproducible(deb, tmp_path):
    """Image caches key on the .deb's hash: the same sources must give the same bytes."""
    again = debbuild.build_deb(str(tmp_path / "deb"))
    assert debbuild.sha256_file(again) == debbuild.sha256_file(deb)


@pytest.mark.root
def test_deb_installs_into_a_fresh_minbase_root(deb, tmp_path):
    why = images.can_build()
    if why:
        pytest.skip(why)
    minbase = images.ensure("minbase")
    root = str(tmp_path / "root")
    with open(tmp_path / "install.log", "w") as log:
        rootfs.unpack(minbase.file("root.tar.zst"), root, "test-deb", log)
        rootfs.hold_services(root)
        images.install_deb(root, deb, "test-deb", log)
    run = subprocess.run(["chroot", root, "dpkg-query", "-W", "-f", "${Status} ${Version}",
                          "python3-cloudinit-maaslike", "cloud-init"],
                         capture_output=True, text=True, env=clean_env())
    assert run.stdout.count("install ok installed") == 2, run.stdout + run.stderr
    rootfs.audit(root, "test-deb")
    snippets = sorted(os.listdir(os.path.join(root, "etc/cloud/cloud.cfg.d")))
    assert {"90_maaslike.cfg", "90_maaslike_install.cfg"} <= set(snippets)
    imported = subprocess.run(
        ["chroot", root, "python3", "-c",
         "import DataSourceMAASLike, cc_maaslike_payload, cloudinit_maaslike; "
         "print(DataSourceMAASLike.__file__, cloudinit_maaslike.__version__)"],
        capture_output=True, text=True, env=clean_env())
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.split() == ["/usr/lib/python3/dist-packages/DataSourceMAASLike.py", __version__]
    version = subprocess.run(["chroot", root, "maaslike", "--version"], capture_output=True, text=True,
                             env=clean_env())
    assert version.stdout.strip() == f"maaslike {__version__}", version.stderr
