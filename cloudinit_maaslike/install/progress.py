"""Which stages have run, kept on disk between processes.

cloud-init runs one module per stage; each may be its own process (`cloud-init
single`), so the engine records progress in the working directory and every
module resumes from it: stages already done are not run again, and a failed
install stops every later stage.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

from ..privatefile import write_private


@dataclass
class CommandTiming:
    key: str
    command: str
    seconds: float
    returncode: Optional[int] = None
    builtin: bool = False


@dataclass
class StageTiming:
    name: str
    result: str
    seconds: float
    commands: List[CommandTiming] = field(default_factory=list)


@dataclass
class Progress:
    started: float = field(default_factory=time.time)
    stages: List[StageTiming] = field(default_factory=list)
    failed_stage: Optional[str] = None
    error: str = ""
    finished: bool = False
    started_event: bool = False
    dead_hooks: List[str] = field(default_factory=list)
    running_stage: Optional[str] = None  # set while a stage runs; left set if the process died

    def done(self, name: str) -> bool:
        return any(s.name == name for s in self.stages)

    def save(self, path: str) -> None:
        write_private(path, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: str) -> Progress:
        if not os.path.exists(path):
            return cls()
        with open(path, encoding="utf-8") as handle:
            data: Dict[str, Any] = json.load(handle)
        stages = [
            StageTiming(s["name"], s["result"], s["seconds"],
                        [CommandTiming(**c) for c in s.get("commands", [])])
            for s in data.get("stages", [])
        ]
        return cls(
            started=data.get("started", time.time()),
            stages=stages,
            failed_stage=data.get("failed_stage"),
            error=data.get("error", ""),
            finished=data.get("finished", False),
            started_event=data.get("started_event", False),
            dead_hooks=list(data.get("dead_hooks", [])),
            running_stage=data.get("running_stage"),
        )

    def timings(self) -> Dict[str, float]:
        return {s.name: round(s.seconds, 3) for s in self.stages}
