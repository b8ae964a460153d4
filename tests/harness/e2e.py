"""The whole path, as MAAS runs it: PXE-style boot, install, reboot, check-in.

1. `maaslike serve` on the host's loopback, with one deploying node and
   `--images` holding the ephemeral squashfs and the target root tarball.
2. QEMU boots the ephemeral kernel and initrd with MAAS's kernel command line
   (``cloud-config-url=`` to the node's preseed) and a blank virtio disk.  The
   guest's cloud-init fetches the preseed, the MAASLike datasource crawls the
   curtin tree with OAuth, our modules decode the payload and install onto the
   disk, the late command turns netboot off, the events and the final signal
   reach the server, and the preseed's power_state reboots: with -no-reboot
   that ends this QEMU.
3. QEMU boots the installed disk.  Its own cloud-init (stock Debian, MAAS
   datasource) reads the node's metadata from the same server with the
   credentials the install left it; reading user-data ends the deployment.
   The node's user-data prints the host name and the SSH key on the console.

`run` returns a `Result` (timeline, server records, console logs) and writes
the timeline to ``build/e2e/timeline.json``.  Any failure raises with the
serial log's tail and the server's records attached.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import yaml

from . import images, qemu
from .kernelcmdline import ephemeral_cmdline

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSTEM_ID = "e2e001"
HOSTNAME = "e2e-node"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2ETestKeyMaaslikeOnlyForTheEndToEndTest e2e@maaslike"
MAC = "52:54:00:e2:e0:01"
CHECK = "MAASLIKE-E2E-CHECK"
DISK_SIZE = 4 << 30
USER_DATA = f"""#cloud-config
runcmd:
  - [sh, -c, 'echo "{CHECK} host=$(hostname) key=$(cut -d" " -f2 /home/debian/.ssh/authorized_keys | head -1)
     fw=$(test -d /sys/firmware/efi && echo uefi || echo bios)
     srv=$(findmnt -no SOURCE,FSTYPE /srv | tr " " ,) md=$(for d in /sys/block/md*; do test -e $d/md/level &&
     echo ${{d##*/}}:$(cat $d/md/level); done | head -1) nv=$(efibootmgr -v 2>/dev/null | tr -d " " | tr "\\t\\n" "|;")"
     > /dev/ttyS0']
"""


RAID_LVM_STORAGE = {"version": 1, "config": [
    {"id": "vda", "type": "disk", "path": "/dev/vda", "ptable": "gpt", "wipe": "superblock", "grub_device": True},
    {"id": "vda-bios", "type": "partition", "device": "vda", "number": 1, "size": "1M", "flag": "bios_grub"},
    {"id": "vda-root", "type": "partition", "device": "vda", "number": 2, "size": "3G"},
    {"id": "vda-root_fs", "type": "format", "volume": "vda-root", "fstype": "ext4", "label": "root"},
    {"id": "vda-root_mount", "type": "mount", "device": "vda-root_fs", "path": "/"},
    {"id": "vdb", "type": "disk", "path": "/dev/vdb", "ptable": "gpt", "wipe": "superblock"},
    {"id": "vdc", "type": "disk", "path": "/dev/vdc", "ptable": "gpt", "wipe": "superblock"},
    {"id": "vdb1", "type": "partition", "device": "vdb", "number": 1, "size": "900M", "flag": "raid"},
    {"id": "vdc1", "type": "partition", "device": "vdc", "number": 1, "size": "900M", "flag": "raid"},
    {"id": "md0", "type": "raid", "name": "md0", "raidlevel": 1, "devices": ["vdb1", "vdc1"]},
    {"id": "vg0", "type": "lvm_volgroup", "name": "vg0", "devices": ["md0"]},
    {"id": "lv-data", "type": "lvm_partition", "name": "data", "volgroup": "vg0", "size": "500M"},
    {"id": "lv-data_fs", "type": "format", "volume": "lv-data", "fstype": "xfs"},
    # nofail: were the volume not there at boot, the check reports srv= empty
    # instead of the boot stopping in emergency mode (the device can take tens of
    # seconds to show up under TCG: the timeout is systemd's default)
    {"id": "lv-data_mount", "type": "mount", "device": "lv-data_fs", "path": "/srv",
     "options": "nofail,x-systemd.device-timeout=90s"},
]}


@dataclass(frozen=True)
class Scenario:
    """What varies between end-to-end runs: firmware, disks, storage layout."""

    name: str = "bios"
    uefi: bool = False
    extra_disks: int = 0  # 1 GiB each, besides the 4 GiB install disk
    storage: Optional[Dict[str, Any]] = None  # MAAS-style; None: simple mode
    image: str = "target"  # the root image installed (tests/harness/images.py)
    # False: stop after the install (an image with no kernel cannot boot)
    boots_installed: bool = True
    curtin: Optional[Dict[str, Any]] = None  # more curtin config for the node


# What a redeployed MAAS machine's NVRAM holds before the install: an earlier
# install's loader first, and a network entry twice (written through efivarfs
# in an early command, so the install's NVRAM step has something to tidy).  The
# network entry names a NIC the VM does not have, so firmware skips it at once.
SEED_NVRAM = r"""
import os, struct, subprocess
VARS, GUID = "/sys/firmware/efi/efivars/", "8be4df61-93ca-11d2-aa0d-00e098032b8c"
def node(kind, sub, data): return struct.pack("<BBH", kind, sub, 4 + len(data)) + data
END = node(0x7F, 0xFF, b"")
def option(name, path): return struct.pack("<IH", 1, len(path)) + (name + "\0").encode("utf-16-le") + path
def put(var, data):
    path = VARS + var + "-" + GUID
    if os.path.exists(path):
        subprocess.run(["chattr", "-i", path], check=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, struct.pack("<I", 7) + data)
    os.close(fd)
net = node(3, 11, bytes.fromhex("020000000099") + bytes(26) + b"\x01") + END
old = node(4, 4, "\\EFI\\debian\\shimx64.efi\0".encode("utf-16-le")) + END
put("Boot0010", option("UEFI PXEv4 (lab)", net))
put("Boot0011", option("debian", old))
put("Boot0012", option("UEFI PXEv4 (lab)", net))
with open(VARS + "BootOrder-" + GUID, "rb") as handle:
    raw = handle.read()[4:]
order = [0x11] + list(struct.unpack("<%dH" % (len(raw) // 2), raw)) + [0x10, 0x12]
put("BootOrder", struct.pack("<%dH" % len(order), *order))
"""

BIOS = Scenario()
UEFI = Scenario("uefi", uefi=True, curtin={"early_commands": {"seed-nvram": ["python3", "-c", SEED_NVRAM]}})
RAID_LVM = Scenario("raid-lvm", extra_disks=2, storage=RAID_LVM_STORAGE)
# The install alone, of a debootstrap minbase root (no kernel, no grub): the
# figure issue 7 names for the install itself.
MINBASE = Scenario("minbase-install", image="minbase", boots_installed=False,
                   curtin={"kernel": {"install": False}})
SCENARIOS = {s.name: s for s in (BIOS, UEFI, RAID_LVM, MINBASE)}


class E2EFailed(RuntimeError):
    def __init__(self, message: str, details: str = ""):
        self.details = details
        super().__init__(message)


@dataclass
class Result:
    timeline: Dict[str, Any]
    events: List[Dict[str, Any]]
    install_console: str
    installed_console: str
    check: Dict[str, str] = field(default_factory=dict)
    accel: str = ""


def inventory(path: str, scenario: Scenario = BIOS) -> None:
    curtin: Dict[str, Any] = {
        # the VM's NIC, by MAC, with DHCP from QEMU's user network
        "network": {"version": 1, "config": [
            {"type": "physical", "name": "eth0", "mac_address": MAC, "subnets": [{"type": "dhcp"}]}]},
        "swap": {"size": "0"},
    }
    if scenario.storage is not None:
        curtin["storage"] = scenario.storage
    curtin.update(scenario.curtin or {})
    nodes = {"nodes": [{
        "system_id": SYSTEM_ID, "hostname": HOSTNAME, "domain": "maas", "status": "deploying",
        "osystem": "debian", "release": "bookworm",
        "public_keys": [SSH_KEY],
        "user_data": USER_DATA,
        "source": "/images/target-root.tar.zst",
        "curtin": curtin,
    }]}
    with open(path, "w") as handle:
        yaml.safe_dump(nodes, handle)


def node_records(state_dir: str) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    base = os.path.join(state_dir, "nodes", SYSTEM_ID)
    events: List[Dict[str, Any]] = []
    path = os.path.join(base, "events.jsonl")
    if os.path.exists(path):
        with open(path) as handle:
            events = [json.loads(line) for line in handle if line.strip()]
    state: Dict[str, Any] = {}
    if os.path.exists(os.path.join(base, "state.json")):
        with open(os.path.join(base, "state.json")) as handle:
            state = json.load(handle)
    return events, state


def _first(events: List[Dict[str, Any]], **match: Any) -> Optional[float]:
    for event in events:
        if all(event.get(k) == v for k, v in match.items()):
            return float(event["received"])
    return None


def timeline(started: float, rebooted: float, finished: float,
             events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Seconds since the first boot started, per step, from the server's records."""
    marks: List[Tuple[str, Optional[float]]] = [
        ("boot to preseed", _first(events, kind="preseed")),
        ("crawl (datasource found)", _first(events, kind="event", name="init-network/search-MAASLike",
                                            event_type="finish")),
        ("install started", _first(events, kind="event", name="cmd-install", event_type="start")),
    ]
    for stage in ("early", "partitioning", "network", "extract", "curthooks", "hook", "late"):
        if stage == "late":  # MAAS's late command turns netboot off, inside the late stage
            marks.append(("netboot off (late command)", _first(events, kind="netboot")))
        marks.append((f"stage {stage}", _first(events, kind="event", name=f"cmd-install/stage-{stage}",
                                                event_type="finish")))
    marks += [
        ("install finished", _first(events, kind="event", name="cmd-install", event_type="finish")),
        ("reboot", rebooted),
        ("check-in (user-data read, deployed)", _first(events, kind="status", status="deployed")),
        ("installed system's cloud-init done", finished),
    ]
    steps = []
    previous = started
    for name, at in marks:
        if at is None:
            steps.append({"step": name, "at_seconds": None, "seconds": None})
            continue
        steps.append({"step": name, "at_seconds": round(at - started, 1), "seconds": round(at - previous, 1)})
        previous = at
    install_from = _first(events, kind="event", name="cmd-install", event_type="start")
    install_to = _first(events, kind="event", name="cmd-install", event_type="finish")
    return {
        "steps": steps,
        "total_seconds": round(finished - started, 1),
        "install_seconds": round(install_to - install_from, 1) if install_from and install_to else None,
    }


def run(workdir: str, timeline_path: Optional[str] = None, log=print, scenario: Scenario = BIOS) -> Result:
    """The whole path; raises `E2EFailed` (or qemu.VMError) with details."""
    from tests.integration.servers import ServeProcess

    why = images.can_build() or qemu.can_run()
    if why:
        raise E2EFailed(f"cannot run the end-to-end path here: {why}")
    eph = images.ensure("ephemeral")
    target = images.ensure(scenario.image)
    os.makedirs(workdir, exist_ok=True)
    served = os.path.join(workdir, "images")
    os.makedirs(served, exist_ok=True)
    for name, source in (("squashfs", eph.file("squashfs")), ("target-root.tar.zst", target.file("root.tar.zst"))):
        link = os.path.join(served, name)
        if not os.path.exists(link):
            os.link(source, link)
    nodes, state = os.path.join(workdir, "nodes.yaml"), os.path.join(workdir, "state")
    inventory(nodes, scenario)
    disk = os.path.join(workdir, "disk.img")
    disks = [disk] + [os.path.join(workdir, f"disk{i + 1}.img") for i in range(scenario.extra_disks)]
    for index, path in enumerate(disks):
        with open(path, "wb") as handle:
            handle.truncate(DISK_SIZE if index == 0 else 1 << 30)
    server = ServeProcess(nodes, state, "--images", served)
    vmdir = os.path.join(workdir, "vm")
    try:
        base = f"http://{qemu.HOST_FROM_GUEST}:{server.port}"
        spec = qemu.VMSpec("install", vmdir, memory_mib=2048, cpus=2, mac=MAC, disks=disks,
                           kernel=eph.file("boot-kernel"), initrd=eph.file("boot-initrd"), uefi=scenario.uefi)
        spec.cmdline = ephemeral_cmdline(base, SYSTEM_ID, HOSTNAME, f"{base}/images/squashfs", spec.bootif,
                                         extra=("console=ttyS0", "panic=-1"))
        started = time.time()
        log(f"[e2e] {scenario.name}: first boot: ephemeral image, installing onto {disk}")
        with qemu.VM(spec) as vm:
            accel = vm.accel
            try:
                vm.wait_for(r"Cloud-init v\. \S+ running 'init'", 900, "the ephemeral cloud-init")
                log(f"[e2e] ephemeral cloud-init running after {vm.elapsed:.0f} s ({accel})")
                vm.wait_exit(2400)  # the install, then power_state: reboot (-no-reboot: QEMU exits)
            except qemu.VMError as exc:
                events, _ = node_records(state)
                raise E2EFailed(f"first boot: {exc}", exc.report() + _summary(events)) from None
            install_console = vm.serial()
        rebooted = time.time()
        events, node_state = node_records(state)
        log(f"[e2e] installed and rebooted after {rebooted - started:.0f} s; node status "
            f"{node_state.get('status')}, netboot {'on' if node_state.get('netboot', True) else 'off'}")
        check: Dict[str, str] = {}
        installed_console = ""
        finished = rebooted
        if scenario.boots_installed:
            spec2 = qemu.VMSpec("installed", vmdir, memory_mib=1536, cpus=2, mac=MAC, disks=disks, accel=accel,
                                uefi=scenario.uefi)
            if scenario.uefi:  # the same machine: its NVRAM holds the boot entry the install made
                shutil.copyfile(os.path.join(vmdir, "install.OVMF_VARS.fd"),
                                os.path.join(vmdir, "installed.OVMF_VARS.fd"))
            with qemu.VM(spec2) as vm:
                try:
                    found = vm.wait_for(rf"{CHECK} host=(\S*) key=(\S*) fw=(\S*) srv=(\S*) md=(\S*) nv=(\S*)", 900,
                                        "the installed system's check", fail_on=qemu.BOOT_FAILED)
                except qemu.VMError as exc:
                    events, _ = node_records(state)
                    raise E2EFailed(f"second boot: {exc}", exc.report() + _summary(events)) from None
                finished = time.time()
                installed_console = vm.serial()
            check = dict(zip(("host", "key", "firmware", "srv", "md", "nvram"), found.groups()))
        events, node_state = node_records(state)
    finally:
        server.stop()
        shutil.copy(server.log_path, os.path.join(vmdir, "server.log"))
    check["status"] = node_state.get("status", "")
    result = Result(timeline(started, rebooted, finished, events), events, install_console, installed_console,
                    check, accel)
    result.timeline["accel"] = accel
    result.timeline["scenario"] = scenario.name
    if timeline_path:
        os.makedirs(os.path.dirname(timeline_path), exist_ok=True)
        with open(timeline_path, "w") as handle:
            json.dump(result.timeline, handle, indent=1)
    return result


def _summary(events: List[Dict[str, Any]]) -> str:
    lines = [f"{e.get('kind')} {e.get('event_type', '')} {e.get('name', '')} {e.get('result', '')}".strip()
             for e in events[-25:]]
    return "\n--- the server's last records ---\n" + "\n".join(lines)


def format_timeline(data: Dict[str, Any]) -> str:
    lines = [f"{'step':40s} {'at':>8s} {'took':>8s}"]
    for step in data["steps"]:
        at = "-" if step["at_seconds"] is None else f"{step['at_seconds']:.1f}s"
        took = "-" if step["seconds"] is None else f"{step['seconds']:.1f}s"
        lines.append(f"{step['step']:40s} {at:>8s} {took:>8s}")
    lines.append(f"{'total':40s} {data['total_seconds']:>7.1f}s   (install {data['install_seconds']}s, "
                 f"{data.get('accel', '?')})")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(REPO, "build", "e2e", "run"))
    parser.add_argument("--timeline", default=os.path.join(REPO, "build", "e2e", "timeline.json"))
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="bios")
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    try:
        result = run(args.workdir, args.timeline, scenario=SCENARIOS[args.scenario])
    except (E2EFailed, qemu.VMError) as exc:
        print(f"e2e: {exc}", file=sys.stderr)
        details = getattr(exc, "details", "") or getattr(exc, "tail", "")
        if details:
            print(details, file=sys.stderr)
        return 1
    print(format_timeline(result.timeline))
    if "host" in result.check:
        print(f"[e2e] checked in as {result.check['host']} with key {result.check['key'][:24]}…, "
              f"status {result.check['status']}; timeline in {args.timeline}")
    else:
        print(f"[e2e] installed (no second boot), status {result.check['status']}; timeline in {args.timeline}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
