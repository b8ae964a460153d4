"""system_upgrade on a real Debian 12 root, from a local archive: the installed package is upgraded."""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import subprocess

import pytest

from cloudinit_maaslike.curthooks import builtin_curthooks
from tests.integration.test_curthooks import debian_root, state_for, target  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, mounts)"),
]


def build_deb(where, version):
    root = where / f"probe-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        f"Package: maaslike-probe\nVersion: {version}\nArchitecture: all\nMaintainer: test <t@example.invalid>\n"
        "Description: a package the upgrade test upgrades\n")
    (root / "usr/share/maaslike-probe").mkdir(parents=True)
    (root / "usr/share/maaslike-probe/version").write_text(version + "\n")
    deb = where / f"maaslike-probe_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], check=True, capture_output=True)
    return deb


def local_archive(directory, deb):
    """A flat archive apt reads offline: Packages and a Release naming it."""
    directory.mkdir(parents=True)
    data = deb.read_bytes()
    (directory / deb.name).write_bytes(data)
    control = subprocess.run(["dpkg-deb", "-f", str(deb)], check=True, capture_output=True, text=True).stdout
    packages = (control.rstrip("\n") + f"\nFilename: ./{deb.name}\nSize: {len(data)}\n"
                f"SHA256: {hashlib.sha256(data).hexdigest()}\n\n")
    (directory / "Packages").write_text(packages)
    digest = hashlib.sha256(packages.encode()).hexdigest()
    (directory / "Release").write_text(
        f"Origin: maaslike-test\nLabel: maaslike-test\nDate: {email.utils.formatdate(usegmt=True)}\n"
        f"SHA256:\n {digest} {len(packages.encode())} Packages\n")


def test_system_upgrade_upgrades_the_installed_packages(target, tmp_path):  # noqa: F811 (fixture)
    old, new = build_deb(tmp_path, "1.0"), build_deb(tmp_path, "1.1")
    (target / "tmp" / old.name).write_bytes(old.read_bytes())
    subprocess.run(["chroot", str(target), "dpkg", "-i", f"/tmp/{old.name}"], check=True, capture_output=True)
    local_archive(target / "srv/archive", new)
    (target / "etc/apt/sources.list").write_text("deb [trusted=yes] file:/srv/archive ./\n")
    for name in os.listdir(target / "etc/apt/sources.list.d"):
        os.unlink(target / "etc/apt/sources.list.d" / name)
    cfg = {"kernel": {"install": False}, "grub": {"install_devices": []}, "swap": {"size": 0},
           "system_upgrade": {"enabled": True}}
    results = builtin_curthooks(cfg, str(target), state_for(tmp_path), log=logging.getLogger("test"))
    assert results["upgrading-system"] == ["apt-get dist-upgrade", "apt-get autoremove"]
    assert (target / "usr/share/maaslike-probe/version").read_text() == "1.1\n"
    assert not any(name.endswith(".deb") for name in os.listdir(target / "var/cache/apt/archives"))  # cleaned
