"""The payload's configs as data, merged the way curtin merges them.

Curtin applies ``--config`` and ``--set`` in command-line order, interleaved;
`merged_config` follows `Payload.options` so a ``--set`` between two configs
lands where curtin would put it.  YAML errors name the member and the line,
never the offending text (configs carry OAuth tokens).
"""

from __future__ import annotations

from typing import Any, Dict, List

from ..config.merge import apply_set, builtin_config, merge_config, merge_configs
from ..errors import ConfigError
from .model import Payload


def parse_config_text(text: str, where: str) -> Dict[str, Any]:
    """One config document as a mapping (empty documents are empty mappings)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        loaded = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else "(document)"
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(line, f"not valid YAML: {problem}", where) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError("(document)", f"expected a mapping, got {type(loaded).__name__}", where)
    return loaded


def loaded_configs(payload: Payload) -> List[Dict[str, Any]]:
    """Each config of the payload, parsed, in command order."""
    return [parse_config_text(text, name) for name, text in payload.configs]


def merged_config(payload: Payload) -> Dict[str, Any]:
    """The install config curtin would build from this payload's command line."""
    loaded = loaded_configs(payload)
    in_order = [value for kind, value in payload.options if kind == "config"]
    if not payload.options or len(in_order) != len(loaded):  # built by hand, no options
        return merge_configs(loaded, payload.sets, payload.sources)
    cfg = builtin_config()
    remaining = iter(loaded)
    for kind, value in payload.options:
        if kind == "config":
            merge_config(cfg, next(remaining))
        else:
            apply_set(cfg, value)
    return merge_configs((), (), payload.sources, base=cfg)
