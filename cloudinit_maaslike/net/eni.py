"""Render a v1 network config as ifupdown's /etc/network/interfaces, laid out as curtin does.

- ``auto lo`` / ``iface lo inet loopback`` first, carrying the global
  ``dns-nameservers`` and ``dns-search``;
- interfaces in the order physical < bond < bridge < vlan, then by name, so
  bond members and VLAN links exist before what is built on them;
- one stanza per subnet: the first ``auto NAME``, later ones
  ``# control-alias NAME`` (ifupdown merges stanzas of the same name; older
  versions refuse a second ``auto``); ``hotplug`` gives ``allow-hotplug``;
- in a stanza: address, gateway, dns-*, the subnet's mtu/metric, then (first
  stanza only) the interface's own lines: ``hwaddress ether`` (bonds,
  bridges, VLANs), mtu, bond/bridge/VLAN options, then routes as
  ``post-up route add … || true`` with a matching ``pre-down route del``;
- an interface without subnets gets ``iface NAME inet manual`` (with
  ``auto`` only for bond members and bonds, as ifenslave wants);
- a trailing ``source /etc/network/interfaces.d/*.cfg``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Set, Tuple

from .addresses import netmask_of
from .model import Interface, NetworkConfig, Route, Subnet, render_order
from .routing import route_owner

MULTILINE = ("bridge_pathcost", "bridge_portprio", "bridge_waitport")
TRUE_WORDS = ("1", "on", "yes", "true")
SOURCE_LINE = "source /etc/network/interfaces.d/*.cfg"


def _value(key: str, value: Any) -> str:
    if key == "bridge_stp":
        return "on" if str(value).lower() in TRUE_WORDS else "off"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return " ".join(_value(key, v) for v in value)
    return str(value)


def _param_lines(params: Tuple[Tuple[str, Any], ...]) -> List[str]:
    lines: List[str] = []
    for key, value in params:
        if value is None or value == "" or value == []:
            continue
        values = value if key in MULTILINE and isinstance(value, list) else [value]
        lines += [f"    {key} {_value(key, v)}" for v in values]
    return lines


def route_lines(route: Route) -> List[str]:
    """``post-up route add`` and ``pre-down route del``; ``|| true`` so ifup/ifdown go on if they fail."""
    if route.is_default:
        where = "-A inet6 default" if route.is_ipv6 else "default"
    elif route.is_ipv6:
        where = f"-A inet6 {route.destination}"
    else:
        where = f"-net {route.network.network_address} netmask {netmask_of(route.destination)}"
    tail = (f" gw {route.gateway}" if route.gateway else "") + \
        (f" metric {route.metric}" if route.metric is not None else "")
    return [f"    post-up route add {where}{tail} || true", f"    pre-down route del {where}{tail} || true"]


def _interface_lines(config: NetworkConfig, iface: Interface) -> List[str]:
    lines: List[str] = []
    if iface.type != "physical" and iface.mac_address:
        lines.append(f"    hwaddress ether {iface.mac_address}")
    if iface.mtu is not None:
        lines.append(f"    mtu {iface.mtu}")
    master = config.master_of(iface.name)
    if master is not None and master.type == "bond":
        lines.append(f"    bond-master {master.name}")
        lines += _param_lines(master.params)
    if iface.type == "bond":
        lines += _param_lines(iface.params)
        lines.append("    bond-slaves none")
    elif iface.type == "bridge":
        lines.append(f"    bridge_ports {' '.join(iface.members)}")
        lines += _param_lines(iface.params)
    elif iface.type == "vlan":
        lines += [f"    vlan-raw-device {iface.vlan_link}", f"    vlan-id {iface.vlan_id}"]
        lines += _param_lines(iface.params)
    else:
        lines += _param_lines(iface.params)
    return lines


def _subnet_lines(subnet: Subnet) -> List[str]:
    lines: List[str] = []
    if subnet.address:
        lines.append(f"    address {subnet.address}")
    if subnet.gateway:
        lines.append(f"    gateway {subnet.gateway}")
    if subnet.dns_nameservers:
        lines.append(f"    dns-nameservers {' '.join(subnet.dns_nameservers)}")
    if subnet.dns_search:
        lines.append(f"    dns-search {' '.join(subnet.dns_search)}")
    if subnet.mtu is not None:
        lines.append(f"    mtu {subnet.mtu}")
    if subnet.metric is not None:
        lines.append(f"    metric {subnet.metric}")
    return lines


def _method(subnet: Subnet) -> str:
    return "dhcp" if subnet.is_dhcp else "static" if subnet.is_static else "manual"


def render_eni(config: NetworkConfig) -> str:
    extra: Dict[Tuple[str, int], List[Route]] = {}
    for route in config.routes:
        owner = route_owner(config.interfaces, route)
        if owner is not None:  # parse_network reports routes without one
            extra.setdefault((owner[0].name, owner[1]), []).append(route)
    lo = ["auto lo", "iface lo inet loopback"]
    if config.nameservers:
        lo.append(f"    dns-nameservers {' '.join(config.nameservers)}")
    if config.search:
        lo.append(f"    dns-search {' '.join(config.search)}")
    blocks: List[List[str]] = [lo]
    autos: Set[str] = set()
    for iface in render_order(config.interfaces):
        name = iface.name
        if not iface.subnets:
            bonded = iface.type == "bond" or (config.master_of(name) or iface).type == "bond"
            blocks.append(([f"auto {name}"] if bonded else []) + [f"iface {name} inet manual"]
                          + _interface_lines(config, iface))
            continue
        for index, subnet in enumerate(iface.subnets):
            if subnet.control == "auto":
                head = f"# control-alias {name}" if name in autos else f"auto {name}"
                autos.add(name)
            elif subnet.control == "hotplug":
                head = f"allow-hotplug {name}"
            else:
                head = f"# control-{subnet.control} {name}"
            block = [head, f"iface {name} {'inet6' if subnet.is_ipv6 else 'inet'} {_method(subnet)}"]
            block += _subnet_lines(subnet)
            if index == 0:
                block += _interface_lines(config, iface)
            for route in (*subnet.routes, *extra.get((name, index), ())):
                block += route_lines(route)
            blocks.append(block)
    return "\n\n".join("\n".join(block) for block in blocks) + f"\n\n{SOURCE_LINE}\n"
