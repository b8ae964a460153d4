"""curtin net-meta's modes: which network config the install writes, and from what.

| mode       | network config                                                        |
|------------|-----------------------------------------------------------------------|
| `disabled` | none: the stage writes nothing (the target's own networking stays)    |
| `custom`   | the config's ``network:`` as given (any ``network:`` key forces it)   |
| `dhcp`     | v1, DHCPv4 on each chosen physical interface, matched by its MAC      |
| `copy`     | v1 read from the target's /etc/network/interfaces (copied verbatim to |
|            | OUTPUT_INTERFACES); lines it cannot carry are warned about            |
| `auto`     | `copy` when the target already has /etc/network/interfaces, else dhcp |

`dhcp` uses the ``--devices`` given (names, or the aliases ``connected``:
physical and up, ``configured``: up with a carrier, ``netboot``: the one
whose MAC is BOOTIF on the kernel command line); without any it uses
``connected``, where curtin would write an empty config.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import targetfs
from .discover import SYS_CLASS_NET, Nic, discover_nics
from .eniread import read_eni_file
from .errors import NetworkError

MODES = ("auto", "dhcp", "copy", "custom", "disabled")
DEVICE_ALIASES = ("connected", "configured", "netboot")
TARGET_ENI = "etc/network/interfaces"
_BOOTIF = re.compile(r"(?:^|\s)BOOTIF=(?:01-)?([0-9A-Fa-f]{2}(?:[-:][0-9A-Fa-f]{2}){5})(?:\s|$)")


@dataclass(frozen=True)
class MetaPlan:
    mode: str  # what ran: dhcp, copy, custom or disabled
    network: Optional[Dict[str, Any]]  # the ``network:`` value to write; None when disabled
    copied_interfaces: Optional[str] = None  # copy: the target's interfaces file, verbatim


def resolve_mode(requested: str, network: Any, target: str) -> str:
    """curtin's rules: disabled wins, then a ``network:`` key, then auto's choice."""
    if requested not in MODES:
        raise NetworkError(f"net-meta: unknown mode {requested!r} ({', '.join(MODES)})")
    if requested == "disabled":
        return "disabled"
    if network is not None:
        return "custom"
    if requested == "auto":
        return "copy" if targetfs.is_file(target, TARGET_ENI) else "dhcp"
    return requested


def boot_mac(cmdline_path: str) -> Optional[str]:
    """The MAC the machine PXE-booted from (BOOTIF=01-aa-bb-…), if the command line has it."""
    try:
        with open(cmdline_path, encoding="utf-8") as handle:
            found = _BOOTIF.search(handle.read())
    except OSError:
        return None
    return found.group(1).replace("-", ":").lower() if found else None


def select_devices(nics: Sequence[Nic], devices: Sequence[str], cmdline_path: str = "/proc/cmdline",
                   sysfs: str = SYS_CLASS_NET) -> Tuple[Nic, ...]:
    """The interfaces `--devices` names (aliases expanded), in discovery order, each once."""
    chosen: List[Nic] = []
    for device in devices or ("connected",):
        if device == "connected":
            found = [n for n in nics if n.is_up]
        elif device == "configured":
            found = [n for n in nics if n.is_up and n.has_carrier]
        elif device == "netboot":
            mac = boot_mac(cmdline_path)
            if mac is None:
                raise NetworkError("net-meta: --devices netboot: no BOOTIF= on the kernel command line "
                                   f"({cmdline_path})")
            found = [n for n in nics if n.mac == mac]
            if not found:
                raise NetworkError(f"net-meta: --devices netboot: no physical interface in {sysfs} has "
                                   f"the boot MAC {mac}")
        else:
            found = [n for n in nics if n.name == device]
            if not found:
                raise NetworkError(f"net-meta: --devices {device}: not a physical Ethernet interface in {sysfs} "
                                   f"(found: {', '.join(n.name for n in nics) or 'none'})")
        chosen += [n for n in found if n not in chosen]
    return tuple(sorted(chosen, key=lambda n: n.name))


def dhcp_network(nics: Sequence[Nic]) -> Dict[str, Any]:
    """v1: DHCPv4 on each interface, named and matched by its MAC."""
    config: List[Dict[str, Any]] = []
    for nic in nics:
        entry: Dict[str, Any] = {"type": "physical", "name": nic.name}
        if nic.mac:
            entry["mac_address"] = nic.mac
        entry["subnets"] = [{"type": "dhcp4"}]
        config.append(entry)
    return {"version": 1, "config": config}


def plan_net_meta(requested: str, network: Any, target: str, devices: Sequence[str] = (),
                  sysfs: str = SYS_CLASS_NET, cmdline_path: str = "/proc/cmdline",
                  log: Optional[logging.Logger] = None) -> MetaPlan:
    """What net-meta writes, worked out before anything is written."""
    log = log or logging.getLogger(__name__)
    mode = resolve_mode(requested, network, target)
    if mode == "disabled":
        return MetaPlan(mode, None)
    if mode == "custom":
        if network is None:
            raise NetworkError("net-meta custom: the install config has no network: key "
                               "(give one, or use the dhcp or auto mode)")
        return MetaPlan(mode, dict(network) if isinstance(network, dict) else network)
    if mode == "copy":
        path = targetfs.resolve(target, TARGET_ENI)
        if not os.path.isfile(path):
            raise NetworkError(f"net-meta copy: the target has no /{TARGET_ENI} ({path})")
        network, text = read_eni_file(path, target, log)
        log.warning("net-meta: copy mode: the network config is read from the target's /%s; "
                    "static files can be brittle across hardware changes", TARGET_ENI)
        return MetaPlan(mode, network, text)
    nics = select_devices(discover_nics(sysfs), devices, cmdline_path, sysfs)
    if not nics:
        log.warning("net-meta: dhcp mode found no physical interface that is up in %s; "
                    "the network config has no interfaces", sysfs)
    return MetaPlan(mode, dhcp_network(nics))
