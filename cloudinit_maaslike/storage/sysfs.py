"""Block devices as the kernel describes them in /sys, with no udev.

The ephemeral images and test machines we run on have no udev database and
no /dev/disk links, so everything an installer needs (size, sector size,
model, serial, WWN, rotational, removable, partitions, holders, the file
behind a loop device) is read from sysfs directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

SYS_BLOCK = "/sys/block"
SYS_CLASS_BLOCK = "/sys/class/block"


def read_text(path: str) -> Optional[str]:
    """A sysfs or procfs file's text, stripped; None when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


@dataclass(frozen=True)
class BlockDevice:
    name: str  # kernel name: sda, vda, loop0, nvme0n1, loop0p1
    path: str  # /dev/<name>
    size: int  # bytes
    logical_sector: int
    major_minor: Tuple[int, int]
    model: str = ""
    serial: str = ""
    wwn: str = ""
    rotational: bool = False
    removable: bool = False
    read_only: bool = False
    is_partition: bool = False
    partition_number: int = 0
    parent: str = ""  # the disk of a partition
    start: int = 0  # bytes, for partitions
    partitions: Tuple[str, ...] = ()
    holders: Tuple[str, ...] = ()
    backing_file: str = ""  # loop devices

    @property
    def devno(self) -> str:
        return f"{self.major_minor[0]}:{self.major_minor[1]}"


def _device(sysdir: str, name: str, parent: str = "") -> Optional[BlockDevice]:
    size = read_text(os.path.join(sysdir, "size"))
    dev = read_text(os.path.join(sysdir, "dev"))
    if size is None or dev is None:
        return None
    major, minor = (int(x) for x in dev.split(":"))
    queue = os.path.join(SYS_BLOCK, parent or name, "queue")
    sector = int(read_text(os.path.join(queue, "logical_block_size")) or 512)
    device = os.path.join(SYS_BLOCK, parent or name, "device")
    partitions: List[str] = []
    if not parent:
        partitions = sorted(
            (e for e in os.listdir(sysdir) if os.path.exists(os.path.join(sysdir, e, "partition"))),
            key=lambda n: int(read_text(os.path.join(sysdir, n, "partition")) or 0),
        )
    holders_dir = os.path.join(sysdir, "holders")
    holders = tuple(sorted(os.listdir(holders_dir))) if os.path.isdir(holders_dir) else ()
    serial = (read_text(os.path.join(device, "serial")) or read_text(os.path.join(sysdir, "serial")) or "")
    wwn = read_text(os.path.join(device, "wwid")) or read_text(os.path.join(sysdir, "wwid")) or ""
    return BlockDevice(
        name=name,
        path=f"/dev/{name}",
        size=int(size) * 512,  # sysfs counts 512-byte units whatever the sector size
        logical_sector=sector,
        major_minor=(major, minor),
        model=read_text(os.path.join(device, "model")) or "",
        serial=serial,
        wwn=wwn,
        rotational=read_text(os.path.join(queue, "rotational")) == "1",
        removable=read_text(os.path.join(SYS_BLOCK, parent or name, "removable")) == "1",
        read_only=read_text(os.path.join(sysdir, "ro")) == "1",
        is_partition=bool(parent),
        partition_number=int(read_text(os.path.join(sysdir, "partition")) or 0) if parent else 0,
        parent=parent,
        start=int(read_text(os.path.join(sysdir, "start")) or 0) * 512 if parent else 0,
        partitions=tuple(partitions),
        holders=holders,
        backing_file=read_text(os.path.join(SYS_BLOCK, name, "loop", "backing_file")) or "",
    )


def disks(sys_block: str = SYS_BLOCK) -> List[BlockDevice]:
    """Whole disks (no partitions), with their details."""
    found = []
    for name in sorted(os.listdir(sys_block)):
        device = _device(os.path.join(sys_block, name), name)
        if device is not None:
            found.append(device)
    return found


def device(name_or_path: str) -> Optional[BlockDevice]:
    """A disk or partition by kernel name or /dev path (symlinks resolved)."""
    name = os.path.basename(os.path.realpath(name_or_path))
    sysdir = os.path.join(SYS_CLASS_BLOCK, name)
    if not os.path.exists(sysdir):
        return None
    real = os.path.realpath(sysdir)
    if os.path.exists(os.path.join(real, "partition")):
        return _device(real, name, parent=os.path.basename(os.path.dirname(real)))
    return _device(real, name)


def partition_name(disk: str, number: int) -> str:
    """sda + 1 -> sda1; loop0/nvme0n1/mmcblk0 + 1 -> loop0p1 (names ending in a digit)."""
    return f"{disk}p{number}" if disk[-1:].isdigit() else f"{disk}{number}"


def by_devno() -> Dict[str, str]:
    """major:minor -> kernel name, for every block device."""
    table = {}
    for name in os.listdir(SYS_CLASS_BLOCK):
        dev = read_text(os.path.join(SYS_CLASS_BLOCK, name, "dev"))
        if dev:
            table[dev] = name
    return table
