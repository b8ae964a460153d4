#!/usr/bin/env python3
"""Stall detection with the DEFAULT settings, against healthy transfers of the same size.

Not a timed test: it prints figures measured in one run on this machine.

1. Image download (`SourceReader`, as the extract stage reads a source) from
   a loopback server that misbehaves in three ways: the body drips one byte
   every 2 s after the first MiB (each resumed request drips at once), the
   headers drip one byte every 2 s, or nothing is ever answered.  Printed:
   the seconds until the stage's error, next to a healthy download of the
   same image, and the ratio.  Target: every stall given up on in < 120 s.
2. The same healthy image read two ways: through `SourceReader` (stall
   watch, sha256 off) and as a plain `stream.read(4 MiB)` loop, the way the
   reader read before.  Target: the watch costs < 10 % of throughput.
3. Metadata crawl with the default timeout, request_deadline and max_wait
   against a server dripping every item, next to a healthy crawl of the same
   items.  Target: ends by max_wait + 1.5 s.

The slow scenarios run at the same time (they only wait), so a run takes
about two minutes.

Run: `.venv/bin/python bench/stall.py [--size-mib N]`.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from cloudinit_maaslike.config.model import DownloadSettings  # noqa: E402
from cloudinit_maaslike.dsconfig import DEFAULT_MAX_WAIT, DEFAULT_REQUEST_DEADLINE, DEFAULT_TIMEOUT  # noqa: E402
from cloudinit_maaslike.httpclient import HttpClient  # noqa: E402
from cloudinit_maaslike.metadata import crawl  # noqa: E402
from cloudinit_maaslike.sources.reader import SourceReader  # noqa: E402
from tests.integration.dripserver import DripServer  # noqa: E402

MiB = 1 << 20
MD = "/MAAS/metadata/2012-03-01/"
ITEMS = ("meta-data/instance-id", "meta-data/local-hostname", "meta-data/public-keys",
         "meta-data/vendor-data", "user-data")
DRIP = 2.0  # seconds between two bytes


def read_all(url: str) -> int:
    reader = SourceReader(url, look_for_sums=False)
    reader.open()
    count = 0
    while True:
        data = reader.read(4 * MiB)
        if not data:
            break
        count += len(data)
    reader.finish()
    return count


def plain_read(url: str) -> int:
    stream = HttpClient().stream(url)
    count = 0
    while True:
        data = stream.read(4 * MiB)
        if not data:
            break
        count += len(data)
    stream.close()
    return count


def until_error(fn: Callable[[], object]) -> Tuple[float, str]:
    started = time.monotonic()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the error is the measurement
        return time.monotonic() - started, str(exc)
    return time.monotonic() - started, "(no error: not detected)"


def best_of(runs: int, fn: Callable[[], object]) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return min(samples)


HEALTHY_SERVER = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
from tests.integration.dripserver import DripServer
server = DripServer(files={"/image": os.urandom(int(sys.argv[2]))})
print(server.base, flush=True)
sys.stdin.read()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256, help="image size (default 256)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each healthy transfer")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the resume warnings would interleave with the figures
    d = DownloadSettings()
    files = {"/image": os.urandom(args.size_mib * MiB), **{MD + i: b"x" * 400 for i in ITEMS}}
    scenarios = {
        "body drips after 1 MiB": ({"script": {"/image": [("drip", MiB, DRIP), ("drip", 0, DRIP)]}}, "image"),
        "headers drip": ({"default": ("drip-headers", DRIP)}, "image"),
        "never answers": ({"default": ("silent",)}, "image"),
        "metadata crawl, items drip": ({"default": ("drip", 0, DRIP)}, "crawl"),
    }
    servers: List[DripServer] = []
    results: Dict[str, Tuple[float, str]] = {}

    def run(name: str, server: DripServer, what: str) -> None:
        if what == "crawl":
            results[name] = until_error(lambda: crawl(server.url("/MAAS/metadata/"), None))
        else:
            results[name] = until_error(lambda: read_all(server.url("image")))

    # The healthy server runs in a process of its own: throughput is not bound by our GIL.
    healthy = subprocess.Popen([sys.executable, "-c", HEALTHY_SERVER, REPO, str(args.size_mib * MiB)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert healthy.stdout is not None
        base = healthy.stdout.readline().strip()
        threads = []
        for name, (kwargs, what) in scenarios.items():
            server = DripServer(files=files, **kwargs)
            servers.append(server)
            threads.append(threading.Thread(target=run, args=(name, server, what), daemon=True))
        for thread in threads:
            thread.start()
        # Healthy figures while the slow ones wait (they use no CPU).
        watched = best_of(args.runs, lambda: read_all(base + "/image"))
        plain = best_of(args.runs, lambda: plain_read(base + "/image"))
        crawl_server = DripServer(files=files)
        servers.append(crawl_server)
        crawled = statistics.median(
            [best_of(1, lambda: crawl(crawl_server.url("/MAAS/metadata/"), None)) for _ in range(args.runs)])
        for thread in threads:
            thread.join()
    finally:
        for made in servers:
            made.stop()
        healthy.kill()
        healthy.wait()

    bound = d.stall_seconds * (1 + d.stall_retries)
    print(f"defaults: install.download_stall_seconds={d.stall_seconds:g}, download_min_rate={d.min_rate}, "
          f"download_stall_retries={d.stall_retries} (bound ~{bound:g} s + a slow SHA256SUMS <= 10 s)")
    print(f"1. image download of {args.size_mib} MiB, a byte every {DRIP:g} s when dripping; baseline: "
          f"healthy download {watched:.2f} s ({args.size_mib / watched:.0f} MiB/s)")
    worst = 0.0
    for name in ("body drips after 1 MiB", "headers drip", "never answers"):
        seconds, error = results[name]
        worst = max(worst, seconds)
        print(f"   {name:24s} given up after {seconds:6.1f} s   x{seconds / watched:6.0f} of healthy   "
              f"| {error[:150]}")
    print(f"   -> slowest detection {worst:.1f} s (target < 120 s): {'PASS' if worst < 120 else 'FAIL'}")
    overhead = watched / plain - 1
    print(f"2. healthy {args.size_mib} MiB: SourceReader {args.size_mib / watched:.0f} MiB/s, plain "
          f"stream.read loop {args.size_mib / plain:.0f} MiB/s: watch costs {overhead * 100:+.1f} % "
          f"(target < 10 %): {'PASS' if overhead < 0.10 else 'FAIL'}")
    seconds, error = results["metadata crawl, items drip"]
    print(f"3. metadata crawl with timeout={DEFAULT_TIMEOUT:g}, request_deadline={DEFAULT_REQUEST_DEADLINE:g}, "
          f"max_wait={DEFAULT_MAX_WAIT:g}: healthy {crawled * 1000:.0f} ms; dripping: given up after "
          f"{seconds:.1f} s (target <= {DEFAULT_MAX_WAIT + 1.5:g} s): "
          f"{'PASS' if seconds <= DEFAULT_MAX_WAIT + 1.5 else 'FAIL'}")
    print(f"   | {error[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
