"""The network config: v1 parsed into the model with every problem at once, v2 checked lightly."""

from __future__ import annotations

import os

import pytest
import yaml

from cloudinit_maaslike.config.problems import ConfigInvalid, Problems
from cloudinit_maaslike.install.prepare import SECTION_VALIDATORS, validated_config
from cloudinit_maaslike.net.model import Route, Subnet
from cloudinit_maaslike.net.schema import parse_network, validate_network

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "net")


def fixture(name: str) -> dict:
    with open(os.path.join(FIXTURES, name)) as handle:
        return yaml.safe_load(handle)["network"]


def problems_of(raw) -> Problems:
    problems = Problems()
    parse_network(raw, "network", problems)
    return problems


def errors_of(raw) -> list:
    return [str(p) for p in problems_of(raw).errors]


def v1(*entries) -> dict:
    return {"version": 1, "config": list(entries)}


def eth(name="eth0", **extra) -> dict:
    return {"type": "physical", "name": name, **extra}


def test_maas_v1_parses_into_the_model():
    config = parse_network(fixture("maas-v1.yaml"))
    assert config.version == 1 and not config.disabled
    assert [i.name for i in config.interfaces] == ["eth0", "eth1", "eth2", "eth3", "bond0", "br0", "eth0.100"]
    eth0 = config.interface("eth0")
    assert eth0.mac_address == "52:54:00:12:34:00" and eth0.mtu == 1500
    assert eth0.subnets[0] == Subnet("static", "10.0.0.4/24", "10.0.0.1", ("10.0.0.2",), ("maas",),
                                     (Route("10.10.0.0/16", "10.0.0.254", 0),))
    bond = config.interface("bond0")
    assert bond.members == ("eth2", "eth3") and bond.param("bond-mode") == "802.3ad"
    assert config.master_of("eth2") is bond and config.master_of("bond0").name == "br0"
    vlan = config.interface("eth0.100")
    assert (vlan.vlan_link, vlan.vlan_id) == ("eth0", 100)
    assert [s.is_ipv6 for s in vlan.subnets] == [False, True]
    assert config.nameservers == ("10.0.0.2", "10.0.0.3") and config.search == ("maas", "example.com")
    assert config.raw == fixture("maas-v1.yaml")


def test_v1_extras_normalise_addresses_macs_routes_and_strings():
    config = parse_network(fixture("v1-extras.yaml"))
    ens3 = config.interface("ens3")
    assert ens3.mac_address == "aa:bb:cc:00:00:01"
    assert ens3.subnets[0].address == "192.168.1.10/24" and ens3.subnets[0].metric == 100
    assert config.routes == (Route("10.99.0.0/16", "192.168.1.254", 3), Route("10.98.0.0/16", "172.16.0.1"))
    assert config.nameservers == ("192.168.1.53",) and config.search == ("lan",)
    assert config.interface("ens4").subnets[0].control == "hotplug"


def test_maas_v2_passes_through_as_given():
    raw = fixture("maas-v2.yaml")
    config = parse_network(raw)
    assert config.version == 2 and config.interfaces == () and config.raw == raw
    assert problems_of(raw).errors == [] and problems_of(raw).warnings == []


@pytest.mark.parametrize("raw", [{"config": "disabled"}, {"version": 1, "config": "disabled"},
                                 {"version": 2, "config": "disabled"}])
def test_config_disabled(raw):
    config = parse_network(raw)
    assert config.disabled and config.raw == raw


def test_null_network_is_no_config():
    assert problems_of(None).errors == []
    assert parse_network(None).interfaces == ()


def test_every_problem_is_reported_at_once_with_its_path():
    raw = v1(
        eth("eth0", mac_address="52:54:00:00:00:01", subnets=[{"type": "static", "address": "10.0.0.4/24",
                                                              "gateway": "2001:db8::1"}]),
        eth("eth1", mac_address="52:54:00:00:00:01"),
        {"type": "bond", "name": "bond0", "bond_interfaces": ["eth1", "eth9"], "params": {"bond-mode": "fast"}},
        {"type": "vlan", "name": "vlan5", "vlan_link": "eth0", "vlan_id": 5000},
        {"type": "wifi", "name": "wlan0"},
    )
    with pytest.raises(ConfigInvalid) as caught:
        parse_network(raw)
    paths = [p.path for p in caught.value.problems]
    assert paths == [
        "network.config[0] (name: eth0).subnets[0].gateway",
        "network.config[2] (name: bond0).params.bond-mode",
        "network.config[3] (name: vlan5).vlan_id",
        "network.config[4].type",
        "network.config[1] (name: eth1).mac_address",
        "network.config[2] (name: bond0).bond_interfaces[1]",
    ]
    text = str(caught.value)
    assert text.startswith("network config: 6 problems: ")
    assert ("network.config[2] (name: bond0).bond_interfaces[1]: refers to 'eth9', which no entry has as name"
            in text)


@pytest.mark.parametrize(("raw", "path", "message"), [
    ("eth0", "network", "expected a mapping"),
    ({"config": []}, "network.version", "expected 1 or 2, got nothing"),
    ({"version": 3, "config": []}, "network.version", "expected 1 or 2, got 3"),
    ({"version": True, "config": []}, "network.version", "expected 1 or 2, got True"),
    ({"version": 1, "config": {"eth0": {}}}, "network.config", "expected a list of entries or 'disabled'"),
    (v1("eth0"), "network.config[0]", "expected a mapping, got a string"),
    (v1({"type": "physical"}), "network.config[0].name", "required"),
    (v1({"type": "physical", "name": 7}), "network.config[0].name", "expected a string"),
    (v1(eth("a-name-much-too-long")), "network.config[0].name", "not an interface name"),
    (v1(eth("eth0/1")), "network.config[0].name", "not an interface name"),
    (v1(eth(), eth()), "network.config[1].name", "'eth0' repeats network.config[0]"),
    (v1(eth(mac_address="52:54:00:zz:00:01")), "network.config[0] (name: eth0).mac_address", "not a MAC"),
    (v1(eth(mtu=9)), "network.config[0] (name: eth0).mtu", "out of range"),
    (v1(eth(mtu="big")), "network.config[0] (name: eth0).mtu", "expected a whole number"),
    (v1(eth(params=["a"])), "network.config[0] (name: eth0).params", "expected a mapping"),
    (v1(eth(params={"x": {"y": 1}})), "network.config[0] (name: eth0).params.x", "a value or a list"),
    (v1(eth(subnets={"type": "dhcp"})), "network.config[0] (name: eth0).subnets", "expected a list"),
    (v1(eth(subnets=["dhcp"])), "network.config[0] (name: eth0).subnets[0]", "expected a mapping"),
    (v1(eth(subnets=[{"type": "slaac"}])), "network.config[0] (name: eth0).subnets[0].type",
     "unknown subnet type 'slaac'"),
    (v1(eth(subnets=[{"type": "static"}])), "network.config[0] (name: eth0).subnets[0].address",
     "required for a static subnet"),
    (v1(eth(subnets=[{"type": "static", "address": "10.0.0.4"}])),
     "network.config[0] (name: eth0).subnets[0].address", "needs a prefix"),
    (v1(eth(subnets=[{"type": "static", "address": "10.0.0.400/24"}])),
     "network.config[0] (name: eth0).subnets[0].address", "not an IP address"),
    (v1(eth(subnets=[{"type": "static", "address": "10.0.0.4/24", "netmask": "255.255.0.0"}])),
     "network.config[0] (name: eth0).subnets[0].address", "disagrees with netmask"),
    (v1(eth(subnets=[{"type": "static", "address": "10.0.0.4", "netmask": "255.0.255.0"}])),
     "network.config[0] (name: eth0).subnets[0].address", "not a netmask"),
    (v1(eth(subnets=[{"type": "static", "address": "10.0.0.4/33"}])),
     "network.config[0] (name: eth0).subnets[0].address", "out of range"),
    (v1(eth(subnets=[{"type": "static6", "address": "10.0.0.4/24"}])),
     "network.config[0] (name: eth0).subnets[0].address", "is IPv4; a static6 subnet"),
    (v1(eth(subnets=[{"type": "static", "address": "10.0.0.4/24", "gateway": 5}])),
     "network.config[0] (name: eth0).subnets[0].gateway", "expected an IP address, got 5"),
    (v1(eth(subnets=[{"type": "static", "address": 42}])),
     "network.config[0] (name: eth0).subnets[0].address", "expected an address such as 10.0.0.4/24"),
    (v1(eth(subnets=[{"type": "static", "address": "10.0.0.4", "netmask": [24]}])),
     "network.config[0] (name: eth0).subnets[0].address", "not a netmask or prefix length: [24]"),
    (v1(eth(mtu=1500.5)), "network.config[0] (name: eth0).mtu", "expected a whole number, got 1500.5"),
    (v1(eth(subnets=[{"type": "dhcp", "routes": [{"destination": 7}]}])),
     "network.config[0] (name: eth0).subnets[0].routes[0].destination", "expected a network such as"),
    (v1(eth(subnets=[{"type": "dhcp", "routes": [{"destination": "10.1.0.0/16", "netmask": "255.255.255.0"}]}])),
     "network.config[0] (name: eth0).subnets[0].routes[0].destination", "disagrees with netmask 255.255.255.0"),
    ({"version": 2, "bonds": {"bond0": "x"}}, "network.bonds.bond0", "expected a mapping"),
    (v1(eth(subnets=[{"type": "static", "address": "10.0.0.4/24", "gateway": "10.0.0"}])),
     "network.config[0] (name: eth0).subnets[0].gateway", "not an IP address"),
    (v1(eth(subnets=[{"type": "dhcp", "dns_nameservers": ["ns1"]}])),
     "network.config[0] (name: eth0).subnets[0].dns_nameservers[0]", "not an IP address"),
    (v1(eth(subnets=[{"type": "dhcp", "dns_search": [1]}])),
     "network.config[0] (name: eth0).subnets[0].dns_search", "expected a list of strings"),
    (v1(eth(subnets=[{"type": "dhcp", "control": "always"}])),
     "network.config[0] (name: eth0).subnets[0].control", "expected one of auto, hotplug, manual"),
    (v1(eth(subnets=[{"type": "dhcp", "mtu": 1}])), "network.config[0] (name: eth0).subnets[0].mtu",
     "out of range"),
    (v1(eth(subnets=[{"type": "dhcp", "routes": "all"}])),
     "network.config[0] (name: eth0).subnets[0].routes", "expected a list"),
    (v1(eth(subnets=[{"type": "dhcp", "routes": [["10.1.0.0/16"]]}])),
     "network.config[0] (name: eth0).subnets[0].routes[0]", "expected a mapping"),
    (v1(eth(subnets=[{"type": "dhcp", "routes": [{"gateway": "10.0.0.1"}]}])),
     "network.config[0] (name: eth0).subnets[0].routes[0].destination", "required"),
    (v1(eth(subnets=[{"type": "dhcp", "routes": [{"destination": "10.1.0.1/16", "gateway": "10.0.0.1"}]}])),
     "network.config[0] (name: eth0).subnets[0].routes[0].destination", "host bits set (did you mean 10.1.0.0/16?)"),
    (v1(eth(subnets=[{"type": "dhcp", "routes": [{"destination": "nowhere"}]}])),
     "network.config[0] (name: eth0).subnets[0].routes[0].destination", "not a network"),
    (v1(eth(subnets=[{"type": "dhcp", "routes": [{"destination": "10.1.0.0/16", "gateway": "fe80::1"}]}])),
     "network.config[0] (name: eth0).subnets[0].routes[0].gateway", "different IP families"),
    (v1(eth(subnets=[{"type": "dhcp", "routes": [{"destination": "10.1.0.0/16", "gateway": "x"}]}])),
     "network.config[0] (name: eth0).subnets[0].routes[0].gateway", "not an IP address"),
    (v1(eth(subnets=[{"type": "dhcp", "routes": [{"destination": "10.1.0.0/16", "metric": -1}]}])),
     "network.config[0] (name: eth0).subnets[0].routes[0].metric", "out of range (at least 0)"),
    (v1(eth(), {"type": "route", "destination": "10.1.0.0", "netmask": 16}),
     "network.config[1]", "no interface can carry the route to 10.1.0.0/16: no static"),
    (v1(eth(), {"type": "route", "destination": "10.5.0.0/16", "gateway": "10.9.0.1"}),
     "network.config[1]", "no interface can carry the route to 10.5.0.0/16 via 10.9.0.1"),
    (v1({"type": "bond", "name": "bond0", "bond_interfaces": []}),
     "network.config[0] (name: bond0).bond_interfaces", "a non-empty list of interface names"),
    (v1(eth(), {"type": "bond", "name": "bond0", "bond_interfaces": ["eth0"], "params": {"bond-mode": "x"}}),
     "network.config[1] (name: bond0).params.bond-mode", "unknown bond mode 'x'"),
    (v1(eth(), {"type": "bridge", "name": "br0", "bridge_interfaces": ["eth0"], "params": {"bridge_stp": 2}}),
     "network.config[1] (name: br0).params.bridge_stp", "expected on/off or 0/1"),
    (v1(eth(), {"type": "bridge", "name": "br0", "bridge_interfaces": ["br0"]}),
     "network.config[1] (name: br0).bridge_interfaces[0]", "'br0' refers to itself"),
    (v1(eth(), {"type": "bridge", "name": "br0", "bridge_interfaces": ["eth0"]},
        {"type": "bond", "name": "bond0", "bond_interfaces": ["br0"]}),
     "network.config[2] (name: bond0).bond_interfaces[0]", "refers to 'br0', a bridge, not a physical"),
    (v1(eth(), {"type": "bond", "name": "bond0", "bond_interfaces": ["eth0"]},
        {"type": "bond", "name": "bond1", "bond_interfaces": ["eth0"]}),
     "network.config[2] (name: bond1).bond_interfaces[0]", "'eth0' is already a member of 'bond0'"),
    (v1({"type": "vlan", "name": "vlan5", "vlan_id": 5}), "network.config[0] (name: vlan5).vlan_link", "required"),
    (v1(eth(), {"type": "vlan", "name": "vlan5", "vlan_link": "eth0"}),
     "network.config[1] (name: vlan5).vlan_id", "required (1 to 4094)"),
    (v1(eth(), {"type": "vlan", "name": "vlan5", "vlan_link": "eth9", "vlan_id": 5}),
     "network.config[1] (name: vlan5).vlan_link", "refers to 'eth9', which no entry has as name"),
    (v1(eth(), {"type": "vlan", "name": "a", "vlan_link": "eth0", "vlan_id": "5"},
        {"type": "vlan", "name": "b", "vlan_link": "eth0", "vlan_id": 5}),
     "network.config[2] (name: b).vlan_id", "VLAN 5 on 'eth0' is also 'a'"),
    (v1(eth(), {"type": "bridge", "name": "br0", "bridge_interfaces": ["eth0", "v7"]},
        {"type": "vlan", "name": "v7", "vlan_link": "br0", "vlan_id": 7}),
     "network.config[1] (name: br0)", "depends on itself: br0 -> v7 -> br0"),
    (v1({"type": "nameserver", "search": ["maas"]}), "network.config[0].address", "required"),
    (v1({"type": "nameserver", "address": ["10.0.0.300"]}), "network.config[0].address[0]", "not an IP address"),
    (v1({"type": "route", "gateway": "10.0.0.1"}), "network.config[0].destination", "required"),
    ({"version": 2, "ethernets": ["eth0"]}, "network.ethernets", "expected a mapping of device names"),
    ({"version": 2, "ethernets": {"eth0": "dhcp"}}, "network.ethernets.eth0", "expected a mapping"),
    ({"version": 2, "ethernets": {"eth0": {}}, "bonds": {"eth0": {"interfaces": []}}},
     "network.bonds.eth0", "also declared in network.ethernets"),
    ({"version": 2, "bonds": {"bond0": {"interfaces": ["eth9"]}}}, "network.bonds.bond0.interfaces[0]",
     "refers to 'eth9', which is not declared"),
    ({"version": 2, "bridges": {"br0": {"interfaces": "eth0"}}}, "network.bridges.br0.interfaces",
     "expected a list of device names"),
    ({"version": 2, "ethernets": {"eth0": {}}, "vlans": {"v": {"link": "eth0"}}}, "network.vlans.v.id",
     "required"),
    ({"version": 2, "ethernets": {"eth0": {}}, "vlans": {"v": {"id": 4095, "link": "eth0"}}},
     "network.vlans.v.id", "out of range"),
    ({"version": 2, "vlans": {"v": {"id": 5}}}, "network.vlans.v.link", "required"),
    ({"version": 2, "vlans": {"v": {"id": 5, "link": "eth9"}}}, "network.vlans.v.link", "not declared"),
])
def test_each_problem_names_its_key(raw, path, message):
    errors = problems_of(raw).errors
    assert any(p.path == path and message in p.message for p in errors), [str(e) for e in errors]


def test_unknown_keys_are_warned_about_with_their_path_never_dropped_silently():
    raw = v1(eth(colour="blue", subnets=[{"type": "dhcp", "broadcast": "10.0.0.255",
                                         "address": "10.0.0.5/24"}]),
             {"type": "nameserver", "address": "10.0.0.2", "port": 53},
             {"type": "route", "destination": "10.1.0.0/16", "via": "x"})
    raw["renderer"] = "networkd"
    found = problems_of(raw)
    assert found.errors == []
    assert [str(w) for w in found.warnings] == [
        "network.renderer: unknown key, ignored",
        "network.config[0] (name: eth0).colour: unknown key, ignored",
        "network.config[0] (name: eth0).subnets[0].broadcast: unknown key, ignored",
        "network.config[0] (name: eth0).subnets[0].address: ignored: a dhcp subnet has no static address",
        "network.config[1].port: unknown key, ignored",
        "network.config[2].via: unknown key, ignored",
    ]
    v2 = problems_of({"version": 2, "wires": {}})
    assert [str(w) for w in v2.warnings] == ["network.wires: unknown key, passed through as is"]


def test_default_route_words_and_netmask_forms():
    config = parse_network(v1(eth(subnets=[{"type": "static", "address": "fd00::5", "netmask": 64,
                                            "routes": [{"destination": "default", "gateway": "fd00::1"}]},
                                           {"type": "static", "address": "10.0.0.5", "netmask": "24",
                                            "routes": [{"destination": "default", "gateway": "10.0.0.1"}]}])))
    first, second = config.interface("eth0").subnets
    assert first.address == "fd00::5/64" and first.routes[0] == Route("::/0", "fd00::1")
    assert first.routes[0].is_default and first.routes[0].is_ipv6 and first.is_ipv6
    assert second.address == "10.0.0.5/24" and second.routes[0].destination == "0.0.0.0/0"
    host = parse_network(v1(eth(subnets=[{"type": "dhcp", "routes": [{"destination": "10.1.1.1"}]}])))
    assert host.interface("eth0").subnets[0].routes[0].destination == "10.1.1.1/32"


def test_the_engine_checks_the_network_section_before_any_stage():
    assert SECTION_VALIDATORS["network"] is validate_network
    with pytest.raises(ConfigInvalid) as caught:
        validated_config([{"network": v1(eth(subnets=[{"type": "static"}]))}])
    assert [p.path for p in caught.value.problems] == ["network.config[0] (name: eth0).subnets[0].address"]
    assert validated_config([{"network": fixture("maas-v1.yaml")}]).raw["network"]["version"] == 1
