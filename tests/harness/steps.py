"""Run the long steps of an image or package build where an operator can follow them.

A build runs debootstrap, apt, mksquashfs and dpkg-buildpackage for minutes.
Their full output goes to a log file; the console gets a heartbeat (the
latest line, at most every few seconds) so CI output stays readable but
never silent.  A failed step raises `StepFailed` with one line naming the
step, the command, its exit status and the log, and prints the output's tail.
"""

from __future__ import annotations

import collections
import os
import queue
import shlex
import subprocess
import sys
import threading
import time
from typing import IO, Deque, Dict, Mapping, Optional, Sequence

HEARTBEAT_SECONDS = 3.0
SILENCE_SECONDS = 15.0  # a silent step still says it is running this often
TAIL_LINES = 25


class StepFailed(RuntimeError):
    """A build step failed; `str()` is one line, `tail` the output's last lines."""

    def __init__(self, message: str, tail: str = ""):
        super().__init__(message)
        self.tail = tail


def say(what: str, message: str) -> None:
    print(f"[{what}] {message}", flush=True)


def clean_env(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """A predictable environment: the host's locale and Python settings stay out."""
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
        "DEBCONF_NONINTERACTIVE_SEEN": "true",
    }
    env.update(extra or {})
    return env


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _label(cmd: Sequence[str]) -> str:
    return _short(shlex.join(cmd))


def _pump(proc: subprocess.Popen[str], lines: queue.Queue[Optional[str]]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line)
    lines.put(None)


def run(cmd: Sequence[str], what: str, log: Optional[IO[str]] = None,
        env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
        step: Optional[str] = None, verbose: bool = False, label: Optional[str] = None) -> None:
    """Run `cmd`, streaming its output to `log` and a heartbeat to stdout.

    `step` names what the command does for the error line (default: its
    program name), `label` shows the command (default: the command line);
    `verbose` echoes every line instead of a heartbeat.
    """
    step = step or os.path.basename(cmd[0])
    label = label or _label(cmd)
    say(what, f"{step}: {label}")
    if log is not None:
        log.write(f"\n$ {shlex.join(cmd)}\n")
        log.flush()
    started = time.monotonic()
    tail: Deque[str] = collections.deque(maxlen=TAIL_LINES)
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=dict(env) if env is not None else None,
                            cwd=cwd, text=True, errors="replace", bufsize=1)
    lines: queue.Queue[Optional[str]] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc, lines), daemon=True)
    reader.start()
    last_beat = started
    try:
        while True:
            try:
                line = lines.get(timeout=HEARTBEAT_SECONDS)
            except queue.Empty:
                line = ""  # silent for a while: still say it is running
            if line is None:
                break
            now = time.monotonic()
            if line:
                line = line.rstrip("\n").split("\r")[-1]
                tail.append(line)
                if log is not None:
                    log.write(line + "\n")
            beat_due = now - last_beat >= (HEARTBEAT_SECONDS if line else SILENCE_SECONDS)
            if (verbose and line) or beat_due:
                shown = line or (tail[-1] + " " if tail else "") + "(still running)"
                say(what, f"{step} {now - started:5.0f}s | {shown[:150]}")
                last_beat = now
        returncode = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        if log is not None:
            log.flush()
    elapsed = time.monotonic() - started
    if returncode != 0:
        where = f" (log: {log.name})" if log is not None and hasattr(log, "name") else ""
        text = "\n".join(tail)
        print(f"[{what}] --- last lines of {step} ---\n{text}", file=sys.stderr, flush=True)
        last = next((t for t in reversed(tail) if t.strip()), "no output")
        raise StepFailed(f"{what}: {step} failed with exit status {returncode} after {elapsed:.0f}s "
                         f"({_short(label)}): {last.strip()}{where}", text)
    say(what, f"{step}: done in {elapsed:.1f}s")
