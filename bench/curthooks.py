#!/usr/bin/env python3
"""Curthooks time on a Debian 12 minbase root, the way MAAS configures a node.

Every built-in step runs on a fresh copy of the minbase root (an overlay on
the cached image): apt proxy and sources, debconf selections (MAAS's), files,
swap, the cloudconfig files that point the installed system at MAAS, the
network config, fstab and hostname.  The minbase root has no kernel and no
grub, so update-initramfs and grub-install are not part of the figure (the
issue asks for the time without them).  The baseline is the cost of the
in-target calls themselves: the same number of `true` commands through the
same chroot helper.  Target: under 2 s.

Run: `make bench` (or `.venv/bin/python bench/curthooks.py [--runs N]`), as root.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import List, Optional, Sequence

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.harness import hostapt  # noqa: E402

MAAS_LIKE = {
    "apt": {"proxy": "http://10.0.0.1:8000/", "preserve_sources_list": False,
            "sources_list": "deb $PRIMARY $RELEASE main\ndeb $SECURITY $RELEASE-security main",
            "primary": [{"arches": ["default"], "uri": hostapt.mirrors()[0]}]},
    "debconf_selections": {
        "maas": "cloud-init   cloud-init/datasources  multiselect MAAS\n"
                "cloud-init   cloud-init/maas-metadata-url  string http://10.0.0.1:5248/MAAS/metadata/\n"
                "cloud-init   cloud-init/maas-metadata-credentials  string "
                "oauth_consumer_key=C&oauth_token_key=T&oauth_token_secret=S",
        "grub2": "grub2   grub2/update_nvram  boolean false",
    },
    "cloudconfig": {
        "90_maas_datasource": {"content": "datasource_list: [ MAAS ]\n"},
        "90_maas_cloud_config": {"content": "datasource:\n  MAAS: {consumer_key: C, token_key: T, "
                                            "token_secret: S, metadata_url: 'http://10.0.0.1:5248/MAAS/metadata/'}\n"},
        "90_maas_cloud_init_reporting": {"content": "reporting: {maas: {type: webhook, endpoint: x}}\n"},
    },
    "write_files": {"motd": {"path": "/etc/motd", "content": "installed by maaslike\n"}},
    "swap": {"size": "256M"},
    "hostname": "bench-node.maas",
    "kernel": {"install": False},
    "grub": {"install_devices": []},
}
NETWORK = {"network": {"version": 1, "config": [
    {"type": "physical", "name": "eth0", "mac_address": "52:54:00:12:34:56",
     "subnets": [{"type": "static", "address": "10.0.0.20/24", "gateway": "10.0.0.1"}]},
    {"type": "nameserver", "address": ["10.0.0.1"], "search": ["maas"]}]}}


def sh(*argv: str) -> None:
    subprocess.run(list(argv), check=True, capture_output=True)


def overlay(lower: str, workdir: str) -> str:
    upper, work, merged = (os.path.join(workdir, n) for n in ("upper", "work", "merged"))
    for path in (upper, work, merged):
        os.makedirs(path)
    sh("mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}", merged)
    return merged


def state(workdir: str) -> dict:
    names = ("fstab", "network_config", "network_state", "interfaces", "storage_config")
    for name in names:
        with open(os.path.join(workdir, name), "w") as handle:
            handle.write("")
    with open(os.path.join(workdir, "fstab"), "w") as handle:
        handle.write("# / was on /dev/vda1\n/dev/disk/by-uuid/1234 / ext4 defaults 0 1\n")
    with open(os.path.join(workdir, "network_config"), "w") as handle:
        yaml.safe_dump(NETWORK, handle)
    return {name: os.path.join(workdir, name) for name in names}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench: needs root (overlay mounts, chroot)")
    from cloudinit_maaslike.chroot import run_in_target
    from cloudinit_maaslike.curthooks import builtin_curthooks
    from cloudinit_maaslike.runner import Finished
    from tests.harness import images

    image = images.ensure("minbase")
    base = tempfile.mkdtemp(prefix="maaslike-bench-curthooks-")
    log = logging.getLogger("bench")
    ours: List[float] = []
    calls: List[float] = []
    try:
        lower = os.path.join(base, "root")
        os.makedirs(lower)
        sh("tar", "--zstd", "-xpf", image.file("root.tar.zst"), "-C", lower, "--numeric-owner")
        for run in range(args.runs):
            workdir = os.path.join(base, f"run{run}")
            os.makedirs(workdir)
            target = overlay(lower, workdir)
            count = [0]

            def in_target(argv: Sequence[str], stdin: Optional[str], target: str = target,
                          count: List[int] = count) -> Finished:
                count[0] += 1
                return run_in_target(target, argv, dict(os.environ), log, stdin=stdin)

            try:
                started = time.perf_counter()
                builtin_curthooks(MAAS_LIKE, target, state(workdir), log=log, in_target=in_target)
                ours.append(time.perf_counter() - started)
                started = time.perf_counter()
                for _ in range(count[0]):
                    run_in_target(target, ["true"], dict(os.environ), log)
                calls.append(time.perf_counter() - started)
            finally:
                subprocess.run(["umount", target], capture_output=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    total, baseline = statistics.median(ours), statistics.median(calls)
    print(f"curthooks on a Debian minbase root, median of {args.runs}")
    print(f"   in-target calls alone ({count[0]}x true)  {baseline * 1000:7.0f} ms")
    print(f"   all built-in steps                 {total * 1000:7.0f} ms   (x{total / baseline:.1f} of the calls)")
    print(f"   -> {total:.2f} s (target < 2 s, without update-initramfs/grub-install): "
          f"{'PASS' if total < 2 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
