"""Render a network config as netplan YAML: v1 converted to v2, v2 as given.

The conversion follows MAAS's own v1/v2 pairs: physical interfaces become
``ethernets`` matched by MAC with ``set-name``; bonds and bridges keep their
members and translate ifenslave/bridge-utils options to netplan's
``parameters`` (options netplan has no word for are logged, not dropped
silently); a subnet's gateway becomes a default route (``0.0.0.0/0`` /
``::/0``, which every netplan release reads, unlike ``default``); global
name servers go to the interfaces with static addresses (or, when none has
one, to those using DHCP), as cloud-init does.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Tuple

import yaml

from .model import Interface, NetworkConfig, Route, render_order
from .routing import route_owner

NETPLAN_FILE = "etc/netplan/50-curtin-networking.yaml"
HEADER = "# Written by cloudinit-maaslike (curtin net-meta) from the install's network config.\n"
SECTIONS = {"physical": "ethernets", "bond": "bonds", "bridge": "bridges", "vlan": "vlans"}
BOND_MODES = ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb")
BOND_PARAMS = {
    "bond-mode": "mode", "bond-miimon": "mii-monitor-interval", "bond-lacp-rate": "lacp-rate",
    "bond-xmit-hash-policy": "transmit-hash-policy", "bond-updelay": "up-delay",
    "bond-downdelay": "down-delay", "bond-ad-select": "ad-select", "bond-arp-interval": "arp-interval",
    "bond-arp-ip-target": "arp-ip-targets", "bond-arp-validate": "arp-validate",
    "bond-arp-all-targets": "arp-all-targets", "bond-num-grat-arp": "gratuitous-arp",
    "bond-num-unsol-na": "gratuitous-arp", "bond-primary": "primary",
    "bond-primary-reselect": "primary-reselect-policy", "bond-fail-over-mac": "fail-over-mac-policy",
    "bond-min-links": "min-links", "bond-all-slaves-active": "all-slaves-active",
    "bond-packets-per-slave": "packets-per-slave", "bond-lp-interval": "learn-packet-interval",
    "bond-resend-igmp": "resend-igmp",
}
BRIDGE_PARAMS = {
    "bridge_stp": "stp", "bridge_fd": "forward-delay", "bridge_hello": "hello-time",
    "bridge_maxage": "max-age", "bridge_ageing": "ageing-time", "bridge_bridgeprio": "priority",
    "bridge_pathcost": "path-cost", "bridge_portprio": "port-priority",
}
NUMBERS = ("mii-monitor-interval", "up-delay", "down-delay", "arp-interval", "gratuitous-arp", "min-links",
           "packets-per-slave", "learn-packet-interval", "resend-igmp", "forward-delay", "hello-time",
           "max-age", "ageing-time", "priority")
TRUE_WORDS = ("1", "on", "yes", "true")


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _bond_value(key: str, value: Any) -> Any:
    text = str(value).lower()
    if key == "mode" and text.isdigit() and int(text) < len(BOND_MODES):
        return BOND_MODES[int(text)]
    if key == "lacp-rate" and text in ("0", "1"):
        return "fast" if text == "1" else "slow"
    if key == "all-slaves-active":
        return text in TRUE_WORDS
    if key == "arp-ip-targets":
        return value if isinstance(value, list) else str(value).split()
    return _number(value) if key in NUMBERS else value


def _per_port(value: Any) -> Dict[str, Any]:
    """bridge-utils' ``eth1 50`` lines as netplan's {eth1: 50}."""
    found: Dict[str, Any] = {}
    for item in value if isinstance(value, list) else [value]:
        port, _, number = str(item).partition(" ")
        found[port] = _number(number.strip())
    return found


def _parameters(iface: Interface, log: logging.Logger) -> Dict[str, Any]:
    found: Dict[str, Any] = {}
    for key, value in iface.params:
        if iface.type == "bond":
            word = BOND_PARAMS.get("bond-" + key[5:].replace("_", "-") if key.startswith("bond") else key)
            if word:
                found[word] = _bond_value(word, value)
                continue
        elif iface.type == "bridge" and key in BRIDGE_PARAMS:
            word = BRIDGE_PARAMS[key]
            if word == "stp":
                found[word] = str(value).lower() in TRUE_WORDS
            elif word in ("path-cost", "port-priority"):
                found[word] = _per_port(value)
            else:
                found[word] = _number(value)
            continue
        log.warning("netplan: %s: %s has no netplan equivalent; left out", iface.where, key)
    return found


def _route(route: Route) -> Dict[str, Any]:
    entry: Dict[str, Any] = {"to": route.destination}
    if route.gateway:
        entry["via"] = route.gateway
    else:
        entry["scope"] = "link"
    if route.metric is not None:
        entry["metric"] = route.metric
    return entry


def _device(iface: Interface, extra: List[Route], dns: Tuple[Tuple[str, ...], Tuple[str, ...]],
            log: logging.Logger) -> Dict[str, Any]:
    device: Dict[str, Any] = {}
    if iface.type == "physical" and iface.mac_address:
        device["match"] = {"macaddress": iface.mac_address}
        device["set-name"] = iface.name
    if iface.type in ("bond", "bridge"):
        device["interfaces"] = list(iface.members)
    if iface.type == "vlan":
        device["id"] = iface.vlan_id
        device["link"] = iface.vlan_link
    if iface.type != "physical" and iface.mac_address:
        device["macaddress"] = iface.mac_address
    if iface.mtu is not None:
        device["mtu"] = iface.mtu
    if iface.type in ("bond", "bridge"):
        parameters = _parameters(iface, log)
        if parameters:
            device["parameters"] = parameters
    elif iface.params:
        log.warning("netplan: %s: params %s are left out", iface.where, ", ".join(k for k, _ in iface.params))
    addresses: List[str] = []
    routes: List[Dict[str, Any]] = []
    servers: List[str] = []
    search: List[str] = []
    for subnet in iface.subnets:
        if subnet.type in ("dhcp", "dhcp4"):
            device["dhcp4"] = True
        elif subnet.type == "dhcp6":
            device["dhcp6"] = True
        if subnet.address:
            addresses.append(subnet.address)
        if subnet.gateway:
            default = Route("::/0" if subnet.is_ipv6 else "0.0.0.0/0", subnet.gateway, subnet.metric)
            routes.append(_route(default))
        routes += [_route(r) for r in subnet.routes]
        servers += [s for s in subnet.dns_nameservers if s not in servers]
        search += [s for s in subnet.dns_search if s not in search]
    if addresses:
        device["addresses"] = addresses
    routes += [_route(r) for r in extra]
    if routes:
        device["routes"] = routes
    servers += [s for s in dns[0] if s not in servers]
    search += [s for s in dns[1] if s not in search]
    if servers or search:
        device["nameservers"] = {k: v for k, v in (("addresses", servers), ("search", search)) if v}
    return device


def v1_to_v2(config: NetworkConfig, log: Optional[logging.Logger] = None) -> Dict[str, Any]:
    """The v2 (netplan) form of a parsed v1 config."""
    log = log or logging.getLogger(__name__)
    extra: Dict[str, List[Route]] = {}
    for route in config.routes:
        owner = route_owner(config.interfaces, route)
        if owner is not None:
            extra.setdefault(owner[0].name, []).append(route)
    static = {i.name for i in config.interfaces if any(s.is_static for s in i.subnets)}
    dhcp = {i.name for i in config.interfaces if any(s.is_dhcp for s in i.subnets)}
    global_dns = static or dhcp
    network: Dict[str, Any] = {"version": 2}
    for iface in render_order(config.interfaces):
        dns = (config.nameservers, config.search) if iface.name in global_dns else ((), ())
        section = network.setdefault(SECTIONS[iface.type], {})
        section[iface.name] = _device(iface, extra.get(iface.name, []), dns, log)
    return network


def render_netplan(config: NetworkConfig, log: Optional[logging.Logger] = None) -> str:
    network = dict(config.raw) if config.version == 2 else v1_to_v2(config, log)
    return HEADER + yaml.safe_dump({"network": network}, default_flow_style=False, sort_keys=False)
