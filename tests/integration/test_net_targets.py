"""What we write, read by the real consumers: `netplan generate`, and cloud-init 22.4.2 and 25.1.4."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
import yaml

from cloudinit_maaslike.net import apply_network
from cloudinit_maaslike.net.cloudcfg import network_document
from cloudinit_maaslike.net.netplan import render_netplan
from cloudinit_maaslike.net.schema import parse_network
from cloudinit_maaslike.net.targetinfo import probe_target
from cloudinit_maaslike.net.udev import render_udev_rules

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "net")
CLOUDINIT = os.path.join(REPO, "build", "cloudinit")
NETPLAN = "/usr/sbin/netplan"
LOG = logging.getLogger("test")
VERSIONS = ("22.4.2", "25.1.4")


def fixture(name: str) -> dict:
    with open(os.path.join(FIXTURES, name)) as handle:
        return yaml.safe_load(handle)["network"]


def cloudinit_root(version: str) -> str:
    root = os.path.join(CLOUDINIT, version, "root")
    if not os.path.isdir(os.path.join(root, "usr/lib/python3/dist-packages/cloudinit")):
        pytest.skip(f"cloud-init {version} is not unpacked under build/cloudinit (run: make cloudinit)")
    return root


def real_cloudinit(version: str, *args: str) -> subprocess.CompletedProcess:
    """The release's own command line, from the unpacked tree (nothing installed)."""
    env = dict(os.environ, PYTHONPATH=os.path.join(cloudinit_root(version), "usr/lib/python3/dist-packages"))
    return subprocess.run([sys.executable, "-m", "cloudinit.cmd.main", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def netplan_target(tmp_path) -> str:
    """A target that has netplan (and no cloud-init): apply_network writes netplan YAML into it."""
    root = tmp_path / "target"
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/netplan").write_text("#!/bin/sh\n")
    return str(root)


needs_netplan = pytest.mark.skipif(not os.path.exists(NETPLAN),
                                   reason="netplan.io is not installed (apt-get install netplan.io)")


@needs_netplan
@pytest.mark.parametrize(("name", "devices"), [
    ("maas-v1.yaml", ["eth0", "eth1", "eth2", "eth3", "bond0", "br0", "eth0.100"]),
    ("v1-extras.yaml", ["ens3", "ens4", "ens5", "ens6", "ens7", "bond1", "br1"]),
    ("maas-v2.yaml", ["eth0", "eth1", "eth2", "eth3", "bond0", "br0", "eth0.100"]),
])
def test_netplan_generate_accepts_what_apply_network_writes(tmp_path, name, devices):
    target = netplan_target(tmp_path)
    path = tmp_path / "network_config"
    path.write_text(network_document(fixture(name)))
    assert apply_network(target, str(path), LOG) == ["/etc/netplan/50-curtin-networking.yaml"]
    done = subprocess.run([NETPLAN, "generate", "--root-dir", target], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stderr and "Permissions" not in done.stderr
    generated = os.listdir(os.path.join(target, "run/systemd/network"))
    for device in devices:
        assert f"10-netplan-{device}.network" in generated, (device, generated)
    if name == "maas-v1.yaml":
        with open(os.path.join(target, "run/systemd/network/10-netplan-eth0.network")) as handle:
            text = handle.read()
        assert "PermanentMACAddress=52:54:00:12:34:00" in text and "Address=10.0.0.4/24" in text
        assert "Gateway=10.0.0.1" in text and "DNS=10.0.0.3" in text


@pytest.mark.cloudinit
@pytest.mark.parametrize("version", VERSIONS)
def test_static_feature_reading_agrees_with_cloud_init_features(version):
    done = real_cloudinit(version, "features")
    assert done.returncode == 0, done.stderr
    info = probe_target(cloudinit_root(version))
    assert tuple(done.stdout.split()) == tuple(sorted(info.features))
    assert info.cloudinit_version == version and info.cloudinit_supports_v2


@pytest.mark.cloudinit
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ["maas-v1.yaml", "v1-extras.yaml", "maas-v2.yaml"])
def test_cloudinit_reads_our_dropin(tmp_path, version, name):
    """The 50-curtin-networking.cfg we write is a network config both releases render."""
    dropin = tmp_path / "50-curtin-networking.cfg"
    dropin.write_text(network_document(fixture(name)))
    out = tmp_path / "out"
    done = real_cloudinit(version, "devel", "net-convert", "-p", str(dropin), "-k", "yaml", "-d", str(out),
                          "-D", "debian", "-O", "netplan")
    assert done.returncode == 0, done.stderr
    (rendered,) = [os.path.join(folder, f) for folder, _, files in os.walk(out) for f in files
                   if f.endswith(".yaml")]
    with open(rendered) as handle:
        theirs = yaml.safe_load(handle)["network"]
    ours = yaml.safe_load(render_netplan(parse_network(fixture(name))))["network"]
    for section in ("ethernets", "bonds", "bridges", "vlans"):
        assert sorted(theirs.get(section, {})) == sorted(ours.get(section, {})), section


@pytest.mark.cloudinit
@pytest.mark.parametrize("version", VERSIONS)
def test_our_udev_rules_and_eni_stanzas_match_cloudinits_rendering(tmp_path, version):
    dropin = tmp_path / "50-curtin-networking.cfg"
    dropin.write_text(network_document(fixture("maas-v1.yaml")))
    out = tmp_path / "out"
    done = real_cloudinit(version, "devel", "net-convert", "-p", str(dropin), "-k", "yaml", "-d", str(out),
                          "-D", "debian", "-O", "eni")
    assert done.returncode == 0, done.stderr
    with open(out / "etc/udev/rules.d/70-persistent-net.rules") as handle:
        theirs = [line for line in handle.read().splitlines() if line and not line.startswith("#")]
    config = parse_network(fixture("maas-v1.yaml"))
    assert [line for line in render_udev_rules(config).splitlines() if not line.startswith("#")] == theirs
    with open(out / "etc/network/interfaces.d/50-cloud-init") as handle:
        their_heads = [line for line in handle.read().splitlines()
                       if line.startswith(("auto ", "iface ", "# control-"))]
    with open(os.path.join(FIXTURES, "maas-v1.interfaces")) as handle:
        our_heads = [line for line in handle.read().splitlines() if line.startswith(("auto ", "iface ", "# control-"))]
    assert our_heads == their_heads

