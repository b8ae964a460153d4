"""Small type checks that record a problem with the key path instead of raising."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence

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


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance with adjacent transpositions (``stoarge`` is one edit from ``storage``)."""
    previous2: List[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, previous2[j - 2] + 1)
            current.append(best)
        previous2, previous = previous, current
    return previous[-1]


def close_match(key: str, known: Sequence[str], within: int = 2) -> Optional[str]:
    """The known key `key` is most likely a typo of, if any is within `within` edits.

    Short keys get fewer edits (one up to four letters, none up to two), so a
    key like ``a`` is not taken for ``apt``.
    """
    within = min(within, (len(key) - 1) // 2)
    if within < 1:
        return None
    scored = sorted((edit_distance(key, k), k) for k in known if abs(len(k) - len(key)) <= within)
    return scored[0][1] if scored and scored[0][0] <= within else None


def check_keys(problems: Problems, mapping: Mapping[str, Any], known: Sequence[str], path: str,
               prefix_ok: Optional[Sequence[str]] = None, typos_are_errors: bool = False) -> None:
    """Warn about keys we do not know: never drop them silently.

    With `typos_are_errors`, a key within two edits of a known one is an error:
    at the top level a typo can change what the install does (``stoarge:``
    would fall back to simple mode and wipe the first suitable disk).
    """
    for key in mapping:
        if key in known:
            continue
        if prefix_ok and any(str(key).startswith(p) for p in prefix_ok):
            continue
        where = f"{path}.{key}" if path else str(key)
        likely = close_match(str(key), known) if typos_are_errors else None
        if likely is not None:
            problems.error(where, f"unknown key; did you mean {likely!r}?")
        else:
            problems.warn(where, "unknown key, ignored")


def join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)
