#!/usr/bin/env python3
"""Download Debian's cloud-init 22.4.2 (bookworm) and 25.1.4 (trixie) and unpack them.

The tests run the real cloud-init code of both releases, unpacked from the
.debs (never installed).  apt is pointed at a sources file and state
directories of our own under the destination, so the host's apt sources are
neither used nor changed, and trixie is reachable from a bookworm host.

Each version lands in ``<dest>/<version>/root`` with its Python package at
``<dest>/<version>/root/usr/lib/python3/dist-packages``; ``<dest>/versions.json``
records which Debian revision was taken.  A version already unpacked is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from typing import Dict, List

from hostapt import mirrors  # this script runs from tests/harness

# upstream version -> Debian suites that carry it
WANTED = {"22.4.2": "bookworm", "25.1.4": "trixie"}
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def sources_list() -> str:
    mirror, security = mirrors()
    lines = []
    for suite in sorted(set(WANTED.values())):
        lines.append(f"deb [signed-by={KEYRING}] {mirror} {suite} main")
        lines.append(f"deb [signed-by={KEYRING}] {mirror} {suite}-updates main")
        lines.append(f"deb [signed-by={KEYRING}] {security} {suite}-security main")
    return "\n".join(lines) + "\n"


def apt_options(aptdir: str) -> List[str]:
    return [
        "-o", f"Dir::Etc::SourceList={aptdir}/sources.list",
        "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", f"Dir::State={aptdir}/state",
        "-o", f"Dir::State::Lists={aptdir}/lists",
        "-o", "Dir::State::status=/dev/null",
        "-o", f"Dir::Cache={aptdir}/cache",
        "-o", "Debug::NoLocking=1",
        "-o", "APT::Sandbox::User=root",
        "-o", "Acquire::Languages=none",
    ]


def run(cmd: List[str], cwd: str = ".") -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"cloudinit_debs: {' '.join(cmd[:2])} failed ({done.returncode}): "
                 f"{done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def newest_matching(madison: str, upstream: str) -> str:
    """The highest Debian revision of `upstream` that apt-cache madison lists."""
    versions = []
    for line in madison.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 2 and parts[1].startswith(upstream + "-"):
            versions.append(parts[1])
    if not versions:
        sys.exit(f"cloudinit_debs: no cloud-init {upstream} in the configured suites")
    versions = sorted(set(versions), key=_DebianVersionKey)
    return versions[-1]


class _DebianVersionKey:
    """Order Debian versions with dpkg's rules (dpkg --compare-versions)."""

    def __init__(self, version: str):
        self.version = version

    def __lt__(self, other: _DebianVersionKey) -> bool:
        return subprocess.run(
            ["dpkg", "--compare-versions", self.version, "lt", other.version]
        ).returncode == 0


def fetch(dest: str) -> Dict[str, Dict[str, str]]:
    dest = os.path.abspath(dest)
    record_path = os.path.join(dest, "versions.json")
    try:
        with open(record_path) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        record = {}
    if all(
        os.path.isdir(os.path.join(dest, v, "root", "usr/lib/python3/dist-packages/cloudinit"))
        and v in record
        for v in WANTED
    ):
        return record

    aptdir = os.path.join(dest, "apt")
    for sub in ("lists/partial", "cache/archives/partial", "state", "debs"):
        os.makedirs(os.path.join(aptdir, sub), exist_ok=True)
    with open(os.path.join(aptdir, "sources.list"), "w") as handle:
        handle.write(sources_list())
    opts = apt_options(aptdir)
    print("cloudinit_debs: apt-get update (private sources: bookworm, trixie)", flush=True)
    run(["apt-get", *opts, "-qq", "update"])
    madison = run(["apt-cache", *opts, "madison", "cloud-init"])
    debdir = os.path.join(aptdir, "debs")
    for upstream in WANTED:
        version = newest_matching(madison, upstream)
        print(f"cloudinit_debs: cloud-init {version}", flush=True)
        run(["apt-get", *opts, "-qq", "download", f"cloud-init={version}"], cwd=debdir)
        deb = os.path.join(debdir, f"cloud-init_{version.replace(':', '%3a')}_all.deb")
        root = os.path.join(dest, upstream, "root")
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        run(["dpkg-deb", "-x", deb, root])
        record[upstream] = {
            "debian_version": version,
            "root": root,
            "pythonpath": os.path.join(root, "usr/lib/python3/dist-packages"),
        }
    with open(record_path, "w") as handle:
        json.dump(record, handle, indent=1)
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default="build/cloudinit")
    args = parser.parse_args()
    record = fetch(args.dest)
    for upstream, info in sorted(record.items()):
        print(f"cloudinit_debs: {upstream} = {info['debian_version']} at {info['root']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
