"""Read an ifupdown interfaces(5) file into a v1 network config, for net-meta's copy mode.

curtin's copy mode only copies the file; we also read it so that
OUTPUT_NETWORK_CONFIG always holds a network config for image hooks.  The
common stanzas (static, dhcp, manual; bonds, bridges, VLANs; dns-*,
hwaddress, mtu) are carried over; every other line is named in a warning
(``file:line``), never dropped silently.  ``source`` and
``source-directory`` are followed inside the target, not on the host.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .. import targetfs
from .errors import NetworkError

_SOURCE_DIR_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
_DOTTED_VLAN = re.compile(r"^(.+)\.(\d+)$")
_VLAN_NAME = re.compile(r"^vlan(\d+)$")
CARRIED = ("address", "netmask", "gateway", "dns-nameservers", "dns-search", "hwaddress", "mtu", "metric",
           "vlan-raw-device", "vlan-id")
MAX_DEPTH = 8


@dataclass
class _Stanza:
    name: str
    family: str
    method: str
    where: str
    options: List[Tuple[str, str, str]] = field(default_factory=list)  # key, value, where


def _key(word: str) -> str:
    """One spelling per option: bond-*, bridge_*, vlan-raw-device."""
    key = word.lower()
    if key.startswith(("bond-", "bond_")):
        return "bond-" + key[5:].replace("_", "-")
    if key.startswith(("bridge-", "bridge_")):
        return "bridge_" + key[7:].replace("-", "_")
    if key in ("vlan_raw_device", "vlan-raw-device", "vlan_id", "vlan-id"):
        return key.replace("_", "-")
    return key


def _inside(root: str, path: str, relative_to: str) -> str:
    """A sourced file, resolved inside the target as the booted system would."""
    if not path.startswith("/"):
        path = os.path.join("/", os.path.relpath(relative_to, os.path.realpath(root)), path)
    return targetfs.resolve(root, path)


def _lines(path: str, root: str, shown: str, depth: int = 0) -> Iterator[Tuple[str, str]]:
    """(where, line) of the file and what it sources, continuation lines joined."""
    if depth > MAX_DEPTH:
        raise NetworkError(f"{shown}: source nesting deeper than {MAX_DEPTH} (a loop?)")
    path = targetfs.resolve(root, os.path.relpath(path, os.path.realpath(root)))
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError as exc:
        raise NetworkError(f"cannot read {shown}: {exc.strerror or exc}")
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        line, pending = (pending + raw).strip(), ""
        words = line.split()
        if words[:1] == ["source"] and len(words) == 2:
            for found in sorted(glob.glob(_inside(root, words[1], os.path.dirname(path)))):
                yield from _lines(found, root, "/" + os.path.relpath(found, os.path.realpath(root)), depth + 1)
        elif words[:1] == ["source-directory"] and len(words) == 2:
            directory = _inside(root, words[1], os.path.dirname(path))
            names = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
            for name in names:
                found = os.path.join(directory, name)
                if _SOURCE_DIR_NAME.match(name) and os.path.isfile(found):
                    yield from _lines(found, root, "/" + os.path.relpath(found, os.path.realpath(root)), depth + 1)
        else:
            yield f"{shown}:{start}", line


def _stanzas(path: str, root: str, shown: str,
             log: logging.Logger) -> Tuple[List[_Stanza], Dict[str, str]]:
    stanzas: List[_Stanza] = []
    control: Dict[str, str] = {}
    current: Optional[_Stanza] = None
    for where, line in _lines(path, root, shown):
        if not line or line.startswith("#"):
            continue
        words = line.split()
        head = words[0]
        if head in ("auto", "allow-auto"):
            control.update(dict.fromkeys(words[1:], "auto"))
            current = None
        elif head.startswith("allow-"):
            for name in words[1:]:
                control.setdefault(name, "hotplug")
            current = None
        elif head == "iface" and len(words) >= 4:
            current = _Stanza(words[1], words[2], words[3], where)
            stanzas.append(current)
        elif head in ("mapping", "rename", "iface", "no-auto-down", "no-scripts"):
            log.warning("%s: %r is not carried into the network config", where, line)
            current = None
        elif current is None:
            log.warning("%s: %r is not carried into the network config", where, line)
        else:
            current.options.append((_key(head), " ".join(words[1:]), where))
    return stanzas, control


def parse_route_command(command: str) -> Optional[Dict[str, Any]]:
    """A v1 route from ``route add …`` as curtin and we write it, or None."""
    words = command.replace("|| true", "").split()
    if words[:2] != ["route", "add"]:
        return None
    words = words[2:]
    six = words[:2] == ["-A", "inet6"]
    words = words[2:] if six else words
    route: Dict[str, Any] = {}
    netmask: Optional[str] = None
    while words:
        word = words.pop(0)
        if word == "default":
            route["destination"] = "::/0" if six else "0.0.0.0/0"
        elif word in ("-net", "-host", "gw", "metric", "netmask") and words:
            value = words.pop(0)
            if word in ("-net", "-host"):
                route["destination"] = value
            elif word == "netmask":
                netmask = value
            else:
                route["gateway" if word == "gw" else "metric"] = value
        elif "destination" not in route and not word.startswith("-"):
            route["destination"] = word
        else:
            return None
    if "destination" not in route:
        return None
    if netmask is not None:
        route["netmask"] = netmask
    return route


def _subnet(stanza: _Stanza, control: str, log: logging.Logger) -> Dict[str, Any]:
    opts = {k: v for k, v, _ in stanza.options}
    six = stanza.family == "inet6"
    subnet: Dict[str, Any]
    if stanza.method == "static":
        subnet = {"type": "static6" if six else "static", "address": opts.get("address")}
        if "netmask" in opts:
            subnet["netmask"] = opts["netmask"]
        if "gateway" in opts:
            subnet["gateway"] = opts["gateway"]
        if "dns-nameservers" in opts:
            subnet["dns_nameservers"] = opts["dns-nameservers"].split()
        if "dns-search" in opts:
            subnet["dns_search"] = opts["dns-search"].split()
    elif stanza.method == "dhcp":
        subnet = {"type": "dhcp6" if six else "dhcp4"}
    else:
        if stanza.method != "manual":
            log.warning("%s: method %s %s is carried as manual", stanza.where, stanza.family, stanza.method)
        subnet = {"type": "manual"}
    if "metric" in opts and stanza.method == "static":
        subnet["metric"] = opts["metric"]
    routes = [parse_route_command(v) for k, v, _ in stanza.options if k in ("post-up", "up")]
    if any(routes) and stanza.method != "loopback":
        subnet["routes"] = [r for r in routes if r]
    subnet["control"] = control
    return subnet


def _vlan(name: str, opts: Dict[str, str]) -> Tuple[Optional[str], Optional[str]]:
    link = opts.get("vlan-raw-device")
    vid = opts.get("vlan-id")
    dotted = _DOTTED_VLAN.match(name)
    if dotted:
        link, vid = link or dotted.group(1), vid or dotted.group(2)
    numbered = _VLAN_NAME.match(name)
    if numbered and link:
        vid = vid or numbered.group(1)
    return link, vid


def _is_route_line(key: str, value: str) -> bool:
    """A route line carried over (its ``route del`` twin goes with it)."""
    if key in ("post-up", "up"):
        return parse_route_command(value) is not None
    return key in ("pre-down", "down") and value.split()[:2] == ["route", "del"]


def eni_to_v1(stanzas: List[_Stanza], control: Dict[str, str], log: logging.Logger) -> Dict[str, Any]:
    names: List[str] = []
    by_name: Dict[str, List[_Stanza]] = {}
    for stanza in stanzas:
        if stanza.name not in by_name:
            names.append(stanza.name)
        by_name.setdefault(stanza.name, []).append(stanza)
    opts: Dict[str, Dict[str, str]] = {n: {} for n in names}
    for name in names:  # the first of a repeated option wins
        for stanza in by_name[name]:
            for key, value, _ in stanza.options:
                opts[name].setdefault(key, value)
    masters = {n: opts[n]["bond-master"] for n in names if "bond-master" in opts[n]}
    entries: List[Dict[str, Any]] = []
    dns: Dict[str, List[str]] = {"address": [], "search": []}
    for name in names:
        mine = opts[name]
        if name == "lo":
            dns["address"] += mine.get("dns-nameservers", "").split()
            dns["search"] += mine.get("dns-search", "").split()
            continue
        entry: Dict[str, Any] = {"name": name}
        link, vid = _vlan(name, mine)
        ports = [p for p in mine.get("bridge_ports", "").split() if p != "none"]
        slaves = [s for s in mine.get("bond-slaves", "").split() if s != "none"]
        if "bridge_ports" in mine:
            entry.update(type="bridge", bridge_interfaces=ports,
                         params={k: v for k, v in mine.items() if k.startswith("bridge_") and k != "bridge_ports"})
        elif slaves or ("bond-mode" in mine and "bond-master" not in mine) or name in masters.values():
            entry.update(type="bond", bond_interfaces=slaves or [n for n, m in masters.items() if m == name],
                         params={k: v for k, v in mine.items()
                                 if k.startswith("bond-") and k not in ("bond-master", "bond-slaves")})
        elif link and vid:
            entry.update(type="vlan", vlan_link=link, vlan_id=vid)
        else:
            entry["type"] = "physical"
        if "hwaddress" in mine:
            entry["mac_address"] = mine["hwaddress"].split()[-1]
        if "mtu" in mine:
            entry["mtu"] = mine["mtu"]
        entry["subnets"] = [_subnet(s, control.get(name, "manual"), log) for s in by_name[name]]
        for stanza in by_name[name]:
            for key, value, where in stanza.options:
                used = key in CARRIED or (entry["type"] == "bridge" and key.startswith("bridge_")) \
                    or key.startswith("bond-") or _is_route_line(key, value)
                if not used:
                    log.warning("%s: '%s %s' is not carried into the network config", where, key, value)
        entries.append(entry)
    declared = set(names)
    for entry in list(entries):
        for member in entry.get("bond_interfaces", []) + entry.get("bridge_interfaces", []):
            if member not in declared:
                declared.add(member)
                entries.insert(0, {"type": "physical", "name": member, "subnets": [{"type": "manual"}]})
    if dns["address"]:
        entries.append({"type": "nameserver", **{k: v for k, v in dns.items() if v}})
    return {"version": 1, "config": entries}


def read_eni_file(path: str, root: str, log: logging.Logger) -> Tuple[Dict[str, Any], str]:
    """The file as a v1 network config, and its text as it is."""
    shown = "/" + os.path.relpath(path, root)
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    stanzas, control = _stanzas(path, root, shown, log)
    return eni_to_v1(stanzas, control, log), text
