"""Events with curtin's names and shape, as MAAS's status endpoint expects them.

``cmd-install`` for the whole install, ``cmd-install/stage-<name>`` per stage
and ``cmd-install/stage-<name>/<command key>`` per command; a start and a
finish for each, the finish carrying SUCCESS, WARN or FAIL, and the last one
the ``post_files`` (base64).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

START = "start"
FINISH = "finish"
SUCCESS = "SUCCESS"
WARN = "WARN"
FAIL = "FAIL"
ORIGIN = "curtin"
ROOT = "cmd-install"


def stage_event(stage: str) -> str:
    return f"{ROOT}/stage-{stage}"


@dataclass(frozen=True)
class PostedFile:
    path: str
    content: bytes = field(repr=False)

    def as_dict(self) -> Dict[str, str]:
        return {
            "path": self.path,
            "content": base64.b64encode(self.content).decode("ascii"),
            "encoding": "base64",
        }


@dataclass(frozen=True)
class Event:
    name: str
    description: str
    event_type: str
    result: Optional[str] = None
    files: Tuple[PostedFile, ...] = ()
    timestamp: float = field(default_factory=time.time)
    origin: str = ORIGIN
    level: str = "INFO"
    extra: Tuple[Tuple[str, Any], ...] = ()  # e.g. ("timings", {...}) on the final event

    def as_dict(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "event_type": self.event_type,
            "origin": self.origin,
            "timestamp": self.timestamp,
            "level": self.level,
        }
        if self.event_type == FINISH:
            data["result"] = self.result or SUCCESS
        if self.files:
            data["files"] = [f.as_dict() for f in self.files]
        data.update(dict(self.extra))
        return data

    def log_line(self) -> str:
        if self.event_type == START:
            return f"start: {self.name}: {self.description}"
        return f"finish: {self.name}: {self.result or SUCCESS}: {self.description}"
