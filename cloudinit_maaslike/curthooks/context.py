"""What a curthooks step works with.

Steps never import the engine: the chroot runner and the event reporter are
handed in, so `builtin_curthooks` also runs from an image's own hook (a
separate process with only the package on PYTHONPATH).
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ContextManager,
    Dict,
    Iterator,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Union,
)

from .. import targetfs
from ..errors import MaaslikeError
from ..runner import Finished

if TYPE_CHECKING:
    from .steps import CurthooksSettings


class RunInTarget(Protocol):
    """Runs argv in the target, with `stdin` text; `capture` keeps the whole output in ``output``."""

    def __call__(self, argv: Sequence[str], stdin: Optional[str], capture: bool = False) -> Finished: ...


class StepFailed(MaaslikeError):
    exit_code = 3


@contextlib.contextmanager
def _no_event(name: str, description: str) -> Iterator[None]:
    yield


@dataclass
class HookContext:
    cfg: Mapping[str, Any]
    target: str
    state: Mapping[str, Optional[str]]  # curtin's names: fstab, network_config, config, scratch, …
    log: logging.Logger
    in_target: RunInTarget
    event: Callable[[str, str], ContextManager[None]] = _no_event
    host_root: str = "/"  # for tests: where /proc/cmdline, /sys/firmware live
    facts: Dict[str, Any] = field(default_factory=dict)  # what steps learn (os-release…)
    parsed: Optional[CurthooksSettings] = None  # given by the engine, which parsed the config at validation

    @property
    def settings(self) -> CurthooksSettings:
        """The config as parsed once at validation; parsed here from `cfg` when no one handed it in."""
        if self.parsed is None:
            from ..config.problems import Problems
            from .steps import parse_curthooks

            problems = Problems()
            self.parsed = parse_curthooks(self.cfg, problems)
            problems.raise_if_any("curthooks config")
        return self.parsed

    def path(self, *parts: str) -> str:
        """The host path of a target path, its links resolved inside the target."""
        return targetfs.resolve(self.target, "/".join(parts))

    def write(self, relative: str, data: Union[bytes, str], mode: int = 0o644) -> str:
        """Write a file into the target (atomically, never outside it)."""
        return targetfs.write_file(self.target, relative, data, mode)

    def run(self, argv: Sequence[str], what: str, stdin: Optional[str] = None) -> Finished:
        """Run in the target; a non-zero exit fails the step with the output's end."""
        return self._checked(self.in_target(argv, stdin), argv, what)

    def output(self, argv: Sequence[str], what: str) -> str:
        """Run in the target and return what it printed; a non-zero exit fails the step."""
        return self._checked(self.in_target(argv, None, True), argv, what).output or ""

    @staticmethod
    def _checked(done: Finished, argv: Sequence[str], what: str) -> Finished:
        if done.returncode != 0:
            last = f": {done.tail[-1]}" if done.tail else ""
            raise StepFailed(f"{what}: {' '.join(argv)} failed (exit {done.returncode}){last}")
        return done

    def os_release(self) -> Dict[str, str]:
        if "os_release" not in self.facts:
            found: Dict[str, str] = {}
            for name in ("etc/os-release", "usr/lib/os-release"):
                try:
                    with open(self.path(name), encoding="utf-8") as handle:
                        for line in handle:
                            key, sep, value = line.strip().partition("=")
                            if sep:
                                found[key] = value.strip().strip('"')
                    break
                except OSError:
                    continue
            self.facts["os_release"] = found
        return dict(self.facts["os_release"])

    def has(self, *relative: str) -> bool:
        return any(os.path.exists(self.path(r)) for r in relative)
