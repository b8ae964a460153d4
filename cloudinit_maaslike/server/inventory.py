"""The node inventory: which machines the stand-in server knows.

Read once from YAML into frozen `Node`s and validated as a whole, so a typo
in the inventory is one clear error at start-up (``nodes[2].status: …``)
rather than a puzzling answer to a booting node.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import ConfigError
from .installsource import source_problem
from .statuses import STATUSES, normalise_status

LIBYAML_MAX_DEPTH = 1000  # deeper, libyaml's composer can overflow the C stack (a segfault)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")

_FIELDS = {
    "system_id", "hostname", "domain", "osystem", "arch", "subarch", "release", "status",
    "public_keys", "user_data", "vendor_data", "source", "curtin",
}


@dataclass(frozen=True)
class Node:
    system_id: str
    hostname: str
    domain: str = "maas"
    osystem: str = "debian"
    arch: str = "amd64"
    subarch: str = "generic"
    release: str = "bookworm"
    status: str = "deploying"
    public_keys: Tuple[str, ...] = ()
    user_data: Optional[bytes] = field(default=None, repr=False)
    vendor_data: Optional[Any] = None
    source: str = ""
    curtin: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fqdn(self) -> str:
        return f"{self.hostname}.{self.domain}" if self.domain else self.hostname

    @property
    def architecture(self) -> str:
        return f"{self.arch}/{self.subarch}"


def _user_data(value: Any, path: str, where: str) -> Optional[bytes]:
    """Inline text, or `{base64: …}` for binary payloads."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, Mapping) and set(value) == {"base64"}:
        try:
            return base64.b64decode(str(value["base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{path}.base64", "is not valid base64", where) from None
    raise ConfigError(path, "expected text or {base64: …}", where)


def parse_node(raw: Any, index: int, where: str) -> Node:
    path = f"nodes[{index}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(path, f"expected a mapping, got {type(raw).__name__}", where)
    for key in raw:
        if key not in _FIELDS:
            raise ConfigError(f"{path}.{key}", f"unknown field (known: {', '.join(sorted(_FIELDS))})", where)
    values: Dict[str, Any] = {}
    for key in ("system_id", "hostname"):
        value = raw.get(key)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{path}.{key}", "required, a non-empty string", where)
        if "/" in value or value.strip() != value:
            raise ConfigError(f"{path}.{key}", f"may not contain '/' or spaces: {value!r}", where)
        values[key] = value
    for key in ("domain", "osystem", "arch", "subarch", "release", "source"):
        if key in raw:
            if not isinstance(raw[key], str):
                raise ConfigError(f"{path}.{key}", "expected a string", where)
            values[key] = raw[key]
    for key in ("domain", "osystem", "arch", "subarch", "release"):
        # These name preseed template files: no path separators.
        if "/" in values.get(key, "") or values.get(key, "").strip() != values.get(key, ""):
            raise ConfigError(f"{path}.{key}", f"may not contain '/' or spaces: {values[key]!r}", where)
    problem = source_problem(values["source"]) if values.get("source") else None
    if problem:
        raise ConfigError(f"{path}.source", problem, where)
    if "status" in raw:
        status = normalise_status(raw["status"])
        if status is None:
            raise ConfigError(f"{path}.status", f"unknown status {raw['status']!r}"
                              f" (one of {', '.join(STATUSES)})", where)
        values["status"] = status
    keys = raw.get("public_keys") or []
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f"{path}.public_keys", "expected a list of strings", where)
    values["public_keys"] = tuple(k.strip() for k in keys if k.strip())
    values["user_data"] = _user_data(raw.get("user_data"), f"{path}.user_data", where)
    if "vendor_data" in raw:
        values["vendor_data"] = raw["vendor_data"]
    curtin = raw.get("curtin") or {}
    if not isinstance(curtin, Mapping):
        raise ConfigError(f"{path}.curtin", "expected a mapping of curtin config", where)
    values["curtin"] = dict(curtin)
    return Node(**values)


def parse_inventory(data: Any, where: str) -> List[Node]:
    if isinstance(data, Mapping):
        data = data.get("nodes")
    if not isinstance(data, list) or not data:
        raise ConfigError("nodes", "expected a non-empty list of nodes", where)
    nodes = [parse_node(raw, i, where) for i, raw in enumerate(data)]
    seen: Dict[str, int] = {}
    for i, node in enumerate(nodes):
        if node.system_id in seen:
            raise ConfigError(f"nodes[{i}].system_id",
                              f"{node.system_id!r} repeats nodes[{seen[node.system_id]}]", where)
        seen[node.system_id] = i
    return nodes


def bracket_depth(text: str) -> int:
    """How deep `text`'s brackets nest (quotes ignored: at least the YAML flow nesting)."""
    depth = deepest = 0
    for char in _NOT_BRACKETS.sub("", text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif depth:
            depth -= 1
    return deepest


def yaml_depth(text: str, loader: Any) -> int:
    """How deep `text`'s collections nest, from the parser's events (no recursion, no objects built)."""
    import yaml

    depth = deepest = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            deepest = max(deepest, depth)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return deepest


def load_inventory(path: str) -> List[Node]:
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError("--nodes", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError("nodes", "not valid YAML: not UTF-8", path) from None
    # libyaml when present: an inventory of hundreds of nodes loads in a blink; but
    # its composer has no recursion limit (and its flow parsing takes quadratic time),
    # so deeply nested text goes to the Python loader, which stops with a RecursionError.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        if loader is not yaml.SafeLoader and (bracket_depth(text) > LIBYAML_MAX_DEPTH
                                              or yaml_depth(text, loader) > LIBYAML_MAX_DEPTH):
            loader = yaml.SafeLoader
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError("nodes", f"not valid YAML{line}", path) from None
    except RecursionError:
        raise ConfigError("nodes", "not valid YAML: it nests too deeply", path) from None
    return parse_inventory(data, path)
