"""What a built-in step needs to know about the install it runs in."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Callable, ContextManager, Dict, Iterator, Sequence

from ..config.model import InstallConfig
from .workdir import WorkDir


@contextlib.contextmanager
def no_event(name: str, description: str) -> Iterator[None]:
    yield


def no_notify(text: str) -> None:
    return None


@dataclass
class StepContext:
    config: InstallConfig
    work: WorkDir
    stage: str
    report_stack: str
    env: Dict[str, str]
    log: logging.Logger
    redact: Callable[[str], str]
    python_paths: Sequence[str] = ()
    # progress of long steps: to the log and as an event
    notify: Callable[[str], None] = no_notify
    # a named sub-step: start and finish events around it
    event: Callable[[str, str], ContextManager[None]] = no_event
