#!/usr/bin/env python3
"""Payload decoding speed, side by side with its baselines.

Not a timed test: it prints figures measured in one run on this machine.

The payload is about 300 KB, the size of what MAAS serves (curtin's Python
package plus the configs): this project's package, MAAS-style configs, and
generated Python-like files to reach the size.

* ours: `decode()` (unwrap, header, COMMAND, base64, MD5, safe tar read) and
  `merged_config()` (YAML of every config, curtin's merge).  Target: < 50 ms.
* baseline 1: the bare stdlib work on the same bytes: split at the marker,
  base64, gunzip, read every tar member into memory (no checks, no YAML).
* baseline 2: ``bash payload --no-execute``, the script extracting itself.

Run: `.venv/bin/python bench/payload.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from typing import Callable, List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from cloudinit_maaslike.payload import decode, merged_config, pack  # noqa: E402

TARGET_BYTES = 300 * 1024
TARGET_MS = 50.0
FIXTURES = os.path.join(REPO, "tests", "fixtures", "payload")
WORDS = [
    "def", "return", "self", "import", "from", "class", "if", "else", "for", "in", "while", "try",
    "except", "raise", "with", "as", "None", "True", "False", "config", "target", "device", "partition",
    "mount", "format", "storage", "source", "install", "curtin", "block", "meta", "network", "apt",
    "proxy", "kernel", "grub", "efi", "disk", "volume", "path", "size", "wipe", "preserve", "label",
]


def maas_configs() -> List[str]:
    names = sorted(n for n in os.listdir(FIXTURES) if n.startswith("maas-config-"))
    configs = []
    for name in names:
        with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
            configs.append(handle.read())
    return configs


def filler_module(rng: random.Random, lines: int) -> bytes:
    out = []
    for _ in range(lines):
        indent = "    " * rng.randint(0, 3)
        words = [rng.choice(WORDS) + (str(rng.randint(0, 99)) if rng.random() < 0.3 else "")
                 for _ in range(rng.randint(2, 9))]
        out.append(indent + " ".join(words))
    return ("\n".join(out) + "\n").encode()


def build_payload(workdir: str) -> bytes:
    """Grow generated modules until the payload is about TARGET_BYTES."""
    rng = random.Random(4)
    extra_dir = os.path.join(workdir, "fake_curtin")
    os.makedirs(extra_dir)
    source = "http://10.20.0.2:5248/images/ubuntu/amd64/ga-22.04/jammy/stable/squashfs"
    index = 0
    while True:
        data = pack(maas_configs(), [source], extra_files=[(extra_dir, "curtin")], created=1700000000)
        if len(data) >= TARGET_BYTES:
            return data
        with open(os.path.join(extra_dir, f"module_{index:03d}.py"), "wb") as handle:
            handle.write(filler_module(rng, 120))
        index += 1


def stdlib_baseline(data: bytes) -> int:
    _, _, body = data.partition(b"\n_____PAYLOAD_____\n")
    raw = gzip.decompress(base64.b64decode(body))
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        files = {info.name: tar.extractfile(info).read() for info in tar if info.isreg()}
    return len(files)


def ours(data: bytes) -> int:
    payload = decode(data)
    return len(merged_config(payload)) + len(payload.members)


def bash_extract(path: str) -> None:
    with tempfile.TemporaryDirectory() as cwd:
        subprocess.run(["bash", path, "--no-execute"], cwd=cwd, check=True, capture_output=True)


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm caches and imports
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        data = build_payload(workdir)
        path = os.path.join(workdir, "payload.sh")
        with open(path, "wb") as handle:
            handle.write(data)
        payload = decode(data)
        print(f"payload: {len(data) / 1024:.0f} KiB, {len(payload.members)} members, "
              f"{len(payload.configs)} configs")
        ours_ms = median_ms(lambda: ours(data), args.runs)
        stdlib_ms = median_ms(lambda: stdlib_baseline(data), args.runs)
        bash_ms = median_ms(lambda: bash_extract(path), max(3, args.runs // 3))
    verdict = "OK" if ours_ms < TARGET_MS else "MISSED"
    rows = [
        ("decode + merged_config (ours)", ours_ms, f"target < {TARGET_MS:.0f} ms: {verdict}"),
        ("baseline: stdlib base64+gunzip+untar", stdlib_ms, f"ours/baseline = {ours_ms / stdlib_ms:.2f}"),
        ("baseline: bash payload --no-execute", bash_ms, f"ours/baseline = {ours_ms / bash_ms:.2f}"),
    ]
    for name, value, note in rows:
        print(f"{name:<40}{value:8.1f} ms   {note}")
    return 0 if ours_ms < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
