"""The three files the network stage leaves for later stages and image hooks.

- ``OUTPUT_NETWORK_CONFIG``: ``network: <config>``, always a config when the
  stage wrote one: v1 unless v2 was given (copy mode reads the target's ENI
  into v1; dhcp mode makes v1);
- ``OUTPUT_NETWORK_STATE``: the parsed state (see `state`);
- ``OUTPUT_INTERFACES``: the config as ENI (copy mode: the target's file as
  it is; empty for v2 and for ``config: disabled``, which ENI cannot say).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from .cloudcfg import network_document
from .eni import render_eni
from .model import NetworkConfig
from .state import render_network_state


@dataclass(frozen=True)
class StageOutputs:
    network_config: str
    network_state: str
    interfaces: str


def stage_outputs(network: Mapping[str, Any], config: NetworkConfig,
                  copied_interfaces: Optional[str] = None) -> StageOutputs:
    """Everything rendered up front, so nothing is written unless everything rendered."""
    if copied_interfaces is not None:
        interfaces = copied_interfaces
    elif config.version == 1 and not config.disabled:
        interfaces = render_eni(config)
    else:
        interfaces = ""
    return StageOutputs(network_document(network), render_network_state(config), interfaces)
