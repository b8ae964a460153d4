"""Merge install configs exactly as curtin does, so every existing config works.

Rules (reference/curtin.md §1):

* configs merge in command-line order over the built-in defaults;
* dicts merge recursively; any other value, lists included, replaces the old;
* ``--set a/b=v`` builds nested dicts, and ``json:`` on the key makes the value
  JSON (``--set 'json:a/b=[1]'``, curtin's ``cmdarg2cfg``);
* positional sources become ``sources["NN_cmdline"]`` (NN = how many sources
  there already were);
* the legacy top-level ``http_proxy`` moves to ``proxy.http_proxy``.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ..errors import ConfigError
from .bounded import DEFAULT_LIMITS, DocumentLimitError, NodeBudget, load_json

LOG = logging.getLogger(__name__)

STAGES = ("early", "partitioning", "network", "extract", "curthooks", "hook", "late")

_BUILTIN: Dict[str, Any] = {
    "stages": list(STAGES),
    "early_commands": {},
    "partitioning_commands": {"builtin": ["curtin", "block-meta", "simple"]},
    "network_commands": {"builtin": ["curtin", "net-meta", "auto"]},
    "extract_commands": {"builtin": ["curtin", "extract"]},
    "curthooks_commands": {"builtin": ["curtin", "curthooks"]},
    "hook_commands": {"builtin": ["curtin", "hook"]},
    "late_commands": {"builtin": []},
    "install": {
        "log_file": "/var/log/curtin/install.log",
        "error_tarfile": "/var/log/curtin/curtin-error-logs.tar",
        "post_files": ["/var/log/curtin/install.log"],
        "save_install_config": "/root/curtin-install-cfg.yaml",
        "save_install_log": "/root/curtin-install.log",
    },
    "sources": {},
    "proxy": {},
}


def builtin_config() -> Dict[str, Any]:
    """A fresh copy of the defaults every install starts from."""
    return copy.deepcopy(_BUILTIN)


def merge_config(base: Dict[str, Any], update: Mapping[str, Any]) -> Dict[str, Any]:
    """Merge `update` into `base` in place (curtin's rule) and return `base`."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge_config(base[key], value)
        else:
            base[key] = copy.deepcopy(value) if isinstance(value, (dict, list)) else value
    return base


JSON_PREFIX = "json:"


def split_set(assignment: str) -> Tuple[str, str, bool]:
    """(key path, value text, is JSON) of one ``--set``, in curtin's form or our old one.

    curtin (``config.py: cmdarg2cfg``) puts ``json:`` on the key:
    ``--set 'json:stages=["extract"]'``; there ``stages=json:[…]`` is the
    literal string ``json:[…]``.  We used to read the prefix on the value;
    that old form is still read as JSON, with a warning, because reading it
    as a string now would silently change what existing commands do.
    """
    path, sep, raw = assignment.partition("=")
    if not sep:
        raise ConfigError("--set", f"expected KEY/PATH=VALUE, got {assignment!r}")
    if path.startswith(JSON_PREFIX):
        return path[len(JSON_PREFIX):], raw, True
    if raw.startswith(JSON_PREFIX):
        LOG.warning("--set %s=json:…: curtin reads that as the string 'json:…'; write --set 'json:%s=…'"
                    " (the old form still works here, for now)", path, path)
        return path, raw[len(JSON_PREFIX):], True
    return path, raw, False


def curtin_set(assignment: str) -> str:
    """One ``--set`` as curtin itself will read it (the JSON prefix on the key)."""
    path, raw, is_json = split_set(assignment)
    return f"{JSON_PREFIX}{path}={raw}" if is_json else assignment


def apply_set(cfg: Dict[str, Any], assignment: str, budget: Optional[NodeBudget] = None) -> None:
    """Apply one ``--set a/b=value`` (``json:a/b=…`` parses JSON) to `cfg`, as curtin does.

    The key path and a JSON value are bounded like a config document (their
    depths add up); `budget` is the node budget shared with the configs.
    ``json:=<object>`` merges a whole object at the top, as in curtin.
    """
    path, raw, is_json = split_set(assignment)
    keys = [k for k in path.split("/") if k]
    if not keys and not is_json:
        raise ConfigError("--set", f"expected KEY/PATH=VALUE, got {assignment!r}")
    if len(keys) > DEFAULT_LIMITS.max_depth:
        raise DocumentLimitError("(key path)", f"nesting deeper than {DEFAULT_LIMITS.max_depth} levels",
                                 f"--set {path[:40]}...", "max_depth")
    value: Any = raw
    if is_json:
        limits = dataclasses.replace(DEFAULT_LIMITS, max_depth=DEFAULT_LIMITS.max_depth - len(keys))
        value = load_json(raw, f"--set {path or '(top)'}", limits, budget)
    if not keys:
        if not isinstance(value, dict):
            raise ConfigError("--set", f"json:= needs a JSON object to merge at the top, got {type(value).__name__}")
        merge_config(cfg, value)
        return
    update: Dict[str, Any] = {keys[-1]: value}
    for key in reversed(keys[:-1]):
        update = {key: update}
    merge_config(cfg, update)


def add_source(cfg: Dict[str, Any], source: str) -> None:
    """A positional source, named the way curtin names it."""
    sources = cfg.get("sources")
    if not isinstance(sources, dict):
        sources = {} if sources in (None, [], "") else _sources_as_dict(sources)
        cfg["sources"] = sources
    sources[f"{len(sources):02d}_cmdline"] = source


def _sources_as_dict(sources: Any) -> Dict[str, Any]:
    if isinstance(sources, list):
        return {f"{i:02d}_list": s for i, s in enumerate(sources)}
    raise ConfigError("sources", f"expected a mapping or a list, got {type(sources).__name__}")


def merge_configs(
    configs: Iterable[Mapping[str, Any]],
    sets: Iterable[str] = (),
    sources: Iterable[str] = (),
    base: Optional[Dict[str, Any]] = None,
    budget: Optional[NodeBudget] = None,
) -> Dict[str, Any]:
    """The whole install config: defaults, then configs, --set values, sources."""
    cfg = builtin_config() if base is None else base
    for part in configs:
        if part is None:
            continue
        if not isinstance(part, Mapping):
            raise ConfigError("config", f"each config must be a mapping, got {type(part).__name__}")
        merge_config(cfg, part)
    for assignment in sets:
        apply_set(cfg, assignment, budget)
    for source in sources:
        add_source(cfg, source)
    if "http_proxy" in cfg:
        proxy = cfg.setdefault("proxy", {})
        if isinstance(proxy, dict):
            proxy.setdefault("http_proxy", cfg.pop("http_proxy"))
    return cfg


def stage_names(cfg: Mapping[str, Any]) -> List[str]:
    stages = cfg.get("stages", list(STAGES))
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        raise ConfigError("stages", "expected a list of stage names")
    return list(stages)
