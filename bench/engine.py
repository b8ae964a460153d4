#!/usr/bin/env python3
"""Install-engine overhead, side by side with a shell script running the same commands.

A 40-command install (early and late commands, the disk stages disabled) run
by `maaslike install` as a whole process, against `sh` running the same 40
commands from a script.  The difference is everything the engine adds:
Python start-up, config parsing and validation, the working directory,
events, the install log, the report.  Target: under 0.5 s.

Run: `.venv/bin/python bench/engine.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import List

import yaml

COMMANDS = 40


def commands(out: str) -> List[str]:
    return [f"echo step {i} >> {out}" for i in range(COMMANDS)]


def engine_config(workdir: str, out: str) -> str:
    cmds = commands(out)
    cfg = {
        "install": {"log_file": os.path.join(workdir, "install.log"), "error_tarfile": None,
                    "post_files": [], "save_install_config": None, "save_install_log": None},
        "partitioning_commands": {"builtin": None}, "network_commands": {"builtin": None},
        "extract_commands": {"builtin": None}, "curthooks_commands": {"builtin": None},
        "hook_commands": {"builtin": None},
        "early_commands": {f"{i:02d}": c for i, c in enumerate(cmds[:20])},
        "late_commands": {f"{i:02d}": c for i, c in enumerate(cmds[20:])},
    }
    path = os.path.join(workdir, "install.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(cfg, handle)
    return path


def script(workdir: str, out: str) -> str:
    path = os.path.join(workdir, "install.sh")
    with open(path, "w") as handle:
        # each command in its own `sh -c`, as the engine runs string commands
        handle.write("set -e\n" + "".join(f"sh -c '{c}'\n" for c in commands(out)))
    return path


def timed(argv: List[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"bench: {argv[0]} failed: {done.stderr[-500:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    maaslike = os.path.join(os.path.dirname(sys.executable), "maaslike")
    ours: List[float] = []
    shell: List[float] = []
    for i in range(args.runs):
        workdir = tempfile.mkdtemp(prefix="maaslike-bench-engine-")
        try:
            out = os.path.join(workdir, "out")
            cfg, sh = engine_config(workdir, out), script(workdir, out)
            shell.append(timed(["sh", sh]))
            ours.append(timed([maaslike, "install", "--config", cfg,
                               "--target", os.path.join(workdir, f"target{i}"),
                               "--workdir", os.path.join(workdir, "work")]))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    base, engine = statistics.median(shell), statistics.median(ours)
    overhead = engine - base
    print(f"{COMMANDS}-command install, median of {args.runs} (alternating)")
    print(f"   shell script           {base * 1000:7.0f} ms")
    print(f"   maaslike install       {engine * 1000:7.0f} ms   (x{engine / base:.2f} of the script)")
    print(f"   -> engine overhead {overhead * 1000:.0f} ms (target < 500 ms): "
          f"{'PASS' if overhead < 0.5 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
