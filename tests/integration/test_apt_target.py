"""The apt section on a real Debian 12 root: sources.list rewritten, debconf applied, cloud-init reconfigured."""

from __future__ import annotations

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

CFG = {
    "kernel": {"install": False},
    "grub": {"install_devices": []},
    "apt": {"preserve_sources_list": False, "primary": [{"arches": ["default"], "uri": "http://mirror.example/debian"}],
            "sources_list": "deb $MIRROR $RELEASE main contrib\ndeb $MIRROR $RELEASE-updates main\n",
            "disable_suites": ["updates"], "disable_components": ["contrib"], "sources": {}},
    "debconf_selections": {"maas": "cloud-init cloud-init/datasources multiselect MAAS"},
}


def test_apt_on_a_debian_root(target, tmp_path):  # noqa: F811 (fixture)
    (target / "etc/cloud/cloud.cfg.d").mkdir(parents=True, exist_ok=True)
    (target / "etc/cloud/cloud.cfg.d/90_dpkg.cfg").write_text("datasource_list: [ NoCloud, None ]\n")
    results = builtin_curthooks(CFG, str(target), state_for(tmp_path), log=logging.getLogger("test"))
    assert (target / "etc/apt/sources.list").read_text() == (
        "# deb http://mirror.example/debian bookworm main contrib\n"
        "deb http://mirror.example/debian bookworm main\n"
        "# deb http://mirror.example/debian bookworm-updates main\n")
    assert "apt-get update" in results["configuring-apt"]
    show = subprocess.run(["chroot", str(target), "debconf-show", "cloud-init"], capture_output=True, text=True)
    assert "datasources: MAAS" in show.stdout
    assert (target / "usr/bin/cloud-init").exists(), "the target image is expected to carry cloud-init"
    assert (target / "etc/cloud/cloud.cfg.d/curtin-preserve-sources.cfg").exists()
    assert "dpkg-reconfigure cloud-init" in results["configuring-apt"]
    # Debian's cloud-init postinst applies preseeded values only on a first install, not on
    # dpkg-reconfigure, and never writes 90_dpkg.cfg: curtin's clean-up leaves it removed.
    assert not (target / "etc/cloud/cloud.cfg.d/90_dpkg.cfg").exists()
