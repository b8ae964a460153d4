#!/usr/bin/env python3
"""Partitioning and extraction figures, side by side in one run (root only).

1. Root tarball over loopback HTTP (the Debian 12 `target` root from
   tests/harness/images.py, cached: about 800 MB unpacked) onto a fresh ext4
   filesystem on a loop device (direct I/O): our extract stage (`maaslike install`, whole process) against
   curtin's `wget -O - URL | tar -xz` with its flags; gzip and zstd images.
   Targets: ours at least as fast as wget|tar on gzip, and our zstd at least
   1.5x faster than our gzip.  Every run ends with a sync.
2. dd image: `dd-raw:` over loopback HTTP and from a file, against `dd`
   writing the same raw bytes to the same loop device (with fsync).
   Target: at least 90 % of dd's throughput.
3. Validation of a 20-entry storage config.  Target: under 20 ms.

Run: `make bench` (or `.venv/bin/python bench/extract.py [--runs N]`).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

MiB = 1 << 20


def sh(*argv: str) -> str:
    return subprocess.run(list(argv), check=True, capture_output=True, text=True).stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`maaslike serve --images` in its own process (aiohttp, sendfile)."""

    def __init__(self, workdir: str, images: str):
        self.port = free_port()
        nodes = os.path.join(workdir, "nodes.yaml")
        with open(nodes, "w") as handle:
            handle.write("nodes:\n  - {system_id: b1, hostname: b}\n")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cloudinit_maaslike", "serve", "--nodes", nodes, "--state-dir",
             os.path.join(workdir, "state"), "--port", str(self.port), "--images", images],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("bench: the image server did not start")

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/images/{name}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


class Loop:
    def __init__(self, workdir: str, size: int):
        self.file = os.path.join(workdir, "disk.img")
        with open(self.file, "wb") as handle:
            handle.truncate(size)
        # Direct I/O: no second page cache behind the loop device, as a real disk has none.
        self.dev = sh("losetup", "--find", "--show", "--direct-io=on", self.file).strip()
        self.mnt = os.path.join(workdir, "mnt")
        os.makedirs(self.mnt, exist_ok=True)

    def fresh_fs(self) -> str:
        subprocess.run(["umount", self.mnt], capture_output=True)
        sh("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", self.dev)
        sh("mount", self.dev, self.mnt)
        sh("sync")
        return self.mnt

    def close(self) -> None:
        subprocess.run(["umount", self.mnt], capture_output=True)
        subprocess.run(["losetup", "-d", self.dev], capture_output=True)


def timed(step: Callable[[], None]) -> float:
    started = time.perf_counter()
    step()
    subprocess.run(["sync"], check=True)
    return time.perf_counter() - started


def run(argv: List[str], **kwargs) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv[:4])} failed: {(done.stderr or done.stdout)[-600:]}")


def ours(workdir: str, source: str, target: str, extra: Dict[str, object]) -> None:
    cfg = {"install": {"log_file": os.path.join(workdir, "install.log"), "error_tarfile": None,
                       "post_files": [], "save_install_config": None, "save_install_log": None,
                       "unmount": "disabled"},
           "stages": ["extract"], "sources": [source]}
    cfg.update(extra)
    path = os.path.join(workdir, "extract.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(cfg, handle)
    maaslike = os.path.join(os.path.dirname(sys.executable), "maaslike")
    run([maaslike, "install", "-c", path, "-t", target, "--workdir", os.path.join(workdir, "work")])


def curtin_like(url: str, target: str, flag: str) -> None:
    run(["sh", "-c", f'set -e; wget -q -O - "$1" | tar -C "$2" --xattrs --xattrs-include="*" '
                     f'--numeric-owner -xp{flag}f -', "sh", url, target])


def bench_tarball(workdir: str, runs: int) -> Dict[str, List[float]]:
    from tests.harness import images

    image = images.ensure("target")  # a real Debian 12 root: kernel, grub, cloud-init
    served = os.path.join(workdir, "served")
    os.makedirs(served)
    for name in ("root.tar.gz", "root.tar.zst"):
        os.link(image.file(name), os.path.join(served, name))
    loop = Loop(workdir, 3072 * MiB)
    server = Server(workdir, served)
    samples: Dict[str, List[float]] = {"wget | tar -xz (curtin)": [], "maaslike gzip": [],
                                       "maaslike zstd": []}
    try:
        for _ in range(runs):
            samples["wget | tar -xz (curtin)"].append(timed(functools.partial(
                curtin_like, server.url("root.tar.gz"), loop.fresh_fs(), "z")))
            samples["maaslike gzip"].append(timed(functools.partial(
                ours, workdir, server.url("root.tar.gz"), loop.fresh_fs(), {})))
            samples["maaslike zstd"].append(timed(functools.partial(
                ours, workdir, server.url("root.tar.zst"), loop.fresh_fs(), {})))
        size = int(sh("du", "-sb", loop.mnt).split()[0])
    finally:
        server.stop()
        loop.close()
    print(f"   (root: {os.path.getsize(image.file('root.tar.gz')) / MiB:.0f} MiB gzip, "
          f"{os.path.getsize(image.file('root.tar.zst')) / MiB:.0f} MiB zstd, {size / MiB:.0f} MiB extracted)")
    return samples


def bench_dd(workdir: str, runs: int, size: int) -> Dict[str, List[float]]:
    served = os.path.join(workdir, "dd")
    os.makedirs(served)
    raw = os.path.join(served, "disk.raw")
    with open(raw, "wb") as handle:  # compressible-ish, realistic: half random, half zeros
        block = os.urandom(MiB)
        for i in range(size // MiB):
            handle.write(block if i % 2 else bytes(MiB))
    loop = Loop(workdir, size + 64 * MiB)
    server = Server(workdir, served)
    samples: Dict[str, List[float]] = {"dd bs=4M": [], "maaslike dd-raw (http)": [],
                                       "maaslike dd-raw (file)": []}
    extra = {"block-meta": {"devices": [loop.dev]}, "install": {
        "log_file": os.path.join(workdir, "install.log"), "error_tarfile": None, "post_files": [],
        "save_install_config": None, "save_install_log": None, "unmount": "disabled"}}
    try:
        for _ in range(runs):
            samples["dd bs=4M"].append(timed(lambda: run(
                ["dd", f"if={raw}", f"of={loop.dev}", "bs=4M", "conv=fsync", "status=none"])))
            for name, source in (("maaslike dd-raw (http)", f"dd-raw:{server.url('disk.raw')}"),
                                 ("maaslike dd-raw (file)", f"dd-raw:file://{raw}")):
                target = tempfile.mkdtemp(dir=workdir)
                try:
                    samples[name].append(timed(functools.partial(ours_dd, workdir, source, target, extra)))
                finally:
                    subprocess.run(["umount", "-R", target], capture_output=True)
    finally:
        server.stop()
        loop.close()
    return samples


def ours_dd(workdir: str, source: str, target: str, extra: Dict[str, object]) -> None:
    """dd-raw onto the disk (the bench image holds no filesystem: nothing is mounted)."""
    cfg = dict(extra, stages=["extract"], sources=[source])
    path = os.path.join(workdir, "dd.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(cfg, handle)
    maaslike = os.path.join(os.path.dirname(sys.executable), "maaslike")
    run([maaslike, "install", "-c", path, "-t", target, "--workdir", os.path.join(workdir, "work")])


def bench_validation(runs: int) -> float:
    from cloudinit_maaslike.storage.schema import parse_storage

    entries: List[Dict[str, object]] = [{"id": "sda", "type": "disk", "serial": "S", "ptable": "gpt",
                                         "wipe": "superblock"}]
    for i in range(1, 8):
        entries += [{"id": f"p{i}", "type": "partition", "device": "sda", "size": "1G", "number": i},
                    {"id": f"f{i}", "type": "format", "volume": f"p{i}", "fstype": "ext4"},
                    {"id": f"m{i}", "type": "mount", "device": f"f{i}", "path": "/" if i == 1 else f"/d{i}"}]
    config = {"version": 1, "config": entries[:20]}
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        parse_storage(json.loads(json.dumps(config)))
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def report(samples: Dict[str, List[float]], base: str) -> Dict[str, float]:
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        print(f"   {name:26s} {value * 1000:8.0f} ms   x{medians[base] / value:4.2f} vs {base}")
    return medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dd-size", type=int, default=3072, help="MiB (real images are gigabytes)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench: needs root (loop devices, mounts)")
    workdir = tempfile.mkdtemp(prefix="maaslike-bench-extract-")
    try:
        print(f"1. root tarball over loopback HTTP onto a loop-backed ext4, median of {args.runs}")
        t = report(bench_tarball(workdir, args.runs), "wget | tar -xz (curtin)")
        gz_ok = t["maaslike gzip"] <= t["wget | tar -xz (curtin)"]
        zst_ratio = t["maaslike gzip"] / t["maaslike zstd"]
        print(f"   -> gzip: maaslike {'at least as fast as' if gz_ok else 'SLOWER than'} wget|tar: "
              f"{'PASS' if gz_ok else 'FAIL'}; zstd {zst_ratio:.2f}x faster than gzip (target >= 1.5): "
              f"{'PASS' if zst_ratio >= 1.5 else 'FAIL'}")
        print(f"2. dd image of {args.dd_size} MiB onto a loop device, median of {args.runs}")
        d = report(bench_dd(workdir, args.runs, args.dd_size * MiB), "dd bs=4M")
        for name in ("maaslike dd-raw (http)", "maaslike dd-raw (file)"):
            share = d["dd bs=4M"] / d[name]
            print(f"   -> {name}: {share * 100:.0f} % of dd's throughput (target >= 90 %): "
                  f"{'PASS' if share >= 0.9 else 'FAIL'}")
        v = bench_validation(200)
        print(f"3. validating a 20-entry storage config: {v * 1000:.2f} ms (target < 20 ms): "
              f"{'PASS' if v < 0.02 else 'FAIL'}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
