"""Read install config files: YAML, with errors that name the file and line."""

from __future__ import annotations

from typing import Any, Dict

from ..errors import ConfigError
from .bounded import load_yaml


def parse_config_text(text: str, where: str) -> Dict[str, Any]:
    """One config file's mapping, read within the bounded loader's limits."""
    loaded = load_yaml(text, where)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError("(top)", f"a config must be a mapping, got {type(loaded).__name__}", where)
    return loaded


def load_config_file(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {path}: {exc.strerror}") from None
    return parse_config_text(text, path)
