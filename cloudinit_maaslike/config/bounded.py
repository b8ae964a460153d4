"""Read untrusted YAML and JSON documents within fixed bounds, or refuse them.

User-data, payload configs, preseeds and ``--set json:`` values come from the
network.  PyYAML's C loader composes nodes recursively (deep nesting crashes
the whole process), aliases turn a few hundred bytes into billions of nodes
for anyone who walks the result (``json.dumps``, redaction, merging), and a
sexagesimal integer (``1:1:1:…``) is quadratic to construct.  So every
document is first read as a stream of parser events (the parsers themselves
are iterative) and measured in one linear pass: size, nesting depth, alias
count, and the node count with every alias counted as the whole subtree it
stands for.  Only a document within every limit reaches the loader.

Errors are `DocumentError` (not valid YAML/JSON) or its subclass
`DocumentLimitError` (valid, but past a limit it names), both `ConfigError`s
whose one line names the file or key, the line, and the problem, never the
text (configs carry OAuth tokens).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

from ..errors import ConfigError

Text = Union[str, bytes]


@dataclass(frozen=True)
class Limits:
    """What one document may hold.  Nodes count scalars, keys, sequences and
    mappings; an alias counts as every node of what it refers to."""

    max_bytes: int = 16 * 1024 * 1024
    max_depth: int = 100
    max_nodes: int = 100_000
    max_aliases: int = 1_000
    max_int_chars: int = 4_300  # Python's own int() digit limit; sexagesimal ints are quadratic


DEFAULT_LIMITS = Limits()


class DocumentError(ConfigError):
    """A YAML or JSON document cannot be read (`path` is ``line N`` or ``(document)``)."""


class DocumentLimitError(DocumentError):
    """A document goes past one of the reader's limits; `limit` names which one."""

    def __init__(self, path: str, problem: str, where: Optional[str], limit: str):
        self.limit = limit
        super().__init__(path, f"{problem} (limit: {limit})", where)


class NodeBudget:
    """Nodes that several documents may add up to (a payload's configs and
    ``--set`` values end in one merged config, walked as a whole)."""

    def __init__(self, limit: int = DEFAULT_LIMITS.max_nodes) -> None:
        self.limit = limit
        self.used = 0

    @property
    def left(self) -> int:
        return max(self.limit - self.used, 0)

    def spend(self, nodes: int, where: Optional[str]) -> None:
        self.used += nodes
        if self.used > self.limit:
            raise self.exceeded("(document)", where)

    def exceeded(self, path: str, where: Optional[str]) -> DocumentLimitError:
        return DocumentLimitError(path, f"with the documents before it, more than {self.limit} nodes",
                                  where, "max_nodes, in all")


class _Refused(Exception):
    """Raised inside the YAML constructor; turned into a `DocumentLimitError`."""

    def __init__(self, line: int, problem: str, limit: str):
        super().__init__(problem)
        self.line = line
        self.problem = problem
        self.limit = limit


def _line(mark: Any) -> str:
    return f"line {mark.line + 1}" if mark is not None else "(document)"


def _check_size(text: Text, where: Optional[str], limits: Limits) -> None:
    if len(text) > limits.max_bytes:
        raise DocumentLimitError("(document)", f"{len(text)} bytes is more than {limits.max_bytes}",
                                 where, "max_bytes")


@functools.cache
def _loader_for(max_int_chars: int) -> Any:
    """The C safe loader when PyYAML has it, with integers bounded in length."""
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    def construct_int(loader: Any, node: Any) -> Any:
        if len(node.value) > max_int_chars:
            raise _Refused(node.start_mark.line + 1, f"an integer of more than {max_int_chars} characters",
                           "max_int_chars")
        return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)

    loader: Any = type("BoundedSafeLoader", (base,), {})
    loader.add_constructor("tag:yaml.org,2002:int", construct_int)
    return loader


def measure_yaml(text: Text, where: Optional[str] = None, limits: Limits = DEFAULT_LIMITS,
                 budget: Optional[NodeBudget] = None) -> int:
    """Nodes in `text`, aliases expanded (spent from `budget`); raise past a limit.

    Linear time: reads parser events only (the parsers are iterative and never
    compose), so nesting, aliases and size are known before any loader recurses.
    """
    import yaml
    from yaml import events

    _check_size(text, where, limits)
    allowed = limits.max_nodes if budget is None else min(budget.left, limits.max_nodes)
    parser = _loader_for(limits.max_int_chars)(text)
    open_nodes: List[Tuple[Optional[str], int]] = []  # (anchor, node count when it opened)
    sizes: Dict[str, int] = {}
    aliases = 0
    nodes = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, events.AliasEvent):
                aliases += 1
                if aliases > limits.max_aliases:
                    raise DocumentLimitError(_line(event.start_mark), f"more than {limits.max_aliases} aliases",
                                             where, "max_aliases")
                anchor = event.anchor
                if anchor not in sizes:
                    if any(anchor == name for name, _ in open_nodes):
                        raise DocumentError(_line(event.start_mark),
                                            f"not valid YAML: alias *{anchor} refers to a node that holds it",
                                            where)
                    raise DocumentError(_line(event.start_mark), f"not valid YAML: alias *{anchor} is undefined",
                                        where)
                nodes += sizes[anchor]
            elif isinstance(event, events.ScalarEvent):
                nodes += 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            elif isinstance(event, events.CollectionStartEvent):
                if len(open_nodes) >= limits.max_depth:
                    raise DocumentLimitError(_line(event.start_mark),
                                             f"nesting deeper than {limits.max_depth} levels", where, "max_depth")
                open_nodes.append((event.anchor, nodes))
                nodes += 1
            elif isinstance(event, events.CollectionEndEvent):
                anchor, start = open_nodes.pop()
                if anchor is not None:
                    sizes[anchor] = nodes - start
            elif isinstance(event, events.DocumentStartEvent):
                sizes.clear()  # anchors belong to one document
            if nodes > allowed:
                if budget is not None and allowed < limits.max_nodes:
                    raise budget.exceeded(_line(event.start_mark), where)
                with_aliases = " once aliases are expanded" if aliases else ""
                raise DocumentLimitError(_line(event.start_mark), f"more than {allowed} nodes{with_aliases}",
                                         where, "max_nodes")
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, where) from None
    finally:
        parser.dispose()
    if budget is not None:
        budget.spend(nodes, where)
    return nodes


def _syntax_error(exc: Any, where: Optional[str]) -> DocumentError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem and context:
        problem = f"{context}: {problem}"
    return DocumentError(_line(mark), f"not valid YAML: {problem or context or 'cannot be read'}", where)


def load_yaml(text: Text, where: Optional[str] = None, limits: Limits = DEFAULT_LIMITS,
              budget: Optional[NodeBudget] = None) -> Any:
    """The one YAML document in `text` (None when empty), within `limits`.

    With a `budget`, its nodes are also spent from it.
    """
    import yaml

    measure_yaml(text, where, limits, budget)
    try:
        return yaml.load(text, Loader=_loader_for(limits.max_int_chars))
    except _Refused as exc:
        raise DocumentLimitError(f"line {exc.line}", exc.problem, where, exc.limit) from None
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, where) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # a constructor's own failure
        raise DocumentError("(document)", f"not valid YAML: a value cannot be read ({type(exc).__name__})",
                            where) from None


def load_yaml_mapping(text: Text, where: Optional[str] = None, limits: Limits = DEFAULT_LIMITS,
                      budget: Optional[NodeBudget] = None) -> Dict[str, Any]:
    """A document that must be a mapping; an empty document is an empty mapping."""
    loaded = load_yaml(text, where, limits, budget)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise DocumentError("(document)", f"expected a mapping, got {type(loaded).__name__}", where)
    return loaded


def load_json(text: Text, where: Optional[str] = None, limits: Limits = DEFAULT_LIMITS,
              budget: Optional[NodeBudget] = None) -> Any:
    """One JSON value, within `limits` (JSON has no aliases: nodes are real)."""
    _check_size(text, where, limits)
    try:
        value = json.loads(text)
    except RecursionError:
        raise DocumentLimitError("(document)", f"nesting deeper than {limits.max_depth} levels",
                                 where, "max_depth") from None
    except json.JSONDecodeError as exc:
        raise DocumentError(f"line {exc.lineno}", f"invalid JSON: {exc.msg}", where) from None
    except ValueError as exc:  # e.g. an integer past Python's digit limit
        raise DocumentError("(document)", f"invalid JSON: a value cannot be read ({type(exc).__name__})",
                            where) from None
    _measure_value(value, where, limits, budget)
    return value


def _measure_value(value: Any, where: Optional[str], limits: Limits, budget: Optional[NodeBudget]) -> int:
    """Nodes and depth of a loaded JSON value, walked without recursion."""
    node_limit = limits.max_nodes if budget is None else min(budget.left, limits.max_nodes)
    nodes = 0
    pending: List[Tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        nodes += 1
        if nodes > node_limit:
            if budget is not None and node_limit < limits.max_nodes:
                raise budget.exceeded("(document)", where)
            raise DocumentLimitError("(document)", f"more than {node_limit} nodes", where, "max_nodes")
        if isinstance(item, (dict, list)):
            if depth > limits.max_depth:
                raise DocumentLimitError("(document)", f"nesting deeper than {limits.max_depth} levels",
                                         where, "max_depth")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    if budget is not None:
        budget.spend(nodes, where)
    return nodes
