"""Read install config files: YAML, with errors that name the file and line."""

from __future__ import annotations

from typing import Any, Dict

from ..errors import ConfigError


def parse_config_text(text: str, where: str) -> Dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError("(file)", f"not valid YAML{line}: {problem}", where) from None
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
