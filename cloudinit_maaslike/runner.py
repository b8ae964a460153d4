"""The one way the package starts a program.

Three shapes cover every use: `run` (a short command, output captured),
`run_streaming` (a stage command whose output goes line by line, redacted, to
the install log and the console, its last lines kept for the failure report;
curtin reads byte by byte, we read lines) and `spawn` (a process wired into a
pipeline or left running, such as tar fed by the download or the delayed
reboot).  All three go through the active `Runner`; tests install their own
with `replaced()` to assert the exact commands and inject failures without
root.  stdin is /dev/null unless given: nothing an install runs may wait for
a keyboard.  A program that cannot be started (absent, not executable) is a
`ProgramNotStarted` naming it, never a bare OSError.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Deque, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from .errors import MaaslikeError

TAIL_LINES = 20
# what callers wiring up a spawned process need, so that only this module imports subprocess
DEVNULL = subprocess.DEVNULL
PIPE = subprocess.PIPE
TimeoutExpired = subprocess.TimeoutExpired
Popen = subprocess.Popen


@dataclass(frozen=True)
class Finished:
    returncode: int
    seconds: float
    tail: Tuple[str, ...]
    output: Optional[str] = None  # only when captured


@dataclass(frozen=True)
class Completed:
    """A short command's result, output captured."""

    argv: Tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class ProgramNotStarted(MaaslikeError):
    """The program is absent or cannot be executed."""

    exit_code = 3

    def __init__(self, argv: Sequence[str], exc: OSError):
        self.program = argv[0] if argv else "?"
        self.errno = exc.errno
        hint = ""
        if isinstance(exc, PermissionError):
            hint = " (is it executable, and is its filesystem mounted exec?)"
        elif isinstance(exc, FileNotFoundError):
            hint = " (not installed, or its interpreter is missing)"
        super().__init__(f"cannot run {self.program}: {exc.strerror or exc}{hint}")


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


class Runner:
    """Starts real programs; tests replace it through `replaced()`."""

    def run(self, argv: Sequence[str], *, input: Union[str, bytes, None] = None,
            env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
            timeout: Optional[float] = None, text: bool = True) -> Completed:
        try:
            done = subprocess.run(list(argv), input=input, capture_output=True, text=text,
                                  env=dict(env) if env is not None else None, cwd=cwd, timeout=timeout,
                                  stdin=None if input is not None else subprocess.DEVNULL,
                                  errors="replace" if text else None)
        except OSError as exc:
            raise ProgramNotStarted(argv, exc) from None
        out, err = done.stdout, done.stderr
        if not text:
            out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        return Completed(tuple(argv), done.returncode, out, err)

    def stream(self, argv: List[str], env: Mapping[str, str], log: logging.Logger, prefix: str,
               cwd: Optional[str], capture: bool, redact: Callable[[str], str],
               stdin: Optional[str]) -> Finished:
        started = time.monotonic()
        if stdin is not None:
            with tempfile.TemporaryFile() as handle:  # created 0600, never a named file
                handle.write(stdin.encode("utf-8"))
                handle.seek(0)
                return _stream(argv, env, log, prefix, cwd, capture, redact, handle, started)
        return _stream(argv, env, log, prefix, cwd, capture, redact, subprocess.DEVNULL, started)

    def spawn(self, argv: Sequence[str], **popen: Any) -> subprocess.Popen[Any]:
        try:
            return subprocess.Popen(list(argv), **popen)
        except OSError as exc:
            raise ProgramNotStarted(argv, exc) from None


_active: List[Runner] = [Runner()]


@contextlib.contextmanager
def replaced(runner: Runner) -> Iterator[Runner]:
    """Use `runner` for every program the package starts, for the `with` block."""
    _active.append(runner)
    try:
        yield runner
    finally:
        _active.remove(runner)


def run(argv: Sequence[str], *, input: Union[str, bytes, None] = None,
        env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
        timeout: Optional[float] = None, text: bool = True) -> Completed:
    """Run a short command to its end; output captured; raises only `ProgramNotStarted`
    (and subprocess.TimeoutExpired when `timeout` runs out)."""
    return _active[-1].run(argv, input=input, env=env, cwd=cwd, timeout=timeout, text=text)


def spawn(argv: Sequence[str], **popen: Any) -> subprocess.Popen[Any]:
    """Start a process the caller wires up and waits for (pipelines, detached commands)."""
    return _active[-1].spawn(argv, **popen)


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
    return _active[-1].stream(argv, env, log, prefix, cwd, capture, redact, stdin)


def _stream(argv: List[str], env: Mapping[str, str], log: logging.Logger, prefix: str,
            cwd: Optional[str], capture: bool, redact: Callable[[str], str], stdin: Any,
            started: float) -> Finished:
    tail: Deque[str] = collections.deque(maxlen=TAIL_LINES)
    captured: List[str] = []
    try:
        proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=dict(env), cwd=cwd, bufsize=1, text=True, errors="replace")
    except OSError as exc:
        raise ProgramNotStarted(argv, exc) from None
    with proc:
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
