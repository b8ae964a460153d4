"""Small type checks that record a problem with the key path instead of raising."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from .problems import Problems

TYPE_NAMES = {
    str: "a string",
    int: "a whole number",
    bool: "true or false",
    dict: "a mapping",
    list: "a list",
}


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", int: "a number", float: "a number", dict: "a mapping",
            list: "a list"}.get(type(value), type(value).__name__)


def expect(problems: Problems, value: Any, kinds: Sequence[type], path: str,
           allow_none: bool = False) -> bool:
    """True when `value` is one of `kinds` (bool is not an int here)."""
    if value is None and allow_none:
        return True
    ok = any(
        isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        for kind in kinds
    )
    if not ok:
        wanted = " or ".join(TYPE_NAMES.get(k, k.__name__) for k in kinds)
        problems.error(path, f"expected {wanted}, got {type_name(value)}")
    return ok


def check_keys(problems: Problems, mapping: Mapping[str, Any], known: Sequence[str], path: str,
               prefix_ok: Optional[Sequence[str]] = None) -> None:
    """Warn about keys we do not know: never drop them silently."""
    for key in mapping:
        if key in known:
            continue
        if prefix_ok and any(str(key).startswith(p) for p in prefix_ok):
            continue
        problems.warn(f"{path}.{key}" if path else str(key), "unknown key, ignored")


def join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)
