"""Run one command, streaming its output line by line to the install log.

curtin reads its commands' output one byte at a time; we read lines, write
each (redacted) to the install log and the console, and keep the last lines
for the failure report.  stdin is /dev/null: nothing an install runs may wait
for a keyboard.
"""

from __future__ import annotations

import collections
import logging
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Deque, List, Mapping, Optional, Sequence, Tuple

from .errors import MaaslikeError

TAIL_LINES = 20


@dataclass(frozen=True)
class Finished:
    returncode: int
    seconds: float
    tail: Tuple[str, ...]
    output: Optional[str] = None  # only when captured


class CommandFailed(MaaslikeError):
    """A stage command exited non-zero (or could not start)."""

    exit_code = 3

    def __init__(self, stage: str, key: str, command: str, returncode: Optional[int],
                 tail: Sequence[str] = (), why: str = ""):
        self.stage, self.key, self.command = stage, key, command
        self.returncode = returncode
        self.tail = tuple(tail)
        detail = why or f"exit status {returncode}"
        last = f"; last output: {self.tail[-1]!r}" if self.tail else ""
        super().__init__(f"stage {stage}: command {key} failed ({detail}): {command}{last}")


def run_streaming(
    argv: List[str],
    env: Mapping[str, str],
    log: logging.Logger,
    prefix: str = "",
    cwd: Optional[str] = None,
    capture: bool = False,
    redact: Callable[[str], str] = lambda s: s,
    stdin: Optional[str] = None,
) -> Finished:
    """Run `argv`; `stdin` (text that may hold secrets) goes through a 0600 file."""
    started = time.monotonic()
    if stdin is not None:
        with tempfile.TemporaryFile() as handle:  # created 0600, never a named file
            handle.write(stdin.encode("utf-8"))
            handle.seek(0)
            return _run(argv, env, log, prefix, cwd, capture, redact, handle, started)
    return _run(argv, env, log, prefix, cwd, capture, redact, subprocess.DEVNULL, started)


def _run(argv: List[str], env: Mapping[str, str], log: logging.Logger, prefix: str,
         cwd: Optional[str], capture: bool, redact: Callable[[str], str], stdin: Any,
         started: float) -> Finished:
    tail: Deque[str] = collections.deque(maxlen=TAIL_LINES)
    captured: List[str] = []
    with subprocess.Popen(
        argv,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
        cwd=cwd,
        bufsize=1,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            text = redact(line.rstrip("\n"))
            tail.append(text)
            if capture:
                captured.append(line)
            log.info("%s%s", prefix, text)
        returncode = proc.wait()
    return Finished(returncode, time.monotonic() - started, tuple(tail),
                    "".join(captured) if capture else None)
