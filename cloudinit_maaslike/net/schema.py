"""Parse and check a ``network:`` config (v1 into the model, v2 lightly) before any stage runs.

Every problem is reported at once with the entry's position and name, e.g.
``network.config[2] (name: bond0).bond_interfaces[1]: refers to 'eth9', which
no entry has as name``.  What curtin would only find when the installed
system boots (a bond member that does not exist, a gateway of the other IP
family, a route no interface can carry) is found here.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from ..config.checks import type_name
from ..config.problems import Problems
from .addresses import BadValue, mac_address, whole_number
from .model import ENTRY_TYPES, Interface, NetworkConfig, Route
from .routing import route_owner
from .subnets import addresses, optional_number, parse_route, parse_subnets, words
from .v2check import check_v2

_COMMON = ("id", "type", "name", "mtu", "subnets", "mac_address", "params")
ENTRY_KEYS: Dict[str, Tuple[str, ...]] = {
    "physical": (*_COMMON, "accept-ra", "wakeonlan"),
    "bond": (*_COMMON, "bond_interfaces"),
    "bridge": (*_COMMON, "bridge_interfaces"),
    "vlan": (*_COMMON, "vlan_link", "vlan_id"),
    "nameserver": ("id", "type", "address", "search", "interface"),
}
BOND_MODES = ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb",
              "balance-alb", "0", "1", "2", "3", "4", "5", "6")
STP_VALUES = ("0", "1", "on", "off", "yes", "no", "true", "false")
# What each kind of interface may have as members or link.
MEMBER_KINDS = {"bond": ("physical",), "bridge": ("physical", "bond", "vlan"),
                "vlan": ("physical", "bond", "bridge")}


def _name(entry: Mapping[str, Any], at: str, problems: Problems) -> Optional[str]:
    name = entry.get("name")
    if name is None or name == "":
        problems.error(f"{at}.name", "required")
        return None
    if not isinstance(name, str):
        problems.error(f"{at}.name", f"expected a string, got {type_name(name)}")
        return None
    if len(name) > 15 or any(c.isspace() or c in "/:" for c in name) or name in (".", ".."):
        problems.error(f"{at}.name", f"{name!r} is not an interface name (at most 15 characters, "
                                     "no spaces, '/' or ':')")
        return None
    return name


def _params(entry: Mapping[str, Any], kind: str, where: str, problems: Problems) -> Tuple[Tuple[str, Any], ...]:
    value = entry.get("params")
    if value is None:
        return ()
    if not isinstance(value, dict):
        problems.error(f"{where}.params", f"expected a mapping, got {type_name(value)}")
        return ()
    found: List[Tuple[str, Any]] = []
    for key, item in value.items():
        at = f"{where}.params.{key}"
        if isinstance(item, dict) or (isinstance(item, list) and any(isinstance(i, (dict, list)) for i in item)):
            problems.error(at, "expected a value or a list of values")
            continue
        if kind == "bond" and key == "bond-mode" and str(item) not in BOND_MODES:
            problems.error(at, f"unknown bond mode {item!r} ({', '.join(BOND_MODES[:7])})")
        if kind == "bridge" and key == "bridge_stp" and str(item).lower() not in STP_VALUES:
            problems.error(at, f"expected on/off or 0/1, got {item!r}")
        found.append((str(key), item))
    return tuple(found)


def _members(entry: Mapping[str, Any], key: str, where: str, problems: Problems) -> Tuple[str, ...]:
    value = entry.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        problems.error(f"{where}.{key}", f"expected a non-empty list of interface names, got {value!r}")
        return ()
    return tuple(value)


def _interface(entry: Mapping[str, Any], kind: str, index: int, path: str,
               problems: Problems) -> Optional[Interface]:
    at = f"{path}.config[{index}]"
    name = _name(entry, at, problems)
    if name is None:
        return None
    where = f"{at} (name: {name})"
    for key in entry:
        if key not in ENTRY_KEYS[kind]:
            problems.warn(f"{where}.{key}", "unknown key, ignored")
    mac: Optional[str] = None
    if entry.get("mac_address") not in (None, ""):
        try:
            mac = mac_address(entry["mac_address"])
        except BadValue as exc:
            problems.error(f"{where}.mac_address", str(exc))
    members: Tuple[str, ...] = ()
    if kind in ("bond", "bridge"):
        members = _members(entry, f"{kind}_interfaces", where, problems)
    vlan_id: Optional[int] = None
    vlan_link: Optional[str] = None
    if kind == "vlan":
        link = entry.get("vlan_link")
        if not isinstance(link, str) or not link:
            problems.error(f"{where}.vlan_link", "required: the name of the interface the VLAN is on")
        else:
            vlan_link = link
        if entry.get("vlan_id") is None:
            problems.error(f"{where}.vlan_id", "required (1 to 4094)")
        else:
            try:
                vlan_id = whole_number(entry["vlan_id"], 1, 4094)
            except BadValue as exc:
                problems.error(f"{where}.vlan_id", str(exc))
    return Interface(
        name=name, type=kind, mac_address=mac,
        mtu=optional_number(entry, "mtu", where, problems, 68, 65535),
        subnets=parse_subnets(entry.get("subnets"), f"{where}.subnets", problems),
        params=_params(entry, kind, where, problems),
        members=members, vlan_link=vlan_link, vlan_id=vlan_id, index=index,
    )


def _nameserver(entry: Mapping[str, Any], at: str, problems: Problems) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    for key in entry:
        if key not in ENTRY_KEYS["nameserver"]:
            problems.warn(f"{at}.{key}", "unknown key, ignored")
    if entry.get("address") in (None, "", []):
        problems.error(f"{at}.address", "required: the name servers' addresses")
    return addresses(entry.get("address"), f"{at}.address", problems), \
        words(entry.get("search"), f"{at}.search", problems)


def _check_links(path: str, interfaces: List[Interface], problems: Problems) -> None:
    by_name: Dict[str, Interface] = {}
    macs: Dict[str, Interface] = {}
    for iface in interfaces:
        if iface.name in by_name:
            problems.error(f"{path}.config[{iface.index}].name",
                           f"{iface.name!r} repeats {path}.config[{by_name[iface.name].index}]")
            continue
        by_name[iface.name] = iface
        if iface.type == "physical" and iface.mac_address:
            if iface.mac_address in macs:
                problems.error(f"{path}.config[{iface.index}] (name: {iface.name}).mac_address",
                               f"{iface.mac_address} is also the MAC of {macs[iface.mac_address].name!r}")
            macs.setdefault(iface.mac_address, iface)

    def ref(iface: Interface, key: str, target: str) -> bool:
        at = f"{path}.config[{iface.index}] (name: {iface.name}).{key}"
        found = by_name.get(target)
        if found is None:
            problems.error(at, f"refers to {target!r}, which no entry has as name")
            return False
        if found is iface:
            problems.error(at, f"{iface.name!r} refers to itself")
            return False
        allowed = MEMBER_KINDS[iface.type]
        if found.type not in allowed:
            problems.error(at, f"refers to {target!r}, a {found.type}, not a {' or '.join(allowed)}")
            return False
        return True

    owners: Dict[str, str] = {}
    vlans: Dict[Tuple[str, int], str] = {}
    for iface in interfaces:
        key = f"{iface.type}_interfaces"
        for position, member in enumerate(iface.members):
            if not ref(iface, f"{key}[{position}]", member):
                continue
            if member in owners and owners[member] != iface.name:
                problems.error(f"{path}.config[{iface.index}] (name: {iface.name}).{key}[{position}]",
                               f"{member!r} is already a member of {owners[member]!r}")
            owners.setdefault(member, iface.name)
        if iface.type == "vlan" and iface.vlan_link and ref(iface, "vlan_link", iface.vlan_link) \
                and iface.vlan_id is not None:
            pair = (iface.vlan_link, iface.vlan_id)
            if pair in vlans:
                problems.error(f"{path}.config[{iface.index}] (name: {iface.name}).vlan_id",
                               f"VLAN {iface.vlan_id} on {iface.vlan_link!r} is also {vlans[pair]!r}")
            vlans.setdefault(pair, iface.name)
    _check_cycles(path, interfaces, by_name, problems)


def _check_cycles(path: str, interfaces: List[Interface], by_name: Mapping[str, Interface],
                  problems: Problems) -> None:
    """A bridge holding a VLAN of itself can never come up."""
    def needs(iface: Interface) -> Tuple[str, ...]:
        return iface.members + ((iface.vlan_link,) if iface.vlan_link else ())

    reported: Set[str] = set()
    for start in interfaces:
        stack: List[Tuple[str, Tuple[str, ...]]] = [(start.name, (start.name,))]
        seen = {start.name}
        while stack:
            name, trail = stack.pop()
            current = by_name.get(name)
            for nxt in needs(current) if current else ():
                if nxt == start.name and len(trail) > 1 and start.name not in reported:
                    reported.update(trail)
                    problems.error(f"{path}.config[{start.index}] (name: {start.name})",
                                   f"depends on itself: {' -> '.join((*trail, nxt))}")
                elif nxt not in seen and nxt in by_name:
                    seen.add(nxt)
                    stack.append((nxt, (*trail, nxt)))


def _check_routes(path: str, interfaces: List[Interface], routes: List[Tuple[int, Route]],
                  problems: Problems) -> None:
    for index, route in routes:
        if route_owner(interfaces, route) is None:
            via = f" via {route.gateway}" if route.gateway else ""
            problems.error(f"{path}.config[{index}]",
                           f"no interface can carry the route to {route.destination}{via}: no static "
                           "subnet contains the gateway and no interface uses DHCP of that family")


def _parse_v1(raw: Mapping[str, Any], path: str, problems: Problems) -> NetworkConfig:
    for key in raw:
        if key not in ("version", "config"):
            problems.warn(f"{path}.{key}", "unknown key, ignored")
    config = raw.get("config")
    if not isinstance(config, list):
        problems.error(f"{path}.config", f"expected a list of entries or 'disabled', got {type_name(config)}")
        return NetworkConfig(1, raw=dict(raw))
    interfaces: List[Interface] = []
    nameservers: List[str] = []
    search: List[str] = []
    routes: List[Tuple[int, Route]] = []
    for index, entry in enumerate(config):
        at = f"{path}.config[{index}]"
        if not isinstance(entry, dict):
            problems.error(at, f"expected a mapping, got {type_name(entry)}")
            continue
        kind = entry.get("type")
        if kind not in ENTRY_TYPES:
            problems.error(f"{at}.type", f"unknown type {kind!r} ({', '.join(ENTRY_TYPES)})")
        elif kind == "nameserver":
            found, domains = _nameserver(entry, at, problems)
            nameservers += [a for a in found if a not in nameservers]
            search += [d for d in domains if d not in search]
        elif kind == "route":
            route = parse_route(entry, at, problems)
            if route is not None:
                routes.append((index, route))
        else:
            iface = _interface(entry, kind, index, path, problems)
            if iface is not None:
                interfaces.append(iface)
    _check_links(path, interfaces, problems)
    _check_routes(path, interfaces, routes, problems)
    return NetworkConfig(1, tuple(interfaces), tuple(nameservers), tuple(search),
                         tuple(r for _, r in routes), raw=dict(raw))


def parse_network(raw: Any, path: str = "network", problems: Optional[Problems] = None,
                  where: str = "network config") -> NetworkConfig:
    """The checked ``network:`` value; problems go to `problems` (raised if not given)."""
    own = problems is None
    problems = problems or Problems()
    result = NetworkConfig(1)
    if raw is None:
        pass
    elif not isinstance(raw, dict):
        problems.error(path, f"expected a mapping (version: 1, config: [...]), got {type_name(raw)}")
    else:
        version = raw.get("version")
        if isinstance(version, bool) or (version not in (1, 2)
                                         and not (version is None and raw.get("config") == "disabled")):
            got = "nothing" if version is None else repr(version)
            problems.error(f"{path}.version", f"expected 1 or 2, got {got}")
        elif raw.get("config") == "disabled":
            result = NetworkConfig(version or 1, disabled=True, raw=dict(raw))
        elif version == 2:
            check_v2(raw, path, problems)
            result = NetworkConfig(2, raw=dict(raw))
        else:
            result = _parse_v1(raw, path, problems)
    if own:
        problems.raise_if_any(where)
    return result


def validate_network(raw: Any, path: str, problems: Problems) -> NetworkConfig:
    """The engine's section validator for ``network``: the parsed section, kept for net-meta."""
    return parse_network(raw, path, problems)
