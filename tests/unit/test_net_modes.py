"""net-meta's modes: which config is written and from what (sysfs, the config, the target's ENI)."""

from __future__ import annotations

import logging
import os

import pytest
import yaml

from cloudinit_maaslike.net.eni import render_eni
from cloudinit_maaslike.net.eniread import parse_route_command, read_eni_file
from cloudinit_maaslike.net.errors import NetworkError
from cloudinit_maaslike.net.modes import boot_mac, dhcp_network, plan_net_meta, resolve_mode, select_devices
from cloudinit_maaslike.net.schema import parse_network

from .test_net_discover import fake_nic

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "net")
LOG = logging.getLogger("test")


@pytest.fixture
def sysfs(tmp_path):
    root = tmp_path / "sys" / "class" / "net"
    root.mkdir(parents=True)
    fake_nic(root, "lo", physical=False, kind="772", operstate="unknown")
    fake_nic(root, "eth0", mac="52:54:00:00:00:01")
    fake_nic(root, "eth1", mac="52:54:00:00:00:02", operstate="down", carrier=None)
    fake_nic(root, "eth2", mac="52:54:00:00:00:03", operstate="unknown", carrier="0")
    fake_nic(root, "br0", physical=False, mac="52:54:00:00:00:01")
    return str(root)


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "target"
    path.mkdir()
    return str(path)


def write_eni(target, text, name="etc/network/interfaces"):
    path = os.path.join(target, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    return path


@pytest.mark.parametrize(("requested", "network", "has_eni", "mode"), [
    ("disabled", {"version": 1, "config": []}, True, "disabled"),
    ("dhcp", {"version": 1, "config": []}, False, "custom"),
    ("auto", {"config": "disabled"}, False, "custom"),
    ("auto", None, False, "dhcp"),
    ("auto", None, True, "copy"),
    ("copy", None, False, "copy"),
    ("dhcp", None, True, "dhcp"),
    ("custom", None, False, "custom"),
])
def test_mode_resolution_follows_curtin(target, requested, network, has_eni, mode):
    if has_eni:
        write_eni(target, "auto lo\niface lo inet loopback\n")
    assert resolve_mode(requested, network, target) == mode


def test_an_unknown_mode_is_an_error(target):
    with pytest.raises(NetworkError, match="unknown mode 'static'"):
        resolve_mode("static", None, target)


def test_dhcp_uses_connected_interfaces_by_default_with_their_macs(sysfs, target):
    plan = plan_net_meta("auto", None, target, sysfs=sysfs)
    assert plan.mode == "dhcp" and plan.copied_interfaces is None
    assert plan.network == {"version": 1, "config": [
        {"type": "physical", "name": "eth0", "mac_address": "52:54:00:00:00:01", "subnets": [{"type": "dhcp4"}]},
        {"type": "physical", "name": "eth2", "mac_address": "52:54:00:00:00:03", "subnets": [{"type": "dhcp4"}]},
    ]}
    parse_network(plan.network)  # and it is a valid config


def test_device_aliases_and_names(sysfs, tmp_path):
    from cloudinit_maaslike.net.discover import discover_nics

    nics = discover_nics(sysfs)
    names = lambda found: [n.name for n in found]  # noqa: E731
    assert names(select_devices(nics, ["configured"])) == ["eth0"]
    assert names(select_devices(nics, ["eth1", "connected", "eth0"])) == ["eth0", "eth1", "eth2"]
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("ro root=squash:x BOOTIF=01-52-54-00-00-00-02 ip=::::maas:BOOTIF\n")
    assert names(select_devices(nics, ["netboot"], str(cmdline))) == ["eth1"]


def test_device_errors_name_what_is_missing(sysfs, tmp_path):
    from cloudinit_maaslike.net.discover import discover_nics

    nics = discover_nics(sysfs)
    with pytest.raises(NetworkError, match=r"--devices eth7: not a physical Ethernet interface .*found: eth0, eth1"):
        select_devices(nics, ["eth7"], sysfs=sysfs)
    with pytest.raises(NetworkError, match="--devices br0: not a physical"):
        select_devices(nics, ["br0"])
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("ro quiet\n")
    with pytest.raises(NetworkError, match="no BOOTIF= on the kernel command line"):
        select_devices(nics, ["netboot"], str(cmdline))
    cmdline.write_text("BOOTIF=01-aa-bb-cc-dd-ee-ff\n")
    with pytest.raises(NetworkError, match="has the boot MAC aa:bb:cc:dd:ee:ff"):
        select_devices(nics, ["netboot"], str(cmdline))


def test_boot_mac_forms(tmp_path):
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("BOOTIF=AA:BB:CC:DD:EE:0F")
    assert boot_mac(str(cmdline)) == "aa:bb:cc:dd:ee:0f"
    assert boot_mac(str(tmp_path / "absent")) is None


def test_dhcp_with_no_interface_up_warns_and_writes_an_empty_config(tmp_path, target, caplog):
    root = tmp_path / "net"
    fake_nic(root, "eth0", operstate="down")
    plan = plan_net_meta("dhcp", None, target, sysfs=str(root), log=LOG)
    assert plan.network == {"version": 1, "config": []}
    assert "found no physical interface that is up" in caplog.text
    assert dhcp_network([]) == {"version": 1, "config": []}


def test_custom_passes_the_network_key_through(target):
    raw = {"version": 2, "ethernets": {"eth0": {"dhcp4": True}}}
    assert plan_net_meta("auto", raw, target).network == raw
    assert plan_net_meta("disabled", raw, target).network is None


def test_custom_without_a_network_key_is_an_error(target):
    with pytest.raises(NetworkError, match="net-meta custom: the install config has no network: key"):
        plan_net_meta("custom", None, target)


def test_copy_without_an_interfaces_file_is_an_error(target):
    with pytest.raises(NetworkError, match=r"net-meta copy: the target has no /etc/network/interfaces"):
        plan_net_meta("copy", None, target)


def test_copy_reads_our_own_eni_back_into_the_same_config(target):
    with open(os.path.join(FIXTURES, "maas-v1.interfaces")) as handle:
        eni = handle.read()
    write_eni(target, eni)
    plan = plan_net_meta("auto", None, target, log=LOG)
    assert plan.mode == "copy" and plan.copied_interfaces == eni
    assert render_eni(parse_network(plan.network)) == eni


def test_copy_follows_sources_inside_the_target_and_warns_about_what_it_drops(target, caplog):
    write_eni(target, "auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n"
                      "source-directory interfaces.d-extra\n")
    write_eni(target, "auto eth0\niface eth0 inet static\n    address 192.168.5.5\n    netmask 255.255.255.0\n"
                      "    gateway 192.168.5.1\n    dns-nameservers 192.168.5.53 \\\n      192.168.5.54\n"
                      "    hwaddress ether 52:54:00:00:00:01\n    pre-up /bin/true\n"
                      "    post-up ip route add 10.0.0.0/8 via 192.168.5.1\n\n"
                      "iface eth0 inet6 auto\n\nallow-hotplug eth1\niface eth1 inet6 dhcp\n"
                      "mapping eth2\n    script /bin/mapper\n", "etc/network/interfaces.d/eth0")
    write_eni(target, "auto br0\niface br0 inet dhcp\n    bridge-ports eth3 eth4\n    bridge-stp off\n\n"
                      "auto vlan20\niface vlan20 inet manual\n    vlan_raw_device eth0\n\n"
                      "auto bond0\niface bond0 inet manual\n    bond-slaves eth5 eth6\n    bond-mode 1\n",
              "etc/network/interfaces.d-extra/more")
    write_eni(target, "iface ignored inet dhcp\n", "etc/network/interfaces.d-extra/bad.name")
    caplog.set_level(logging.WARNING)
    plan = plan_net_meta("copy", None, target, log=LOG)
    config = parse_network(plan.network)
    names = [i.name for i in config.interfaces]
    assert "ignored" not in names
    assert sorted(names) == ["bond0", "br0", "eth0", "eth1", "eth3", "eth4", "eth5", "eth6", "vlan20"]
    eth0 = config.interface("eth0")
    assert eth0.mac_address == "52:54:00:00:00:01"
    assert [(s.type, s.address) for s in eth0.subnets] == [("static", "192.168.5.5/24"), ("manual", None)]
    assert eth0.subnets[0].dns_nameservers == ("192.168.5.53", "192.168.5.54")
    assert config.interface("eth1").subnets[0].type == "dhcp6"
    assert config.interface("eth1").subnets[0].control == "hotplug"
    assert config.interface("br0").members == ("eth3", "eth4")
    assert config.interface("br0").param("bridge_stp") == "off"
    assert (config.interface("vlan20").vlan_link, config.interface("vlan20").vlan_id) == ("eth0", 20)
    assert config.interface("bond0").members == ("eth5", "eth6")
    warned = caplog.text
    assert "/etc/network/interfaces.d/eth0:9: 'pre-up /bin/true' is not carried" in warned
    assert "/etc/network/interfaces.d/eth0:10: 'post-up ip route add" in warned
    assert "/etc/network/interfaces.d/eth0:12: method inet6 auto is carried as manual" in warned
    assert "eth0:16: 'mapping eth2' is not carried" in warned
    assert "eth0:17: 'script /bin/mapper' is not carried" in warned


def test_copy_collects_bond_members_from_bond_master_lines(target):
    write_eni(target, "auto eth0\niface eth0 inet manual\n    bond-master bond0\n\n"
                      "auto bond0\niface bond0 inet dhcp\n    bond-slaves none\n    bond_mode active-backup\n")
    config = parse_network(plan_net_meta("copy", None, target, log=LOG).network)
    assert config.interface("bond0").members == ("eth0",)
    assert config.interface("bond0").params == (("bond-mode", "active-backup"),)


def test_copy_of_an_unreadable_or_looping_file_is_an_error(target):
    write_eni(target, "source /etc/network/interfaces\n")
    with pytest.raises(NetworkError, match="source nesting deeper than 8"):
        plan_net_meta("copy", None, target, log=LOG)
    os.remove(os.path.join(target, "etc/network/interfaces"))
    os.mkdir(os.path.join(target, "etc/network/interfaces"))
    with pytest.raises(NetworkError, match="net-meta copy: the target has no"):
        plan_net_meta("copy", None, target, log=LOG)


def test_read_eni_file_reports_an_unreadable_source(target):
    path = write_eni(target, "source /etc/network/other\n")
    os.makedirs(os.path.join(target, "etc/network/other"))  # unreadable as a file, even for root
    with pytest.raises(NetworkError, match="cannot read /etc/network/other: Is a directory"):
        read_eni_file(path, target, LOG)


@pytest.mark.parametrize(("command", "route"), [
    ("route add default gw 10.0.0.1 || true", {"destination": "0.0.0.0/0", "gateway": "10.0.0.1"}),
    ("route add -A inet6 default gw fd00::1", {"destination": "::/0", "gateway": "fd00::1"}),
    ("route add -net 10.1.0.0 netmask 255.255.0.0 gw 10.0.0.1 metric 4 || true",
     {"destination": "10.1.0.0", "netmask": "255.255.0.0", "gateway": "10.0.0.1", "metric": "4"}),
    ("route add -A inet6 fd01::/48 gw fd00::1", {"destination": "fd01::/48", "gateway": "fd00::1"}),
    ("route add -host 10.9.9.9 gw 10.0.0.1", {"destination": "10.9.9.9", "gateway": "10.0.0.1"}),
    ("ip route add 10.0.0.0/8 via 10.0.0.1", None),
    ("route add -net 10.1.0.0 dev eth0", None),
    ("route add gw 10.0.0.1", None),
])
def test_route_commands_read_back(command, route):
    assert parse_route_command(command) == route


def test_the_fixtures_are_what_the_tests_think(target):
    with open(os.path.join(FIXTURES, "maas-v1.yaml")) as handle:
        assert yaml.safe_load(handle)["network"]["version"] == 1
