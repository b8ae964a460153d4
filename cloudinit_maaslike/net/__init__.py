"""The network part: curtin's net-meta and apply_net, natively.

Discovery (`discover`), the ``network:`` config as a checked, frozen model
(`schema`, `model`; v2 checked lightly and passed through), net-meta's modes
(`modes`), and renderers with one job each: ENI (`eni`), udev rules
(`udev`), netplan (`netplan`), cloud-init drop-ins (`cloudcfg`) and the
parsed state (`state`).  `apply_network` writes a config into a target with
the renderer the target can read.  Only core modules are imported here.
"""

from __future__ import annotations

from .apply import apply_network
from .discover import Nic, discover_nics
from .errors import NetworkApplyError, NetworkError
from .model import NetworkConfig
from .schema import parse_network, validate_network

__all__ = [
    "NetworkApplyError",
    "NetworkConfig",
    "NetworkError",
    "Nic",
    "apply_network",
    "discover_nics",
    "parse_network",
    "validate_network",
]
