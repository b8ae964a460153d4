"""Collect every problem of a config at once, each with its key path.

curtin discovers some config mistakes only after the disks are written.  We
check the whole merged config before anything runs and report every problem
in one go, so an operator fixes them in one round instead of one per install.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import List

from ..errors import ConfigError

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    path: str  # e.g. "storage.config[3] (id: sda-part2).size"
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigInvalid(ConfigError):
    """The install config has problems; `problems` lists them all."""

    def __init__(self, problems: List[Problem], where: str = "install config"):
        self.problems = list(problems)
        first = self.problems[0]
        count = len(self.problems)
        summary = "; ".join(str(p) for p in self.problems[:8])
        more = f" (and {count - 8} more)" if count > 8 else ""
        noun = "problem" if count == 1 else "problems"
        super().__init__(first.path, f"{first.message}", where)
        self.args = (f"{where}: {count} {noun}: {summary}{more}",)

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class Problems:
    """An accumulator passed to every validator."""

    errors: List[Problem] = field(default_factory=list)
    warnings: List[Problem] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        self.errors.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Problem(path, message))

    def raise_if_any(self, where: str = "install config") -> None:
        for warning in self.warnings:
            LOG.warning("%s: %s", where, warning)
        if self.errors:
            raise ConfigInvalid(self.errors, where)
