"""Parse a v1 entry's ``subnets`` and any ``routes``, recording problems by path.

A subnet that cannot be used (an address without a prefix, a gateway of the
other IP family) is an error here, before any stage runs, instead of an
interface that silently stays down after the first boot.
"""

from __future__ import annotations

import ipaddress
from typing import Any, List, Mapping, Optional, Tuple

from ..config.checks import type_name
from ..config.problems import Problems
from .addresses import BadValue, ip_address, ip_interface, ip_network, whole_number
from .model import CONTROLS, SUBNET_TYPES, Route, Subnet

SUBNET_KEYS = ("type", "address", "netmask", "gateway", "dns_nameservers", "dns_search", "routes",
               "control", "mtu", "metric")
ROUTE_KEYS = ("destination", "network", "netmask", "gateway", "metric", "type", "id")


def words(value: Any, path: str, problems: Problems) -> Tuple[str, ...]:
    """A list of strings, or one string of space-separated words."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    problems.error(path, f"expected a list of strings, got {type_name(value)}")
    return ()


def addresses(value: Any, path: str, problems: Problems) -> Tuple[str, ...]:
    found: List[str] = []
    for i, word in enumerate(words(value, path, problems)):
        try:
            found.append(ip_address(word))
        except BadValue as exc:
            problems.error(f"{path}[{i}]", str(exc))
    return tuple(found)


def optional_number(entry: Mapping[str, Any], key: str, path: str, problems: Problems,
                    low: int, high: Optional[int] = None) -> Optional[int]:
    value = entry.get(key)
    if value is None:
        return None
    try:
        return whole_number(value, low, high)
    except BadValue as exc:
        problems.error(f"{path}.{key}", str(exc))
        return None


def parse_route(entry: Any, path: str, problems: Problems) -> Optional[Route]:
    """A route: `destination` (CIDR), or curtin's older `network` + `netmask`."""
    if not isinstance(entry, dict):
        problems.error(path, f"expected a mapping, got {type_name(entry)}")
        return None
    for key in entry:
        if key not in ROUTE_KEYS:
            problems.warn(f"{path}.{key}", "unknown key, ignored")
    key = "destination" if "destination" in entry else "network"
    gateway: Optional[str] = None
    if entry.get("gateway") is not None:
        try:
            gateway = ip_address(entry["gateway"])
        except BadValue as exc:
            problems.error(f"{path}.gateway", str(exc))
    if entry.get(key) in (None, ""):
        problems.error(f"{path}.destination", "required (a network such as 10.1.0.0/16)")
        return None
    destination = entry[key]
    if destination == "default":
        destination = "::/0" if gateway and ":" in gateway else "0.0.0.0/0"
    try:
        network = ip_network(destination, entry.get("netmask"))
    except BadValue as exc:
        problems.error(f"{path}.{key}", str(exc))
        return None
    if gateway and ipaddress.ip_address(gateway).version != ipaddress.ip_network(network).version:
        problems.error(f"{path}.gateway", f"{gateway} and the destination {network} are of different IP families")
        return None
    return Route(network, gateway, optional_number(entry, "metric", path, problems, 0))


def parse_routes(value: Any, path: str, problems: Problems) -> Tuple[Route, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.error(path, f"expected a list, got {type_name(value)}")
        return ()
    found = (parse_route(item, f"{path}[{i}]", problems) for i, item in enumerate(value))
    return tuple(r for r in found if r is not None)


def _static(entry: Mapping[str, Any], kind: str, path: str, problems: Problems) -> Optional[str]:
    if entry.get("address") in (None, ""):
        problems.error(f"{path}.address", f"required for a {kind} subnet")
        return None
    try:
        address = ip_interface(entry["address"], entry.get("netmask"))
    except BadValue as exc:
        problems.error(f"{path}.address", str(exc))
        return None
    if kind == "static6" and ":" not in address:
        problems.error(f"{path}.address", f"{address} is IPv4; a static6 subnet needs an IPv6 address")
        return None
    return address


def parse_subnet(entry: Any, path: str, problems: Problems) -> Optional[Subnet]:
    if not isinstance(entry, dict):
        problems.error(path, f"expected a mapping, got {type_name(entry)}")
        return None
    for key in entry:
        if key not in SUBNET_KEYS:
            problems.warn(f"{path}.{key}", "unknown key, ignored")
    kind = entry.get("type")
    if kind not in SUBNET_TYPES:
        problems.error(f"{path}.type", f"unknown subnet type {kind!r} ({', '.join(SUBNET_TYPES)})")
        return None
    address = _static(entry, kind, path, problems) if kind in ("static", "static6") else None
    if address is None and kind not in ("static", "static6"):
        for key in ("address", "netmask", "gateway"):
            if entry.get(key) is not None:
                problems.warn(f"{path}.{key}", f"ignored: a {kind} subnet has no static address")
    gateway: Optional[str] = None
    if address and entry.get("gateway") not in (None, ""):
        try:
            gateway = ip_address(entry["gateway"])
        except BadValue as exc:
            problems.error(f"{path}.gateway", str(exc))
        else:
            if ipaddress.ip_address(gateway).version != ipaddress.ip_interface(address).version:
                problems.error(f"{path}.gateway", f"{gateway} and the address {address} are of different IP families")
                gateway = None
    control = entry.get("control", "auto")
    if control not in CONTROLS:
        problems.error(f"{path}.control", f"expected one of {', '.join(CONTROLS)}, got {control!r}")
        control = "auto"
    return Subnet(
        type=kind,
        address=address,
        gateway=gateway,
        dns_nameservers=addresses(entry.get("dns_nameservers"), f"{path}.dns_nameservers", problems),
        dns_search=words(entry.get("dns_search"), f"{path}.dns_search", problems),
        routes=parse_routes(entry.get("routes"), f"{path}.routes", problems),
        control=str(control),
        mtu=optional_number(entry, "mtu", path, problems, 68, 65535),
        metric=optional_number(entry, "metric", path, problems, 0),
    )


def parse_subnets(value: Any, path: str, problems: Problems) -> Tuple[Subnet, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.error(path, f"expected a list, got {type_name(value)}")
        return ()
    found = (parse_subnet(item, f"{path}[{i}]", problems) for i, item in enumerate(value))
    return tuple(s for s in found if s is not None)
