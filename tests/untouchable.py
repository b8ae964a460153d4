"""A raw config no step may read: the parse-once tests hand it in as ``cfg``."""

from __future__ import annotations

from typing import Any, Iterator, Mapping


class Untouchable(Mapping[str, Any]):
    """Every access fails the test, naming what was read."""

    def __getitem__(self, key: str) -> Any:
        raise AssertionError(f"a step read the raw config: [{key!r}]")

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("a step iterated the raw config")

    def __len__(self) -> int:
        raise AssertionError("a step measured the raw config")
