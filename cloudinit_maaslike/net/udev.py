"""Render /etc/udev/rules.d/70-persistent-net.rules: each physical interface keeps its name.

With ENI nothing else renames interfaces, so the installed system would name
them by the kernel's order; one rule per physical interface with a MAC pins
the names the config uses.  InfiniBand addresses are left out: udev matches
them differently.
"""

from __future__ import annotations

from typing import List

from .model import NetworkConfig, render_order

RULES_FILE = "etc/udev/rules.d/70-persistent-net.rules"
HEADER = "# Written by cloudinit-maaslike (curtin net-meta): interface names by MAC address.\n"


def udev_rule(name: str, mac: str) -> str:
    return f'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{{address}}=="{mac}", NAME="{name}"'


def render_udev_rules(config: NetworkConfig) -> str:
    rules: List[str] = [
        udev_rule(iface.name, iface.mac_address)
        for iface in render_order(config.physical())
        if iface.mac_address and len(iface.mac_address) == 17
    ]
    return HEADER + "".join(rule + "\n" for rule in rules)
