"""A light check of a version 2 (netplan-shaped) network config.

v2 passes through verbatim to the target's cloud-init or netplan, which own
its full schema; here we only catch what would leave a machine unreachable
for sure: sections of the wrong shape, VLANs without id or link, and
members or links that name no declared device.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from ..config.checks import type_name
from ..config.problems import Problems
from .addresses import BadValue, whole_number

DEVICE_SECTIONS = ("ethernets", "bonds", "bridges", "vlans", "wifis", "tunnels", "vrfs", "modems",
                   "dummy-devices", "virtual-ethernets", "nm-devices")
TOP_KEYS = ("version", "renderer", *DEVICE_SECTIONS)


def check_v2(raw: Mapping[str, Any], path: str, problems: Problems) -> None:
    for key in raw:
        if key not in TOP_KEYS:
            problems.warn(f"{path}.{key}", "unknown key, passed through as is")
    declared: Dict[str, str] = {}
    for section in DEVICE_SECTIONS:
        devices = raw.get(section)
        if devices is None:
            continue
        if not isinstance(devices, dict):
            problems.error(f"{path}.{section}", f"expected a mapping of device names, got {type_name(devices)}")
            continue
        for name, device in devices.items():
            at = f"{path}.{section}.{name}"
            if not isinstance(device, dict):
                problems.error(at, f"expected a mapping, got {type_name(device)}")
            elif str(name) in declared:
                problems.error(at, f"{name!r} is also declared in {path}.{declared[str(name)]}")
            declared.setdefault(str(name), section)
    for section in ("bonds", "bridges", "vlans"):
        devices = raw.get(section)
        if not isinstance(devices, dict):
            continue
        for name, device in devices.items():
            if not isinstance(device, dict):
                continue
            at = f"{path}.{section}.{name}"
            if section == "vlans":
                _check_vlan(device, at, declared, problems)
                continue
            members = device.get("interfaces", [])
            if not isinstance(members, list):
                problems.error(f"{at}.interfaces", f"expected a list of device names, got {type_name(members)}")
                continue
            for position, member in enumerate(members):
                if str(member) not in declared:
                    problems.error(f"{at}.interfaces[{position}]", f"refers to {member!r}, which is not declared")


def _check_vlan(device: Mapping[str, Any], at: str, declared: Mapping[str, str], problems: Problems) -> None:
    if device.get("id") is None:
        problems.error(f"{at}.id", "required (1 to 4094)")
    else:
        try:
            whole_number(device["id"], 0, 4094)
        except BadValue as exc:
            problems.error(f"{at}.id", str(exc))
    link = device.get("link")
    if link is None:
        problems.error(f"{at}.link", "required: the device the VLAN is on")
    elif str(link) not in declared:
        problems.error(f"{at}.link", f"refers to {link!r}, which is not declared")
