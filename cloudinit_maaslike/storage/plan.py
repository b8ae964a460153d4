"""Plan the whole disk layout against the real machine, before any write.

The plan resolves every configured disk to a device (by WWN, then serial,
then path: curtin's order), places every partition (1 MiB aligned, after the
previous one unless an offset is given), checks each fits its disk and that
no device to be written is in use, and names the device every volume will
have.  Everything the writes depend on is checked here too, before the
first of them: what ``preserve`` promises (see `preserve`), that every program
the plan runs is installed (see `tools`), and that no device to be written is
in use, however indirectly (see `usage`).  Every problem is collected and
reported at once; `apply` only runs a plan that has none.

Reuse and preservation (what happens to what is already on a disk):

=====================  ==========================================================
config                 effect
=====================  ==========================================================
disk, no ``preserve``  the table is replaced; ``wipe`` first if given
disk ``preserve``      table kept (its type must match ``ptable``); new partitions
                       are appended in free numbers and free space
partition ``preserve``  kept as is (its disk must be preserved): number, offset (when
                       given) and size (within 1 MiB) must match; may be formatted
format ``preserve``    no mkfs; the filesystem type found must match ``fstype``
raid/lvm ``preserve``  assembled, not created: members must carry the signature
=====================  ==========================================================
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from ..config.problems import Problems
from . import inuse, kernel, preserve, sysfs
from .model import Disk, Format, LogicalVolume, Mount, Partition, Raid, StorageConfig, VolGroup
from .tools import check_programs
from .units import MiB, align_up, human

GPT_TYPES = {
    None: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    "linux": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    "primary": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    "logical": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    "bios_grub": "21686148-6449-6E6F-744E-656564454649",
    "boot": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
    "esp": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
    "prep": "9E1A2D38-C612-4316-AA26-8B49521E5A8B",
    "swap": "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
    "home": "933AC7E1-2EB4-4F13-B844-0E14E2AEF915",
    "lvm": "E6D6D379-F507-44C2-A23C-238F2A3DF928",
    "raid": "A19D880F-05FC-4D3B-A006-743F0F84911E",
    "msftres": "E3C9E316-0B5C-4DB8-817D-F92DF00215AE",
}
MSDOS_TYPES = {None: "83", "linux": "83", "primary": "83", "logical": "83", "boot": "83", "esp": "ef",
               "prep": "41", "swap": "82", "extended": "5", "lvm": "8e", "raid": "fd", "home": "83"}
GPT_TRAILER = 33  # sectors for the backup header and entries
MIN_AUTO_DISK = 1 << 30


@dataclass(frozen=True)
class PlannedPartition:
    entry: Partition
    number: int
    start: int
    size: int
    type_code: str
    bootable: bool
    path: str


@dataclass(frozen=True)
class PlannedDisk:
    entry: Disk
    device: sysfs.BlockDevice
    ptable: Optional[str]
    partitions: Tuple[PlannedPartition, ...]

    @property
    def writes_table(self) -> bool:
        return self.ptable is not None and (
            not self.entry.preserve or any(not p.entry.preserve for p in self.partitions))


@dataclass(frozen=True)
class StoragePlan:
    config: StorageConfig
    disks: Tuple[PlannedDisk, ...]
    volumes: Dict[str, str] = field(default_factory=dict)  # entry id -> /dev path

    def devices_written(self) -> List[str]:
        out = []
        for disk in self.disks:
            if not disk.entry.preserve or disk.writes_table:
                what = f"{disk.device.path} ({human(disk.device.size)}"
                what += f", {disk.ptable} table" if disk.ptable else ""
                what += f", wipe {disk.entry.wipe}" if disk.entry.wipe else ""
                out.append(what + ")")
        return out


def _norm_wwn(value: str) -> str:
    value = value.strip().lower()
    for prefix in ("naa.", "eui.", "t10.", "0x"):
        if value.startswith(prefix):
            value = value[len(prefix):]
    return value


def resolve_disk(disk: Disk, candidates: Sequence[sysfs.BlockDevice]) -> Optional[sysfs.BlockDevice]:
    """WWN, then serial, then path, as curtin looks disks up."""
    if disk.wwn:
        wanted = _norm_wwn(disk.wwn)
        for device in candidates:
            if device.wwn and (_norm_wwn(device.wwn) == wanted or wanted in _norm_wwn(device.wwn)):
                return device
    if disk.serial:
        for device in candidates:
            if device.serial and device.serial.strip() == disk.serial.strip():
                return device
        for device in candidates:
            if device.serial and disk.serial.strip() in device.serial:
                return device
    if disk.path:
        real = os.path.realpath(disk.path)
        for device in candidates:
            if device.path == real:
                return device
    return None


def _describe(candidates: Sequence[sysfs.BlockDevice]) -> str:
    shown = [f"{d.name} ({human(d.size)}{', serial ' + d.serial if d.serial else ''})"
             for d in candidates if d.size]
    return ", ".join(shown[:8]) or "none"


def _layout(disk: Disk, device: sysfs.BlockDevice, ptable: str, parts: List[Partition],
            problems: Problems, table: Optional[preserve.OnDiskTable] = None) -> List[PlannedPartition]:
    sector = device.logical_sector
    end_limit = device.size - (GPT_TRAILER * sector if ptable == "gpt" else 0)
    numbers = {p.number for p in parts if p.number}
    next_number = 1
    primary_cursor = MiB
    planned: List[PlannedPartition] = []
    extended: Optional[PlannedPartition] = None
    logical_cursor = 0
    logical_number = 5
    # Placed in config order (as curtin does); numbers are explicit or the next free one.
    for part in sorted(parts, key=lambda p: (p.flag == "logical", p.index)):
        if part.flag == "logical":
            number = part.number or logical_number
            logical_number = max(logical_number, number) + 1
        else:
            number = part.number or next_number
            while number in numbers and part.number is None:
                next_number += 1
                number = next_number
            numbers.add(number)
            next_number = max(next_number, number) + 1
        size = part.size // sector * sector
        if part.flag == "logical":
            if extended is None:
                continue  # schema already reported it
            start = align_up(max(logical_cursor, extended.start) + MiB)  # room for the EBR
            limit = extended.start + extended.size
        else:
            start = part.offset if part.offset is not None else align_up(primary_cursor)
            limit = end_limit
        if start % sector:
            problems.error(f"{part.where}.offset", f"{start} is not a multiple of the sector size {sector}")
        if part.preserve:
            start, size = preserve.place_preserved(part, number, (start, size), table, device.path, problems)
        if part.flag == "extended" and size == 0:
            size = (end_limit - start) // sector * sector
        end = start + size
        if end > limit:
            whole = "extended partition" if part.flag == "logical" else f"disk {disk.id} ({device.path})"
            problems.error(f"{part.where}.size",
                           f"{human(part.size)} does not fit: it would end at {human(end)} but "
                           f"{whole} is {human(limit)} (usable)")
        if part.flag == "logical":
            logical_cursor = end
        else:
            primary_cursor = end
        codes = GPT_TYPES if ptable == "gpt" else MSDOS_TYPES
        code = part.partition_type or codes.get(part.flag, codes[None])
        planned_part = PlannedPartition(
            entry=part, number=number, start=start, size=size, type_code=code,
            bootable=ptable == "msdos" and part.flag == "boot",
            path=f"/dev/{sysfs.partition_name(device.name, number)}",
        )
        planned.append(planned_part)
        if part.flag == "extended":
            extended = planned_part
    return sorted(planned, key=lambda p: p.number)


def _check_kernel(config: StorageConfig, support: Callable[[str, Optional[str]], Optional[str]],
                  problems: Problems) -> None:
    """RAID, LVM and every filesystem to mount must be possible here."""
    for raid in config.of(Raid):
        why = support("raid", None)
        if why:
            problems.error(f"storage.config[{raid.index}] (id: {raid.id})", f"{why}; cannot build it")
    for group in config.of(VolGroup):
        why = support("lvm", None)
        if why:
            problems.error(f"storage.config[{group.index}] (id: {group.id})", f"{why}; cannot build it")
    formats = {f.id: f for f in config.of(Format) if isinstance(f, Format)}
    for mount in config.of(Mount):
        assert isinstance(mount, Mount)
        fmt = formats.get(mount.device or "")
        fstype = mount.fstype or (fmt.fstype if fmt else None)
        if fstype and fstype not in ("swap", "tmpfs", "ramfs", "none"):
            why = support("mount", fstype)
            if why:
                problems.error(f"{mount.where}", f"{why} (for {mount.path})")


def _written_volumes(config: StorageConfig) -> Set[str]:
    """Ids of the volumes whose content this install replaces (mkfs, new RAID or LVM members)."""
    written: Set[str] = set()
    for entry in config.entries:
        if isinstance(entry, Format) and not entry.preserve:
            written.add(entry.volume)
        elif isinstance(entry, Raid) and not entry.preserve:
            written.update(entry.devices + entry.spare_devices)
        elif isinstance(entry, VolGroup) and not entry.preserve:
            written.update(entry.devices)
    return written


@dataclass(frozen=True)
class _Machine:
    """How the planner looks at this machine; tests replace any part."""

    busy: Callable[[sysfs.BlockDevice], List[str]]
    read_table: Callable[[sysfs.BlockDevice], Optional[preserve.OnDiskTable]]
    can_read_tables: bool


def _plan_disk(disk: Disk, device: sysfs.BlockDevice, config: StorageConfig, machine: _Machine,
               problems: Problems) -> Tuple[PlannedDisk, Optional[preserve.OnDiskTable]]:
    """The disk's layout; with the table it keeps, read from the disk, when it is preserved."""
    if device.read_only:
        problems.error(disk.where, f"{device.path} is read-only")
    parts = list(config.partitions_of(disk.id))
    written = _written_volumes(config)
    if not disk.preserve or any(not p.preserve or p.id in written for p in parts) or disk.id in written:
        for reason in machine.busy(device):
            problems.error(disk.where, f"{device.path} is in use: {reason}; refusing to touch it")
    ptable = disk.ptable
    if parts and not ptable:
        problems.error(f"{disk.where}.ptable", "partitions are configured but the disk has no ptable")
    for part in parts:
        if part.preserve and not disk.preserve:
            problems.error(f"{part.where}.preserve",
                           f"cannot keep a partition of {disk.id!r}: its table is rewritten "
                           "(preserve the disk too)")
    table = None
    kept = disk.preserve and (parts or ptable) and machine.can_read_tables
    if kept:
        table = machine.read_table(device)
        preserve.check_table(disk, device, table, problems)
        ptable = preserve.effective_ptable(disk, table)
    layout = _layout(disk, device, ptable or "gpt", parts, problems, table) if parts else []
    if kept:
        preserve.check_new_partitions(device.path, layout, table, problems)
    return PlannedDisk(disk, device, ptable, tuple(layout)), table


def _volume_paths(config: StorageConfig, disks: Sequence[PlannedDisk]) -> Dict[str, str]:
    """entry id -> the /dev path it will have."""
    volumes: Dict[str, str] = {}
    for disk in disks:
        volumes[disk.entry.id] = disk.device.path
        volumes.update((placed.entry.id, placed.path) for placed in disk.partitions)
    groups = {g.id: g for g in config.of(VolGroup) if isinstance(g, VolGroup)}
    for entry in config.entries:
        if isinstance(entry, LogicalVolume) and entry.volgroup in groups:
            volumes[entry.id] = f"/dev/{groups[entry.volgroup].name}/{entry.name}"
        elif isinstance(entry, Raid):
            volumes[entry.id] = f"/dev/md/{entry.name}"
    for fmt in config.of(Format):
        assert isinstance(fmt, Format)
        if fmt.volume in volumes:
            volumes[fmt.id] = volumes[fmt.volume]
    return volumes


def make_plan(
    config: StorageConfig,
    candidates: Optional[Sequence[sysfs.BlockDevice]] = None,
    busy: Callable[[sysfs.BlockDevice], List[str]] = inuse.busy_reasons,
    problems: Optional[Problems] = None,
    kernel_support: Callable[[str, Optional[str]], Optional[str]] = kernel.missing_support,
    read_table: Callable[[sysfs.BlockDevice], Optional[preserve.OnDiskTable]] = preserve.read_table,
    probe: preserve.Probe = inuse.probe_filesystem,
    which: Callable[[str], Optional[str]] = shutil.which,
) -> StoragePlan:
    """The plan, once everything it will do has been checked against this machine.

    Raises `ConfigInvalid` listing every problem (unless `problems` collects them).
    """
    own = problems is None
    problems = problems or Problems()
    candidates = list(candidates if candidates is not None else sysfs.disks())
    machine = _Machine(busy, read_table, which("sfdisk") is not None)
    planned_disks: List[PlannedDisk] = []
    tables: Dict[str, Optional[preserve.OnDiskTable]] = {}
    claimed: Dict[str, str] = {}
    for disk in config.of(Disk):
        assert isinstance(disk, Disk)
        device = resolve_disk(disk, candidates)
        if device is None:
            how = ", ".join(f"{k} {v!r}" for k, v in (("wwn", disk.wwn), ("serial", disk.serial),
                                                        ("path", disk.path)) if v)
            problems.error(disk.where, f"no disk with {how} on this machine (disks: {_describe(candidates)})")
            continue
        if device.name in claimed:
            problems.error(disk.where, f"{device.path} is also disk {claimed[device.name]!r}")
            continue
        claimed[device.name] = disk.id
        planned, tables[disk.id] = _plan_disk(disk, device, config, machine, problems)
        planned_disks.append(planned)
    _check_kernel(config, kernel_support, problems)
    plan = StoragePlan(config, tuple(planned_disks), _volume_paths(config, planned_disks))
    missing = check_programs(plan, problems, which)
    if "blkid" not in missing:
        preserve.check_contents(config, planned_disks, tables, probe, problems)
    if own:
        problems.raise_if_any("storage config")
    return plan
