"""What ``preserve: true`` promises, checked against the disks before the first write.

A preserved disk keeps its table (of whatever kind it is, as under curtin); a preserved
partition must be on it with the configured number, offset and size; a
preserved format must hold a filesystem of the configured type; a preserved
RAID or volume group must have members that say so.  Checked one by one as
the writes reach them, a mismatch stops the install after earlier disks were
already wiped and partitioned; here every one is checked at planning, from
the on-disk table (`sfdisk --json`: the kernel may know no partitions yet,
since nothing parses tables for it) and low-level probes (`blkid -p` at the
partition's offset, so no partition device is needed either).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ..config.problems import Problems
from . import sysfs
from .commands import StorageError, run
from .mkfs import VFAT
from .model import Disk, Format, LogicalVolume, Partition, Raid, StorageConfig, VolGroup
from .units import MiB, human

if TYPE_CHECKING:
    from .plan import PlannedDisk, PlannedPartition

# blkid -p of a device, from an offset, for a size -> TYPE, UUID, LABEL...
Probe = Callable[[str, int, Optional[int]], Dict[str, str]]
LABELS = {"dos": "msdos", "gpt": "gpt"}
SUPPORTED_TABLES = ("gpt", "msdos")  # of curtin's (gpt, dos/msdos, vtoc), those this machine's tools write


@dataclass(frozen=True)
class OnDiskTable:
    label: str  # gpt or msdos
    partitions: Dict[int, Tuple[int, int]]  # number -> (start, size) in bytes


def read_table(device: sysfs.BlockDevice) -> Optional[OnDiskTable]:
    """The partition table written on the disk, or None when it has none."""
    try:
        out = run(["sfdisk", "--json", device.path], f"read the partition table of {device.path}")
        table = json.loads(out)["partitiontable"]
    except (StorageError, ValueError, KeyError):
        return None  # sfdisk exits 1 on a disk with no table
    sector = int(table.get("sectorsize") or device.logical_sector)
    partitions = {}
    for entry in table.get("partitions") or []:
        number = re.search(r"(\d+)$", str(entry.get("node", "")))
        if number:
            partitions[int(number.group(1))] = (int(entry["start"]) * sector, int(entry["size"]) * sector)
    label = str(table.get("label", ""))
    return OnDiskTable(LABELS.get(label, label), partitions)


def _at(size: int) -> str:
    return f"{human(size)} ({size} bytes)"


def check_table(disk: Disk, device: sysfs.BlockDevice, table: Optional[OnDiskTable], problems: Problems) -> None:
    """curtin's rule: a preserved disk with a ``ptable`` must carry a table of a kind it can read.

    curtin does not compare that kind with the configured one; the disk's own
    table is kept and partitions are added to it (see `effective_ptable`).
    """
    if not disk.ptable or disk.ptable == "unsupported":
        return
    if table is None:
        problems.error(f"{disk.where}.ptable",
                       f"preserve: {device.path} has no partition table (the config says {disk.ptable})")
    elif table.label not in SUPPORTED_TABLES:
        problems.error(f"{disk.where}.ptable", f"preserve: {device.path} has a {table.label} table, "
                                               f"which cannot be kept ({', '.join(SUPPORTED_TABLES)} can)")
    elif table.label != disk.ptable:
        problems.warn(f"{disk.where}.ptable",
                      f"preserve: {device.path} has a {table.label} table, the config says {disk.ptable}; "
                      f"its {table.label} table is kept, as curtin keeps it")


def effective_ptable(disk: Disk, table: Optional[OnDiskTable]) -> Optional[str]:
    """The table kind partitions are laid out and written in: a kept table's own."""
    if disk.preserve and table is not None and table.label in SUPPORTED_TABLES:
        return table.label
    return disk.ptable


def place_preserved(part: Partition, number: int, planned: Tuple[int, int], table: Optional[OnDiskTable],
                    disk_path: str, problems: Problems) -> Tuple[int, int]:
    """(start, size) of a preserved partition: where the table has it, once it matches the config."""
    if table is None:
        return planned  # reported once, for the disk
    found = table.partitions.get(number)
    if found is None:
        problems.error(part.where, f"preserve: {disk_path} has no partition {number}")
        return planned
    if part.offset is not None and part.offset != found[0]:
        problems.error(f"{part.where}.offset", f"preserve: partition {number} of {disk_path} starts at "
                                               f"{_at(found[0])}, the config says {_at(part.offset)}")
    if abs(found[1] - part.size) >= MiB:
        problems.error(f"{part.where}.size", f"preserve: partition {number} is {human(found[1])}, "
                                             f"the config says {human(part.size)}")
    return found


def check_new_partitions(disk_path: str, planned: Sequence[PlannedPartition], table: Optional[OnDiskTable],
                         problems: Problems) -> None:
    """Partitions added to a kept table must take free numbers and free space."""
    if table is None:
        return
    for part in planned:
        if part.entry.preserve:
            continue
        if part.number in table.partitions:
            problems.error(f"{part.entry.where}.number",
                           f"partition {part.number} already exists on preserved {disk_path}")
            continue
        for number, (start, size) in sorted(table.partitions.items()):
            container = part.entry.flag == "logical" and start <= part.start and number <= 4
            if not container and part.start < start + size and start < part.start + part.size:
                problems.error(f"{part.entry.where}.offset",
                               f"would overlap partition {number} of preserved {disk_path} "
                               f"({human(start)} to {human(start + size)})")
                break


def holds(info: Dict[str, str], fstype: str) -> bool:
    found = info.get("TYPE")
    return found == fstype or (fstype in VFAT and found == "vfat")


# Where an entry's content is before the install: (shown, probed path, offset, size), or why it is not.
Location = Union[Tuple[str, str, int, Optional[int]], str, None]


class _Locator:
    def __init__(self, config: StorageConfig, disks: Sequence[PlannedDisk],
                 tables: Dict[str, Optional[OnDiskTable]]):
        self.tables = tables
        self.entries = config.by_id()
        self.disks = {d.entry.id: d for d in disks}
        self.parts = {p.entry.id: (d, p) for d in disks for p in d.partitions}
        self.groups = {g.id: g for g in config.of(VolGroup) if isinstance(g, VolGroup)}

    def locate(self, entry_id: str) -> Location:
        """None: unknown now (not resolved, or a RAID/LV not assembled yet)."""
        entry = self.entries.get(entry_id)
        if isinstance(entry, Partition) and entry_id in self.parts:
            disk, part = self.parts[entry_id]
            if not entry.preserve:
                return f"partition {part.number} of {disk.device.path} is made new"
            table = self.tables.get(disk.entry.id)
            if not disk.entry.preserve or table is None or part.number not in table.partitions:
                return None  # already refused: its table is rewritten, or not there
            return part.path, disk.device.path, part.start, part.size
        if isinstance(entry, Disk) and entry_id in self.disks:
            planned = self.disks[entry_id]
            if not entry.preserve and (entry.wipe or planned.writes_table):
                return f"{planned.device.path} is {'wiped' if entry.wipe else 'given a new partition table'}"
            return planned.device.path, planned.device.path, 0, None
        if isinstance(entry, Raid):
            node = f"/dev/md/{entry.name}"
            if not entry.preserve:
                return f"RAID {entry.name} is made new"
            return (node, node, 0, None) if os.path.exists(node) else None
        if isinstance(entry, LogicalVolume):
            group = self.groups.get(entry.volgroup)
            node = f"/dev/{group.name if group else entry.volgroup}/{entry.name}"
            if not entry.preserve:
                return f"logical volume {node} is made new"
            return (node, node, 0, None) if os.path.exists(node) else None
        return None


def check_contents(config: StorageConfig, disks: Sequence[PlannedDisk], tables: Dict[str, Optional[OnDiskTable]],
                   probe: Probe, problems: Problems) -> None:
    """Preserved formats hold their fstype; preserved RAID and LVM members carry their signature.

    `tables` has the table read from each preserved disk (by disk id).
    """
    locator = _Locator(config, disks, tables)
    wanted: List[Tuple[str, str, str, str]] = []  # (where, entry id, what it must hold, how to say it)
    for entry in config.entries:
        if isinstance(entry, Format) and entry.preserve:
            wanted.append((entry.where, entry.volume, entry.fstype, entry.fstype))  # "holds xfs, not ext4"
        elif isinstance(entry, Raid) and entry.preserve:
            where = f"storage.config[{entry.index}] (id: {entry.id})"
            wanted += [(where, m, "linux_raid_member", "a RAID member")
                       for m in entry.devices + entry.spare_devices]
        elif isinstance(entry, VolGroup) and entry.preserve:
            where = f"storage.config[{entry.index}] (id: {entry.id})"
            wanted += [(where, m, "LVM2_member", "an LVM physical volume") for m in entry.devices]
    for where, volume, fstype, said in wanted:
        location = locator.locate(volume)
        if isinstance(location, str):
            problems.error(f"{where}.preserve", f"{location} by this install: there is nothing to keep")
        elif location is not None:
            shown, path, offset, size = location
            info = probe(path, offset, size)
            if not holds(info, fstype):
                problems.error(where, f"preserve: {shown} holds {info.get('TYPE') or 'nothing'}, not {said}")
