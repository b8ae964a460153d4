"""Discovery of physical Ethernet interfaces from a fake /sys/class/net."""

from __future__ import annotations

import os

import pytest

from cloudinit_maaslike.net.discover import Nic, discover_nics
from cloudinit_maaslike.net.errors import NetworkError


def fake_nic(sysfs, name, *, physical=True, kind="1", mac=None, operstate="up", carrier="1", driver=None):
    """A /sys/class/net/<name> as the kernel lays it out (files, device and driver links)."""
    base = sysfs / name
    base.mkdir(parents=True)
    for file, value in (("type", kind), ("address", mac), ("operstate", operstate), ("carrier", carrier)):
        if value is not None:
            (base / file).write_text(value + "\n")
    if physical:
        device = sysfs.parent / "devices" / f"pci-{name}"
        device.mkdir(parents=True)
        os.symlink(device, base / "device")
        if driver:
            drivers = sysfs.parent / "bus" / "drivers" / driver
            drivers.mkdir(parents=True, exist_ok=True)
            os.symlink(drivers, device / "driver")
    return base


@pytest.fixture
def sysfs(tmp_path):
    root = tmp_path / "class" / "net"
    root.mkdir(parents=True)
    fake_nic(root, "lo", physical=False, kind="772", mac="00:00:00:00:00:00", operstate="unknown")
    fake_nic(root, "eth0", mac="52:54:00:AA:00:01", driver="virtio_net")
    fake_nic(root, "eth1", mac="52:54:00:aa:00:02", operstate="down", carrier=None, driver="e1000e")
    fake_nic(root, "ens9", mac="52:54:00:aa:00:09", operstate="unknown", carrier="0")
    fake_nic(root, "ib0", kind="32", mac=":".join(["a0"] * 20))
    fake_nic(root, "br0", physical=False, mac="52:54:00:aa:00:01")
    fake_nic(root, "bond0", physical=False, mac="52:54:00:aa:00:02")
    fake_nic(root, "veth1", physical=False, mac="6e:00:00:00:00:01")
    return root


def test_physical_ethernet_interfaces_only_with_their_facts(sysfs):
    assert discover_nics(str(sysfs)) == (
        Nic("ens9", "52:54:00:aa:00:09", "unknown", False, None),
        Nic("eth0", "52:54:00:aa:00:01", "up", True, "virtio_net"),
        Nic("eth1", "52:54:00:aa:00:02", "down", None, "e1000e"),
    )


def test_up_follows_the_kernels_rule_unknown_counts(sysfs):
    by_name = {n.name: n for n in discover_nics(str(sysfs))}
    assert by_name["eth0"].is_up and by_name["ens9"].is_up and not by_name["eth1"].is_up
    assert by_name["eth0"].has_carrier and not by_name["ens9"].has_carrier and not by_name["eth1"].has_carrier


def test_missing_files_do_not_break_discovery(tmp_path):
    root = tmp_path / "net"
    fake_nic(root, "eth0", mac=None, operstate=None, carrier=None, kind=None)
    (nic,) = discover_nics(str(root))
    assert nic == Nic("eth0", None, "unknown", None, None) and nic.is_up


def test_an_unreadable_sysfs_is_an_error_naming_it(tmp_path):
    with pytest.raises(NetworkError, match=r"cannot list the network devices in .*/nowhere"):
        discover_nics(str(tmp_path / "nowhere"))


def test_the_real_sysfs_reads_without_error():
    if not os.path.isdir("/sys/class/net"):
        pytest.skip("no /sys/class/net on this machine")
    assert all(nic.name != "lo" for nic in discover_nics())
