"""debian/ stays in step with the Python package it ships (no programs run)."""

from __future__ import annotations

import os
import re

from cloudinit_maaslike import __version__
from tests.harness.debbuild import changelog_version, upstream_part

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(*parts: str) -> str:
    with open(os.path.join(REPO, *parts), encoding="utf-8") as handle:
        return handle.read()


def control_stanzas() -> list:
    stanzas = []
    for block in read("debian", "control").strip().split("\n\n"):
        fields: dict = {}
        key = None
        for line in block.splitlines():
            if line[:1].isspace() and key:
                fields[key] += " " + line.strip()
            else:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        stanzas.append(fields)
    return stanzas


def test_changelog_version_is_the_package_version():
    assert upstream_part(changelog_version(REPO)) == __version__


def test_upstream_part_drops_epoch_and_revision():
    assert upstream_part("1:0.2.0-3") == "0.2.0"
    assert upstream_part("0.2.0") == "0.2.0"


def test_binary_package_is_arch_all_and_depends_on_the_runtime_only():
    source, binary = control_stanzas()
    assert source["Source"] == "cloudinit-maaslike"
    assert binary["Package"] == "python3-cloudinit-maaslike"
    assert binary["Architecture"] == "all"
    depends = {d.strip().split()[0] for d in binary["Depends"].split(",")}
    assert {"cloud-init", "python3-requests", "python3-oauthlib", "python3-yaml",
            "${python3:Depends}"} <= depends
    # The stand-in server's extra is not needed on a node.
    assert not depends & {"python3-aiohttp", "python3-tempita"}


def test_build_uses_pybuild_and_installs_the_cloud_cfg_snippets():
    assert re.search(r"dh \$@ .*--buildsystem=pybuild", read("debian", "rules"))
    assert os.access(os.path.join(REPO, "debian", "rules"), os.X_OK)
    install = read("debian", "python3-cloudinit-maaslike.install").split()
    assert install == ["config/cloud.cfg.d/*.cfg", "etc/cloud/cloud.cfg.d/"]
    assert read("debian", "source", "format").strip() == "3.0 (native)"


def test_every_shim_is_a_top_level_module_of_the_wheel():
    """The .deb installs what setup.cfg's py_modules name: every shim must be listed."""
    shims = {name[:-3] for name in os.listdir(os.path.join(REPO, "shims")) if name.endswith(".py")}
    setup = read("setup.cfg")
    listed = set(re.search(r"py_modules =\n((?:    \S+\n)+)", setup).group(1).split())
    assert shims == listed
