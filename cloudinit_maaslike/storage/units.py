"""Sizes as storage configs write them: ``512M``, ``12G``, ``1073741824B``, ``1.5T``.

Binary multiples (K = 1024), as curtin reads them; a bare number is bytes.
"""

from __future__ import annotations

import re
from typing import Union

MiB = 1 << 20
GiB = 1 << 30
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:I?B)?\s*$", re.IGNORECASE)


class BadSize(ValueError):
    pass


def parse_size(value: Union[str, int, float]) -> int:
    """Bytes for a size; `BadSize` says what was wrong."""
    if isinstance(value, bool):
        raise BadSize(f"not a size: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise BadSize(f"negative size: {value}")
        return value
    if isinstance(value, float):
        return int(value)
    match = _SIZE.match(str(value))
    if not match:
        raise BadSize(f"not a size: {value!r} (use e.g. 512M, 12G, 1073741824B)")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.upper()])


def human(size: int) -> str:
    """Three significant digits in the largest unit that fits: 12G, 9.5M, 512K."""
    for unit in ("T", "G", "M", "K"):
        if size >= _UNITS[unit]:
            value = size / _UNITS[unit]
            return f"{value:.3g}{unit}" if value < 100 else f"{value:.0f}{unit}"
    return f"{size}B"


def align_up(value: int, alignment: int = MiB) -> int:
    return -(-value // alignment) * alignment


def align_down(value: int, alignment: int = MiB) -> int:
    return value // alignment * alignment
