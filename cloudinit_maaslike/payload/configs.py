"""The payload's configs as data, merged the way curtin merges them.

Curtin applies ``--config`` and ``--set`` in command-line order, interleaved;
`merged_config` follows `Payload.options` so a ``--set`` between two configs
lands where curtin would put it.  YAML errors name the member and the line,
never the offending text (configs carry OAuth tokens).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..config.bounded import NodeBudget, load_yaml_mapping
from ..config.merge import apply_set, builtin_config, merge_config, merge_configs
from .model import Payload


def parse_config_text(text: str, where: str, budget: Optional[NodeBudget] = None) -> Dict[str, Any]:
    """One config document as a mapping (empty documents are empty mappings).

    Read by the bounded loader: past its size, depth, alias or node limits
    the config is refused with a `ConfigError` naming the member and limit.
    """
    return load_yaml_mapping(text, where, budget=budget)


def loaded_configs(payload: Payload, budget: Optional[NodeBudget] = None) -> List[Dict[str, Any]]:
    """Each config of the payload, parsed, in command order; all of them
    together stay within one node budget (they end up in one merged config)."""
    budget = NodeBudget() if budget is None else budget
    return [parse_config_text(text, name, budget) for name, text in payload.configs]


def merged_config(payload: Payload) -> Dict[str, Any]:
    """The install config curtin would build from this payload's command line."""
    budget = NodeBudget()
    loaded = loaded_configs(payload, budget)
    in_order = [value for kind, value in payload.options if kind == "config"]
    if not payload.options or len(in_order) != len(loaded):  # built by hand, no options
        return merge_configs(loaded, payload.sets, payload.sources, budget=budget)
    cfg = builtin_config()
    remaining = iter(loaded)
    for kind, value in payload.options:
        if kind == "config":
            merge_config(cfg, next(remaining))
        else:
            apply_set(cfg, value, budget)
    return merge_configs((), (), payload.sources, base=cfg)
