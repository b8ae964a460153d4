"""Which interface a top-level ``route`` entry belongs to.

v1 allows routes outside any interface; ifupdown (a ``post-up`` line) and
netplan (a ``routes:`` list) both need them on an interface.  The owner is the
interface with a static subnet that contains the gateway (it is on-link
there), else the first with DHCP of the same IP family.  A route with
neither is reported when the config is checked, not when it is rendered.
"""

from __future__ import annotations

import ipaddress
from typing import Optional, Sequence, Tuple

from .model import Interface, Route, render_order


def route_owner(interfaces: Sequence[Interface], route: Route) -> Optional[Tuple[Interface, int]]:
    """The interface and the position of its subnet that `route` is added with."""
    ordered = render_order(tuple(interfaces))
    if route.gateway:
        gateway = ipaddress.ip_address(route.gateway)
        for iface in ordered:
            for index, subnet in enumerate(iface.subnets):
                found = subnet.interface if subnet.is_static else None
                if found is not None and found.version == gateway.version and gateway in found.network:
                    return iface, index
    for iface in ordered:
        for index, subnet in enumerate(iface.subnets):
            if subnet.is_dhcp and subnet.is_ipv6 == route.is_ipv6:
                return iface, index
    return None
