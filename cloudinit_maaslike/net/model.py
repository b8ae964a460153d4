"""The network config as typed, frozen objects.

Version 1 (curtin's and MAAS's list of typed entries) is parsed into these so
the renderers read checked values, never raw dicts.  Version 2 (netplan's
shape) is not modelled: it is checked lightly and passed through verbatim in
`NetworkConfig.raw`, because every consumer (cloud-init, netplan) reads it
as is.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Tuple

INTERFACE_TYPES = ("physical", "bond", "bridge", "vlan")
ENTRY_TYPES = (*INTERFACE_TYPES, "nameserver", "route")
# `dhcp` is `dhcp4`, as curtin and cloud-init read it.
SUBNET_TYPES = ("dhcp", "dhcp4", "dhcp6", "static", "static6", "manual")
CONTROLS = ("auto", "hotplug", "manual")


@dataclass(frozen=True)
class Route:
    destination: str  # a network in CIDR form: 10.1.0.0/16, 0.0.0.0/0, ::/0
    gateway: Optional[str] = None
    metric: Optional[int] = None

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.destination)

    @property
    def is_ipv6(self) -> bool:
        return self.network.version == 6

    @property
    def is_default(self) -> bool:
        return self.network.prefixlen == 0


@dataclass(frozen=True)
class Subnet:
    type: str
    address: Optional[str] = None  # static: always with its prefix, 10.0.0.4/24
    gateway: Optional[str] = None
    dns_nameservers: Tuple[str, ...] = ()
    dns_search: Tuple[str, ...] = ()
    routes: Tuple[Route, ...] = ()
    control: str = "auto"
    mtu: Optional[int] = None
    metric: Optional[int] = None

    @property
    def is_static(self) -> bool:
        return self.type in ("static", "static6")

    @property
    def is_dhcp(self) -> bool:
        return self.type.startswith("dhcp")

    @property
    def is_ipv6(self) -> bool:
        if self.type in ("dhcp6", "static6"):
            return True
        return self.type == "static" and self.address is not None and ":" in self.address

    @property
    def interface(self) -> Optional[ipaddress.IPv4Interface | ipaddress.IPv6Interface]:
        return ipaddress.ip_interface(self.address) if self.address else None


@dataclass(frozen=True)
class Interface:
    name: str
    type: str  # one of INTERFACE_TYPES
    mac_address: Optional[str] = None  # lower case
    mtu: Optional[int] = None
    subnets: Tuple[Subnet, ...] = ()
    params: Tuple[Tuple[str, Any], ...] = ()  # bond-*, bridge_* or link options, in the given order
    members: Tuple[str, ...] = ()  # bond_interfaces or bridge_interfaces
    vlan_link: Optional[str] = None
    vlan_id: Optional[int] = None
    index: int = 0  # position in network.config, for messages

    @property
    def where(self) -> str:
        return f"network.config[{self.index}] (name: {self.name})"

    def param(self, key: str, default: Any = None) -> Any:
        return dict(self.params).get(key, default)


@dataclass(frozen=True)
class NetworkConfig:
    """A parsed ``network:`` value; `raw` is what was given, for pass-through."""

    version: int
    interfaces: Tuple[Interface, ...] = ()
    nameservers: Tuple[str, ...] = ()
    search: Tuple[str, ...] = ()
    routes: Tuple[Route, ...] = ()
    disabled: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def interface(self, name: str) -> Optional[Interface]:
        return next((i for i in self.interfaces if i.name == name), None)

    def master_of(self, name: str) -> Optional[Interface]:
        """The bond or bridge that has `name` as a member."""
        return next((i for i in self.interfaces if name in i.members), None)

    def physical(self) -> Tuple[Interface, ...]:
        return tuple(i for i in self.interfaces if i.type == "physical")


def render_order(interfaces: Tuple[Interface, ...]) -> Tuple[Interface, ...]:
    """curtin's order: physical < bond < bridge < vlan, then by name (members come up first)."""
    return tuple(sorted(interfaces, key=lambda i: (INTERFACE_TYPES.index(i.type), i.name)))
