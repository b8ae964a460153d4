"""Renderers against golden files written by hand from the formats (ENI, udev rules, netplan)."""

from __future__ import annotations

import logging
import os

import pytest
import yaml

from cloudinit_maaslike.net.cloudcfg import DISABLE_TEXT, network_document, render_cloudinit_dropin
from cloudinit_maaslike.net.eni import render_eni, route_lines
from cloudinit_maaslike.net.model import NetworkConfig, Route
from cloudinit_maaslike.net.netplan import render_netplan, v1_to_v2
from cloudinit_maaslike.net.outputs import stage_outputs
from cloudinit_maaslike.net.schema import parse_network
from cloudinit_maaslike.net.state import network_state, render_network_state
from cloudinit_maaslike.net.udev import render_udev_rules
from tests.netfixtures import golden

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "net")


def raw_fixture(name: str) -> dict:
    with open(os.path.join(FIXTURES, name)) as handle:
        return yaml.safe_load(handle)["network"]


@pytest.mark.parametrize("name", ["maas-v1", "v1-extras"])
def test_eni_matches_the_golden_file(name):
    assert render_eni(parse_network(raw_fixture(f"{name}.yaml"))) == golden(f"{name}.interfaces")


@pytest.mark.parametrize("name", ["maas-v1", "v1-extras"])
def test_udev_rules_match_the_golden_file(name):
    assert render_udev_rules(parse_network(raw_fixture(f"{name}.yaml"))) == golden(f"{name}.rules")


@pytest.mark.parametrize("name", ["maas-v1", "v1-extras"])
def test_netplan_from_v1_matches_the_golden_file(name):
    assert render_netplan(parse_network(raw_fixture(f"{name}.yaml"))) == golden(f"{name}.netplan.yaml")


def test_netplan_leaves_out_what_it_cannot_say_and_says_so(caplog):
    caplog.set_level(logging.WARNING)
    config = parse_network({"version": 1, "config": [
        {"type": "physical", "name": "eth0", "params": {"ethernet-wol": "g"}},
        {"type": "physical", "name": "eth1"},
        {"type": "bond", "name": "bond0", "bond_interfaces": ["eth1"],
         "params": {"bond-mode": "active-backup", "bond-use-carrier": 1, "bond_num_grat_arp": "3",
                    "bond-all-slaves-active": 0, "bond-arp-ip-target": "10.0.0.1 10.0.0.2"}},
        {"type": "bridge", "name": "br0", "bridge_interfaces": ["eth0"],
         "params": {"bridge_hw": "aa:bb:cc:dd:ee:ff", "bridge_portprio": "eth0 64", "bridge_stp": "off"}},
    ]})
    network = v1_to_v2(config)
    assert network["bonds"]["bond0"]["parameters"] == {
        "mode": "active-backup", "gratuitous-arp": 3, "all-slaves-active": False,
        "arp-ip-targets": ["10.0.0.1", "10.0.0.2"]}
    assert network["bridges"]["br0"]["parameters"] == {"port-priority": {"eth0": 64}, "stp": False}
    assert network["ethernets"]["eth0"] == {}  # no MAC: matched by name
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "network.config[2] (name: bond0): bond-use-carrier has no netplan equivalent" in warned
    assert "network.config[3] (name: br0): bridge_hw has no netplan equivalent" in warned
    assert "network.config[0] (name: eth0): params ethernet-wol are left out" in warned


def test_v2_passes_through_to_netplan_and_the_dropin_verbatim():
    raw = raw_fixture("maas-v2.yaml")
    config = parse_network(raw)
    for text in (render_netplan(config), render_cloudinit_dropin(config.raw)):
        assert text.startswith("# Written by cloudinit-maaslike")
        assert yaml.safe_load(text) == {"network": raw}
    assert list(yaml.safe_load(render_netplan(config))["network"]) == list(raw)  # key order kept


def test_the_dropin_is_the_config_as_given_in_block_style():
    raw = raw_fixture("maas-v1.yaml")
    text = render_cloudinit_dropin(raw)
    assert yaml.safe_load(text) == {"network": raw}
    assert text.splitlines()[1] == "network:" and "{" not in text
    disabled = network_document({"config": "disabled"})
    assert disabled.splitlines()[1:] == ["network:", "  config: disabled"]  # more than one line (curtin)
    assert yaml.safe_load(DISABLE_TEXT) == {"network": {"config": "disabled"}}


@pytest.mark.parametrize(("route", "lines"), [
    (Route("0.0.0.0/0", "10.0.0.1"), ["post-up route add default gw 10.0.0.1 || true",
                                      "pre-down route del default gw 10.0.0.1 || true"]),
    (Route("::/0", "fd00::1", 5), ["post-up route add -A inet6 default gw fd00::1 metric 5 || true",
                                   "pre-down route del -A inet6 default gw fd00::1 metric 5 || true"]),
    (Route("10.5.5.5/32"), ["post-up route add -net 10.5.5.5 netmask 255.255.255.255 || true",
                            "pre-down route del -net 10.5.5.5 netmask 255.255.255.255 || true"]),
])
def test_route_lines(route, lines):
    assert [line.strip() for line in route_lines(route)] == lines


def test_eni_for_interfaces_without_subnets_and_an_empty_config():
    config = parse_network({"version": 1, "config": [
        {"type": "physical", "name": "eth0"}, {"type": "physical", "name": "eth1"},
        {"type": "bond", "name": "bond0", "bond_interfaces": ["eth1"]},
        {"type": "vlan", "name": "vlan9", "vlan_link": "eth0", "vlan_id": 9}]})
    assert render_eni(config) == (
        "auto lo\niface lo inet loopback\n\n"
        "iface eth0 inet manual\n\n"
        "auto eth1\niface eth1 inet manual\n    bond-master bond0\n\n"
        "auto bond0\niface bond0 inet manual\n    bond-slaves none\n\n"
        "iface vlan9 inet manual\n    vlan-raw-device eth0\n    vlan-id 9\n\n"
        "source /etc/network/interfaces.d/*.cfg\n")
    empty = parse_network({"version": 1, "config": []})
    assert render_eni(empty) == "auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*.cfg\n"
    assert render_udev_rules(empty).count("\n") == 1


def test_udev_rules_skip_infiniband_and_macless_interfaces():
    ib = ":".join(["a0"] * 20)
    config = parse_network({"version": 1, "config": [{"type": "physical", "name": "ib0", "mac_address": ib},
                                                     {"type": "physical", "name": "eth0"}]})
    assert render_udev_rules(config).count("\n") == 1


def test_network_state_is_the_parsed_model():
    state = network_state(parse_network(raw_fixture("maas-v1.yaml")))
    assert list(state["interfaces"]) == ["eth0", "eth1", "eth2", "eth3", "bond0", "br0", "eth0.100"]
    assert state["interfaces"]["eth2"]["bond_master"] == "bond0"
    assert state["interfaces"]["bond0"]["bridge_master"] == "br0"
    assert state["interfaces"]["bond0"]["bond_interfaces"] == ["eth2", "eth3"]
    assert state["interfaces"]["eth0.100"]["vlan_link"] == "eth0"
    assert state["interfaces"]["eth0"]["subnets"][0]["routes"] == [
        {"destination": "10.10.0.0/16", "gateway": "10.0.0.254", "metric": 0}]
    assert state["dns"] == {"nameservers": ["10.0.0.2", "10.0.0.3"], "search": ["maas", "example.com"]}
    assert yaml.safe_load(render_network_state(parse_network(raw_fixture("maas-v1.yaml")))) == state
    assert network_state(parse_network(raw_fixture("maas-v2.yaml")))["config"] == raw_fixture("maas-v2.yaml")
    assert network_state(parse_network({"config": "disabled"})) == {"version": 1, "disabled": True}


def test_stage_outputs_for_each_kind_of_config():
    v1 = raw_fixture("maas-v1.yaml")
    outputs = stage_outputs(v1, parse_network(v1))
    assert yaml.safe_load(outputs.network_config) == {"network": v1}
    assert outputs.interfaces == golden("maas-v1.interfaces")
    assert yaml.safe_load(outputs.network_state)["version"] == 1
    v2 = raw_fixture("maas-v2.yaml")
    outputs = stage_outputs(v2, parse_network(v2))
    assert yaml.safe_load(outputs.network_config) == {"network": v2} and outputs.interfaces == ""
    disabled = {"config": "disabled"}
    assert stage_outputs(disabled, parse_network(disabled)).interfaces == ""
    copied = stage_outputs(v1, parse_network(v1), copied_interfaces="auto lo\n")
    assert copied.interfaces == "auto lo\n"


def test_render_order_puts_members_before_what_is_built_on_them():
    config = NetworkConfig(1, parse_network(raw_fixture("maas-v1.yaml")).interfaces[::-1])
    assert render_eni(config).index("iface eth2") < render_eni(config).index("iface bond0") \
        < render_eni(config).index("iface br0") < render_eni(config).index("iface eth0.100")


def test_eni_option_values_and_subnet_options():
    config = parse_network({"version": 1, "config": [
        {"type": "physical", "name": "eth0"},
        {"type": "bond", "name": "bond0", "bond_interfaces": ["eth0"],
         "params": {"bond-use-carrier": True, "bond-arp-ip-target": ["10.0.0.1", "10.0.0.2"], "bond-primary": None},
         "subnets": [{"type": "static", "address": "10.0.0.5/24", "mtu": 1400, "metric": 7}]},
        {"type": "vlan", "name": "bond0.7", "vlan_link": "bond0", "vlan_id": 7, "params": {"vlan-flags": 1}}]})
    text = render_eni(config)
    assert "    address 10.0.0.5/24\n    mtu 1400\n    metric 7\n" in text
    assert "    bond-use-carrier 1\n    bond-arp-ip-target 10.0.0.1 10.0.0.2\n    bond-slaves none\n" in text
    assert "bond-primary" not in text and "    vlan-id 7\n    vlan-flags 1\n" in text


def test_routes_without_a_gateway_ride_on_the_dhcp_interface_on_link():
    config = parse_network({"version": 1, "config": [
        {"type": "physical", "name": "eth0", "subnets": [{"type": "dhcp4"}]},
        {"type": "route", "destination": "10.9.0.0/16"}]})
    assert v1_to_v2(config)["ethernets"]["eth0"]["routes"] == [{"to": "10.9.0.0/16", "scope": "link"}]
    assert "post-up route add -net 10.9.0.0 netmask 255.255.0.0 || true" in render_eni(config)
