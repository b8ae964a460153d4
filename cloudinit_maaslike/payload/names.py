"""Archive member names: one spelling, and only names that stay inside.

``tar -C dir -czf - .`` writes ``./configs/config-000.cfg``; a hand-made tar
writes ``configs/config-000.cfg``.  Both mean the same file, so names are
compared in one normal form, and a name that could land outside the output
directory (absolute, ``..``) or confuse a log line (control characters) is
refused wherever it comes from.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Mapping, Optional, Tuple

from .model import PayloadError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def member_name(name: str, what: str = "member") -> str:
    """`name` without ``./``, ``//`` or a trailing slash; '' is the archive root."""
    if not name.isprintable() and _CONTROL.search(name):  # isprintable: a fast path, no control character
        raise PayloadError(f"{what} {name!r} has control characters in its name")
    if name.startswith("/"):
        raise PayloadError(f"{what} {name} has an absolute name")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PayloadError(f"{what} {name} climbs out with '..'")
    return "/".join(parts)


def parents(name: str) -> List[str]:
    """The directories above a normalised member name, outermost first."""
    parts = name.split("/")
    return ["/".join(parts[:end]) for end in range(1, len(parts))]


def find_nested(names: Iterable[str], blockers: Mapping[str, object]) -> Optional[Tuple[str, str]]:
    """A (name, blocker) pair where `name` lies under one of `blockers`, or None.

    Linear after a sort, however deep the names: in sorted order every name
    under ``B/`` follows B, and a stack keeps only the blockers that are a
    prefix of the current name.
    """
    stack: List[str] = []
    for name in sorted(names):
        while stack and not name.startswith(stack[-1]):
            stack.pop()
        if stack:
            top = stack[-1]
            if len(name) > len(top) and name[len(top)] == "/":
                return name, top
        if name in blockers:
            stack.append(name)
    return None
