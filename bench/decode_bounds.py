#!/usr/bin/env python3
"""Decoding hostile user-data: time and peak memory, side by side with a normal payload.

Not a timed test: it prints figures measured in one run on this machine.

Each input (at most about 1 MiB) is decoded the way a booting node and
``maaslike unpack`` do: `looks_like_payload`, `decode`, `merged_config`
(every config through the bounded YAML reader).  Each run is a fresh child
process, so its peak memory is its own ``ru_maxrss``; the time is the
decoding alone, not the interpreter's start.  The child runs under a 2 GiB
address-space limit and a timeout, so a regression shows as a failure line
instead of taking the machine down.  Inputs are built by another child: Linux
carries a parent's peak RSS into ``ru_maxrss`` across fork and exec, so this
process stays small.

* baseline: a normal payload of about 1 MiB (curtin-like members, a config);
* worst cases: a 100 KB header line, 256 KiB of header assignments, deep and
  many member paths, a symlink maze, a zero-filled gzip bomb archive, gzip
  user-data padded past the budget, a MIME message with too many parts and
  one nested too deeply, 50,000 nested ``[`` and an alias bomb in a config,
  a config dense with nodes, and random bytes.

Target: every input decodes (or is refused) in under 1 s and 200 MB.

Run: `.venv/bin/python bench/decode_bounds.py [--runs N] [--only NAME ...]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TARGET_SECONDS = 1.0
TARGET_MB = 200.0
CHILD_AS_LIMIT = 2 * 1024 ** 3
CHILD_TIMEOUT = 120.0

CHILD = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
sys.path.insert(0, {repo!r})
from cloudinit_maaslike.errors import MaaslikeError
from cloudinit_maaslike.payload import decode, looks_like_payload, merged_config
with open(sys.argv[1], "rb") as handle:
    data = handle.read()
start = time.perf_counter()
claimed = looks_like_payload(data)
try:
    merged_config(decode(data))
    outcome = "decoded"
except MaaslikeError as exc:
    kinds = [kind.__name__ for kind in type(exc).__mro__
             if kind.__name__ in ("NotAPayload", "PayloadError", "DocumentLimitError", "DocumentError")]
    outcome = f"{{(kinds or [type(exc).__name__])[0]}}: {{exc}}"
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(json.dumps({{"seconds": elapsed, "peak_mb": peak, "claimed": claimed, "outcome": outcome}}))
"""

BUILD = r"""
import sys
sys.path.insert(0, {repo!r})
from tests.fixtures.payload import hostile
with open(sys.argv[1], "wb") as handle:
    handle.write({expression})
"""

STARTUP = r"""
import json, resource, sys
sys.path.insert(0, {repo!r})
from cloudinit_maaslike.payload import decode, looks_like_payload, merged_config
import tarfile, yaml, email
print(json.dumps({{"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}}))
"""


# (name, expression building the input from tests/fixtures/payload/hostile.py)
CASES: List[Tuple[str, str]] = [
    ("baseline: normal 1 MiB payload", "hostile.normal_payload()"),
    ("100 KB header line", "hostile.long_header_line()"),
    ("60 KB header line (within bounds)", "hostile.long_header_line(60_000)"),
    ("256 KiB of header assignments", "hostile.many_assignments()"),
    ("3,000-deep directories", "hostile.deep_directories()"),
    ("10,000 members 63 deep", "hostile.deep_members()"),
    ("10,000 members", "hostile.many_members()"),
    ("symlink maze", "hostile.symlink_maze()"),
    ("60 MiB zero member (within budget)", "hostile.zero_member_archive()"),
    ("gzip bomb archive (700 MiB)", "hostile.zero_bomb_archive()"),
    ("gzip user-data padded 600 MiB", "hostile.padded_gzip_userdata()"),
    ("MIME, 5,000 parts", "hostile.mime_many_parts()"),
    ("MIME, 2,000 nested", "hostile.mime_nested()"),
    ("MIME, 8 gzip bombs of 80 MiB", "hostile.mime_gzip_bombs(parts=8)"),
    ("YAML: 50,000 nested [", "hostile.with_config(hostile.nested_flow())"),
    ("YAML: alias bomb", "hostile.with_config(hostile.ALIAS_BOMB)"),
    ("YAML: 99,999 nodes (within bounds)", "hostile.with_config('a: [' + '1,' * 99_996 + '1]\\n')"),
    ("YAML: 700 KB dense flow list", "hostile.with_config('a: [' + '1,' * 350_000 + '1]\\n')"),
    ("random bytes", "hostile.random_bytes()"),
]


def build(expression: str, path: str) -> None:
    subprocess.run([sys.executable, "-c", BUILD.format(repo=REPO, expression=expression), path], check=True)


def run_child(path: str) -> Dict[str, object]:
    code = CHILD.format(limit=CHILD_AS_LIMIT, repo=REPO)
    try:
        done = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                              timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"seconds": CHILD_TIMEOUT, "peak_mb": float("nan"), "claimed": None,
                "outcome": f"TIMEOUT after {CHILD_TIMEOUT:.0f} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"seconds": float("nan"), "peak_mb": float("nan"), "claimed": None,
                "outcome": f"CRASH rc={done.returncode}: {last[:100]}"}
    result: Dict[str, object] = json.loads(done.stdout)
    return result


def measure(path: str, runs: int) -> Dict[str, object]:
    results = [run_child(path) for _ in range(runs)]
    seconds = [float(str(r["seconds"])) for r in results]
    peaks = [float(str(r["peak_mb"])) for r in results]
    return {"seconds": statistics.median(seconds), "peak_mb": max(peaks), "claimed": results[0]["claimed"],
            "outcome": results[0]["outcome"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="child processes per input (median time, max peak)")
    parser.add_argument("--only", nargs="*", default=(), help="substrings of the case names to run")
    args = parser.parse_args()

    startup = json.loads(subprocess.run([sys.executable, "-c", STARTUP.format(repo=REPO)], capture_output=True,
                                        text=True, check=True).stdout)["peak_mb"]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; interpreter + imports alone: "
          f"{startup:.0f} MB peak; {args.runs} runs each (median time, max peak)\n")
    rows = []
    baseline = None
    with tempfile.TemporaryDirectory(prefix="decode-bounds-") as scratch:
        for number, (name, expression) in enumerate(CASES):
            if args.only and number and not any(o in name for o in args.only):
                continue
            path = os.path.join(scratch, f"input-{number}")
            started = time.perf_counter()
            build(expression, path)
            built = time.perf_counter() - started
            result = measure(path, args.runs)
            result.update(name=name, size=os.path.getsize(path), built=built)
            if baseline is None:
                baseline = result
            rows.append(result)

    assert baseline is not None
    base_s = float(str(baseline["seconds"]))
    base_mb = float(str(baseline["peak_mb"]))
    header = f"{'input':34} {'bytes':>9} {'time ms':>8} {'x base':>7} {'peak MB':>8} {'x base':>7} {'ok':>3}  outcome"
    print(header)
    print("-" * len(header))
    failures = 0
    for row in rows:
        seconds = float(str(row["seconds"]))
        peak = float(str(row["peak_mb"]))
        within = seconds < TARGET_SECONDS and peak < TARGET_MB
        failures += not within
        outcome = str(row["outcome"])
        outcome = outcome if len(outcome) <= 90 else outcome[:87] + "..."
        print(f"{str(row['name']):34} {int(str(row['size'])):>9} {seconds * 1000:>8.0f} {seconds / base_s:>7.1f} "
              f"{peak:>8.0f} {peak / base_mb:>7.2f} {'yes' if within else 'NO':>3}  {outcome}")
    print(f"\ntarget: < {TARGET_SECONDS:.0f} s and < {TARGET_MB:.0f} MB peak for any input up to 1 MiB; "
          f"{len(rows) - failures}/{len(rows)} within")
    return 0


if __name__ == "__main__":
    sys.exit(main())
