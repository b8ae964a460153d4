"""``OUTPUT_NETWORK_STATE``: the parsed config as plain YAML, for hooks and operators.

curtin names the file but never fills it; we write what the renderers work
from: interfaces (keyed by name, in render order, with normalised addresses,
bond membership and routes), global DNS and routes.  A v2 config is kept as
given, since it is not parsed into the model.
"""

from __future__ import annotations

from typing import Any, Dict

import yaml

from .model import Interface, NetworkConfig, Route, Subnet, render_order


def _route(route: Route) -> Dict[str, Any]:
    return {"destination": route.destination, "gateway": route.gateway, "metric": route.metric}


def _subnet(subnet: Subnet) -> Dict[str, Any]:
    found: Dict[str, Any] = {"type": subnet.type, "control": subnet.control}
    for key in ("address", "gateway", "mtu", "metric"):
        if getattr(subnet, key) is not None:
            found[key] = getattr(subnet, key)
    if subnet.dns_nameservers:
        found["dns_nameservers"] = list(subnet.dns_nameservers)
    if subnet.dns_search:
        found["dns_search"] = list(subnet.dns_search)
    if subnet.routes:
        found["routes"] = [_route(r) for r in subnet.routes]
    return found


def _interface(config: NetworkConfig, iface: Interface) -> Dict[str, Any]:
    found: Dict[str, Any] = {"type": iface.type, "name": iface.name, "mac_address": iface.mac_address,
                             "mtu": iface.mtu, "subnets": [_subnet(s) for s in iface.subnets]}
    master = config.master_of(iface.name)
    if master is not None:
        found[f"{master.type}_master"] = master.name
    if iface.members:
        found[f"{iface.type}_interfaces"] = list(iface.members)
    if iface.vlan_link:
        found.update(vlan_link=iface.vlan_link, vlan_id=iface.vlan_id)
    if iface.params:
        found["params"] = dict(iface.params)
    return found


def network_state(config: NetworkConfig) -> Dict[str, Any]:
    if config.disabled:
        return {"version": config.version, "disabled": True}
    if config.version == 2:
        return {"version": 2, "config": dict(config.raw)}
    return {
        "version": 1,
        "interfaces": {i.name: _interface(config, i) for i in render_order(config.interfaces)},
        "dns": {"nameservers": list(config.nameservers), "search": list(config.search)},
        "routes": [_route(r) for r in config.routes],
    }


def render_network_state(config: NetworkConfig) -> str:
    return yaml.safe_dump(network_state(config), default_flow_style=False, sort_keys=False)
