"""`maaslike demo`: the whole install path on this machine, with nothing to set up.

What a PXE-booted node does, minus the VM: the stand-in server starts with a
deploying demo node and a small root image; the node's preseed is fetched as
through ``cloud-config-url=``; its metadata is crawled with the preseed's
OAuth credentials from MAAS's curtin tree; the curtin payload it gets as
user-data is decoded (never executed); and the install runs, with the
server receiving its events and its netboot-off.  As root the target is a
disk image (a sparse file on a loop device, laid out in simple mode); without
root, a directory.  It ends with a per-stage timeline and what the server
recorded.  (`make demo VM=1` boots the real thing in QEMU.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, List, Optional

DEMO_ID = "demo01"
OS_RELEASE = 'PRETTY_NAME="Demo GNU/Linux"\nID=debian\nVERSION_CODENAME=bookworm\n'


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", help="keep everything here (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def demo_root() -> bytes:
    """A tiny root filesystem image (tar.gz) for the demo node to install."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for directory in ("etc", "etc/network", "etc/cloud/cloud.cfg.d", "usr/bin", "root", "var/log"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path, text in (("etc/os-release", OS_RELEASE), ("etc/hostname", "localhost\n"),
                           ("etc/hosts", "127.0.0.1 localhost\n"), ("etc/issue", "Demo GNU/Linux\n")):
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def demo_nodes(disk: Optional[str], workdir: str) -> Dict[str, Any]:
    log = os.path.join(workdir, "install", "install.log")
    curtin: Dict[str, Any] = {
        # MAAS's template logs to /tmp; the demo keeps everything in its workdir
        "install": {"log_file": log, "error_tarfile": os.path.join(workdir, "install", "error.tar"),
                    "post_files": [log]},
        "network": {"version": 1, "config": [
            {"type": "physical", "name": "eth0", "mac_address": "52:54:00:de:00:01",
             "subnets": [{"type": "static", "address": "10.20.0.5/24", "gateway": "10.20.0.1",
                          "dns_nameservers": ["10.20.0.1"]}]}]},
        "swap": {"size": "0"},
        "kernel": {"install": False},  # the demo root has no kernel and no apt
        "grub": {"install_devices": []},
    }
    if disk:
        curtin["block-meta"] = {"devices": [disk]}
    else:
        curtin["partitioning_commands"] = {"builtin": None}
    return {"nodes": [{
        "system_id": DEMO_ID, "hostname": "demo-node", "domain": "maas", "status": "deploying",
        "public_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDemoKeyOnlyForTheLocalDemo demo@maaslike"],
        "user_data": "#cloud-config\nfinal_message: installed by the maaslike demo\n",
        "source": "/images/demo-root.tar.gz",
        "curtin": curtin,
    }]}


class LoopDisk:
    def __init__(self, path: str, size: int):
        from .. import runner

        with open(path, "wb") as handle:
            handle.truncate(size)
        done = runner.run(["losetup", "--find", "--show", path])
        if done.returncode != 0:
            raise OSError(done.stderr.strip())
        self.path = path
        self.device = done.stdout.strip()

    def close(self) -> None:
        from .. import runner

        runner.run(["partx", "-d", self.device])
        runner.run(["losetup", "-d", self.device])


def run(args: argparse.Namespace) -> int:
    import tempfile

    from ..dsconfig import source_config
    from ..metadata import crawl
    from ..payload import decode
    from ..preseed import fetch_preseed
    from ..server.inventory import parse_inventory
    from ..server.runner import BackgroundServer
    from ..server.state import ServerOptions

    workdir = args.workdir or tempfile.mkdtemp(prefix="maaslike-demo-")
    os.makedirs(os.path.join(workdir, "images"), exist_ok=True)
    with open(os.path.join(workdir, "images", "demo-root.tar.gz"), "wb") as handle:
        handle.write(demo_root())
    disk: Optional[LoopDisk] = None
    if os.geteuid() == 0:
        try:
            disk = LoopDisk(os.path.join(workdir, "disk.img"), 512 << 20)
        except OSError as exc:
            print(f"maaslike demo: no loop device ({exc}); installing into a directory", file=sys.stderr)
    timeline: List[Dict[str, Any]] = []
    started = time.monotonic()

    def mark(step: str, **extra: Any) -> None:
        timeline.append({"step": step, "at_seconds": round(time.monotonic() - started, 3), **extra})

    nodes = parse_inventory(demo_nodes(disk.device if disk else None, workdir), "built-in demo")
    options = ServerOptions(state_dir=os.path.join(workdir, "server-state"), port=0,
                            images_dir=os.path.join(workdir, "images"))
    try:
        with BackgroundServer(nodes, options) as server:
            mark("server up", url=server.url)
            preseed_url = f"{server.url}/MAAS/metadata/latest/by-id/{DEMO_ID}/?op=get_preseed"
            preseed = fetch_preseed(preseed_url)
            settings = source_config(preseed, preseed_url)
            mark("preseed (cloud-config-url=)", metadata_url=settings.metadata_url)
            md, stats = crawl(settings.metadata_url or "", settings.credentials, max_wait=30)
            mark("crawl (OAuth)", requests=stats.requests, instance_id=md.instance_id)
            payload = decode(md.userdata_raw or b"")
            mark("payload decoded", configs=len(payload.configs), source=" ".join(payload.sources))
            payload_file = os.path.join(workdir, "user-data.payload")
            with open(payload_file, "wb") as handle:
                handle.write(md.userdata_raw or b"")
            os.chmod(payload_file, 0o600)
            target = os.path.join(workdir, "target")
            report = install(payload_file, target, os.path.join(workdir, "install"))
            for stage in report.get("stages", []):
                timeline.append({"step": f"stage {stage['name']}", "seconds": stage["seconds"],
                                 "result": stage["result"]})
            if report.get("result") == "SUCCESS":
                mark("install finished")
            else:
                mark("install FAILED", error=report.get("error", "see install.out"))
            time.sleep(0.3)  # the last events are posted in the background
            recorded = server.api.records[DEMO_ID].snapshot()
    finally:
        if disk is not None:
            disk.close()
    result = {
        "server": server.url, "workdir": workdir,
        "target": disk.path if disk else target,
        "instance-id": md.instance_id, "local-hostname": md.local_hostname,
        "payload": {"configs": [name for name, _ in payload.configs], "command": list(payload.command)},
        "timeline": timeline, "total_seconds": round(time.monotonic() - started, 2),
        "install": report.get("result"),
        "server-recorded": summarise(recorded),
    }
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print_text(result)
    return 0 if report.get("result") == "SUCCESS" else 3


def install(payload_file: str, target: str, workdir: str) -> Dict[str, Any]:
    """`maaslike install --payload` as a process of its own, as a node runs it."""
    from .. import runner

    os.makedirs(workdir, exist_ok=True)
    done = runner.run([sys.executable, "-m", "cloudinit_maaslike", "install", "--payload", payload_file,
                       "-t", target, "--workdir", workdir])
    with open(os.path.join(workdir, "install.out"), "w") as handle:
        handle.write(done.stdout + done.stderr)
    reports = [os.path.join(workdir, d, "install-report.json") for d in os.listdir(workdir)]
    reports = [r for r in reports if os.path.exists(r)]
    error = (done.stderr.strip().splitlines() or ["?"])[-1]
    if not reports:
        return {"result": "FAIL", "error": error}
    with open(reports[0]) as handle:
        report: Dict[str, Any] = json.load(handle)
    if report.get("result") != "SUCCESS":
        report["error"] = error
    return report


def summarise(recorded: Dict[str, Any]) -> Dict[str, Any]:
    events = recorded["events"]
    curtin = [e for e in events if e.get("kind") == "event" and e.get("origin") == "curtin"]
    final = [e for e in curtin if e.get("name") == "cmd-install" and e.get("event_type") == "finish"]
    return {
        "status": recorded["status"],
        "netboot": recorded["netboot"],
        "preseeds": sum(1 for e in events if e.get("kind") == "preseed"),
        "install events": len(curtin),
        "stages reported": sorted({e["name"].split("/")[1][6:] for e in curtin
                                   if e.get("name", "").count("/") == 1 and e.get("event_type") == "finish"}),
        "final result": final[-1].get("result") if final else None,
        "files posted": [f.get("name") or f.get("path") for e in final for f in e.get("files", [])],
    }


def print_text(result: Dict[str, Any]) -> None:
    out = sys.stdout
    out.write(f"stand-in MAAS server   {result['server']}\n")
    out.write(f"node                   {result['instance-id']} ({result['local-hostname']})\n")
    out.write(f"payload                {', '.join(result['payload']['configs'])}\n")
    out.write(f"                       command: {' '.join(result['payload']['command'])}\n")
    out.write(f"installed into         {result['target']}\n\ntimeline\n")
    for entry in result["timeline"]:
        took = f"{entry['seconds']:.2f}s" if "seconds" in entry else ""
        at = f"{entry['at_seconds']:.2f}s" if "at_seconds" in entry else ""
        extra = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("step", "seconds", "at_seconds"))
        out.write(f"  {entry['step']:28s} {at:>8s} {took:>8s}  {extra}\n")
    out.write(f"  {'total':28s} {result['total_seconds']:>7.2f}s\n\nthe server recorded\n")
    for key, value in result["server-recorded"].items():
        out.write(f"  {key:20s} {value}\n")
    out.write(f"\n(everything is kept in {result['workdir']})\n")
