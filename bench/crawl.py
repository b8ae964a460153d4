#!/usr/bin/env python3
"""Crawl speed, side by side: `maaslike crawl` against cloud-init's DataSourceMAAS.

Not a timed test: it prints ratios measured in one run on this machine,
alternating the contenders so noise hits both alike.

1. Whole-process crawl, server adding 50 ms to every request: `maaslike
   crawl` vs cloud-init 22.4.2's (and 25.1.4's) DataSourceMAAS `_get_data()`,
   each in a process of its own.  Target: ours at least 3x faster than 22.4.2.
2. Node 2 h behind the server, host TZ=America/New_York, 50 ms per request:
   `maaslike crawl` with nothing learned yet.  Target: under 0.6 s.
3. What importing our datasource adds to cloud-init's start: processes that
   import cloud-init's main and sources, with and without our module.
   Target: under 50 ms.

Run: `make bench` (or `.venv/bin/python bench/crawl.py [--runs N]`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.harness import ciroot  # noqa: E402

LATENCY = 0.05
NODES = """\
nodes:
  - system_id: bench1
    hostname: bench-node
    public_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench bench@lab"]
    user_data: "#cloud-config\\nfinal_message: bench\\n"
    vendor_data: {ntp: {enabled: true}}
"""

CLOUDINIT_CRAWL = r"""
import sys, json, tempfile
from cloudinit import helpers
from cloudinit.sources import DataSourceMAAS
cfg = json.loads(sys.argv[1])
tmp = tempfile.mkdtemp()
paths = helpers.Paths({"cloud_dir": tmp, "run_dir": tmp})
ds = DataSourceMAAS.DataSourceMAAS({"datasource": {"MAAS": cfg}}, None, paths)
assert ds._get_data(), "DataSourceMAAS found nothing"
print(ds.metadata["instance-id"])
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`maaslike serve` in its own process, so it does not share our GIL."""

    def __init__(self, workdir: str, latency: float, clock_offset: float = 0.0):
        self.port = free_port()
        nodes = os.path.join(workdir, "nodes.yaml")
        with open(nodes, "w") as handle:
            handle.write(NODES)
        state = os.path.join(workdir, f"state-{self.port}")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cloudinit_maaslike", "serve", "--nodes", nodes,
             "--state-dir", state, "--port", str(self.port), "--latency", str(latency),
             "--clock-offset", str(clock_offset)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        with open(os.path.join(state, "credentials.json")) as handle:
            self.creds = json.load(handle)["bench1"]

    @property
    def metadata_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/MAAS/metadata/curtin"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def timed(cmd: List[str], env: Dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:3])} failed: {done.stderr.strip()[-400:]}")
    return elapsed


def maaslike_cmd(server: Server, skew_file: str) -> List[str]:
    c = server.creds
    script = os.path.join(os.path.dirname(sys.executable), "maaslike")
    return [script, "crawl", "--metadata-url", server.metadata_url,
            "--consumer-key", c["consumer_key"], "--token-key", c["token_key"],
            "--token-secret", c["token_secret"], "--skew-file", skew_file]


def cloudinit_cmd(server: Server) -> List[str]:
    cfg = dict(server.creds, metadata_url=server.metadata_url)
    return [sys.executable, "-c", CLOUDINIT_CRAWL, json.dumps(cfg)]


def cloudinit_env(version: str) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = ciroot.versions()[version]["pythonpath"]
    return env


def median_ms(samples: List[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.0f} ms"


def bench_crawl(workdir: str, runs: int) -> Dict[str, List[float]]:
    server = Server(workdir, LATENCY)
    results: Dict[str, List[float]] = {"maaslike": []}
    versions = sorted(ciroot.versions())
    for v in versions:
        results[f"cloud-init {v}"] = []
    try:
        env = dict(os.environ)
        for i in range(runs):
            skew = os.path.join(workdir, f"skew-{i}.json")
            results["maaslike"].append(timed(maaslike_cmd(server, skew), env))
            for v in versions:
                results[f"cloud-init {v}"].append(timed(cloudinit_cmd(server), cloudinit_env(v)))
    finally:
        server.stop()
    return results


def bench_skew(workdir: str, runs: int) -> List[float]:
    server = Server(workdir, LATENCY, clock_offset=7200)
    samples = []
    try:
        env = dict(os.environ, TZ="America/New_York")
        for i in range(runs):
            skew = os.path.join(workdir, f"skew-ny-{i}.json")  # nothing learned yet
            samples.append(timed(maaslike_cmd(server, skew), env))
            with open(skew) as handle:
                offset = next(iter(json.load(handle)["servers"].values()))["offset"]
            assert abs(offset - 7200) < 3, offset
    finally:
        server.stop()
    return samples


def bench_import(runs: int) -> Dict[str, List[float]]:
    version = sorted(ciroot.versions())[-1]
    env = cloudinit_env(version)
    env["PYTHONPATH"] += os.pathsep + os.path.join(REPO, "shims") + os.pathsep + REPO
    base = "import cloudinit.cmd.main, cloudinit.sources, cloudinit.url_helper"
    cmds = {
        "cloud-init start": [sys.executable, "-c", base],
        "+ DataSourceMAASLike": [sys.executable, "-c", base + "; import DataSourceMAASLike"],
    }
    samples: Dict[str, List[float]] = {k: [] for k in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            samples[name].append(timed(cmd, env))
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    if not ciroot.versions():
        raise SystemExit("bench: cloud-init .debs are not unpacked; run `make cloudinit` first")
    workdir = tempfile.mkdtemp(prefix="maaslike-bench-")
    try:
        print(f"1. whole-process crawl, {LATENCY * 1000:.0f} ms added per request, "
              f"median of {args.runs} (alternating)")
        crawl = bench_crawl(workdir, args.runs)
        ours = statistics.median(crawl["maaslike"])
        for name, samples in crawl.items():
            ratio = statistics.median(samples) / ours
            print(f"   {name:22s} {median_ms(samples)}   x{ratio:4.1f} of maaslike")
        ratio_22 = statistics.median(crawl["cloud-init 22.4.2"]) / ours
        print(f"   -> maaslike is {ratio_22:.1f}x faster than cloud-init 22.4.2 (target >= 3x): "
              f"{'PASS' if ratio_22 >= 3 else 'FAIL'}")

        print("2. node 2 h behind the server, TZ=America/New_York, 50 ms per request")
        skew = bench_skew(workdir, args.runs)
        print(f"   maaslike crawl         {median_ms(skew)}   (max {max(skew) * 1000:.0f} ms; "
              f"target < 600 ms: {'PASS' if statistics.median(skew) < 0.6 else 'FAIL'})")

        print("3. importing the datasource at cloud-init start")
        imports = bench_import(args.runs * 2)
        base = statistics.median(imports["cloud-init start"])
        withds = statistics.median(imports["+ DataSourceMAASLike"])
        for name, samples in imports.items():
            print(f"   {name:22s} {median_ms(samples)}")
        added = (withds - base) * 1000
        print(f"   -> adds {added:.1f} ms (target < 50 ms): {'PASS' if added < 50 else 'FAIL'}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
