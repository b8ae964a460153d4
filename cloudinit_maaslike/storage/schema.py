"""Parse and check a storage config before anything touches a disk.

Everything that can be checked without looking at the machine is checked
here, and every problem is reported at once with the entry's position and id:
``storage.config[3] (id: sda-part2).size: …``.  Checks that need the real
disks (sizes, devices in use) happen in `plan`, still before any write.
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from ..config.checks import expect, type_name
from ..config.problems import Problems
from .model import (
    FLAGS,
    FSTYPES,
    PTABLE_ALIASES,
    UNSUPPORTED_TYPES,
    WIPE_MODES,
    Disk,
    Entry,
    Format,
    LogicalVolume,
    Mount,
    Partition,
    Raid,
    StorageConfig,
    VolGroup,
)
from .units import BadSize, parse_size

KNOWN_KEYS: Dict[str, Tuple[str, ...]] = {
    "disk": ("id", "type", "path", "serial", "wwn", "device_id", "ptable", "wipe", "preserve",
             "grub_device", "name", "model", "multipath", "nvme_controller", "_partition_table_type"),
    "partition": ("id", "type", "device", "size", "number", "offset", "flag", "wipe", "preserve",
                  "partition_type", "uuid", "name", "grub_device", "multipath", "resize",
                  "path", "partition_name"),
    "format": ("id", "type", "volume", "fstype", "label", "uuid", "preserve", "extra_options"),
    "mount": ("id", "type", "device", "path", "options", "spec", "fstype", "freq", "passno"),
    "lvm_volgroup": ("id", "type", "name", "devices", "preserve", "uuid"),
    "lvm_partition": ("id", "type", "name", "volgroup", "size", "preserve", "uuid"),
    "raid": ("id", "type", "name", "raidlevel", "devices", "spare_devices", "ptable", "metadata",
             "preserve", "mdname", "wipe"),
}
RAID_LEVELS = {"0": "0", "1": "1", "4": "4", "5": "5", "6": "6", "10": "10", "raid0": "0",
               "raid1": "1", "raid4": "4", "raid5": "5", "raid6": "6", "raid10": "10",
               "stripe": "0", "mirror": "1"}
LABEL_LIMITS = {"ext2": 16, "ext3": 16, "ext4": 16, "xfs": 12, "vfat": 11, "fat": 11, "fat16": 11,
                "fat32": 11, "swap": 15, "btrfs": 255}
# What each kind of entry may refer to.
TARGET_KINDS: Dict[str, Tuple[type, ...]] = {
    "partition.device": (Disk, Raid),
    "format.volume": (Partition, Disk, LogicalVolume, Raid),
    "mount.device": (Format,),
    "lvm_volgroup.devices": (Partition, Disk, Raid),
    "lvm_partition.volgroup": (VolGroup,),
    "raid.devices": (Partition, Disk),
}


def _bool(entry: Mapping[str, Any], key: str, where: str, problems: Problems) -> bool:
    value = entry.get(key, False)
    if value in (None, False, True):
        return bool(value)
    problems.error(f"{where}.{key}", f"expected true or false, got {value!r}")
    return False


def _str(entry: Mapping[str, Any], key: str, where: str, problems: Problems,
         required: bool = False) -> Optional[str]:
    value = entry.get(key)
    if value is None or value == "":
        if required:
            problems.error(f"{where}.{key}", "required")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        problems.error(f"{where}.{key}", f"expected a string, got {type_name(value)}")
        return None
    return value


def _size(entry: Mapping[str, Any], key: str, where: str, problems: Problems,
          required: bool = True) -> Optional[int]:
    value = entry.get(key)
    if value is None:
        if required:
            problems.error(f"{where}.{key}", "required")
        return None
    try:
        return parse_size(value)
    except BadSize as exc:
        problems.error(f"{where}.{key}", str(exc))
        return None


def _wipe(entry: Mapping[str, Any], where: str, problems: Problems) -> Optional[str]:
    wipe = _str(entry, "wipe", where, problems)
    if wipe is not None and wipe not in WIPE_MODES:
        problems.error(f"{where}.wipe", f"unknown wipe mode {wipe!r} ({', '.join(WIPE_MODES)})")
        return None
    if wipe and entry.get("preserve"):
        problems.error(f"{where}.wipe", "wipe and preserve together: a preserved device is never wiped")
    return wipe


def _ids(entry: Mapping[str, Any], key: str, where: str, problems: Problems) -> Tuple[str, ...]:
    value = entry.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.error(f"{where}.{key}", "expected a list of ids")
        return ()
    return tuple(value)


def _parse_entry(entry: Mapping[str, Any], index: int, problems: Problems) -> Optional[Entry]:
    kind = entry.get("type")
    ident = entry.get("id")
    where = f"storage.config[{index}] (id: {ident})"
    if not isinstance(ident, str) or not ident:
        problems.error(f"storage.config[{index}].id", "required, a non-empty string")
        return None
    if kind in UNSUPPORTED_TYPES:
        problems.error(f"{where}.type", f"{kind} is not supported by this installer")
        return None
    if kind not in KNOWN_KEYS:
        problems.error(f"{where}.type", f"unknown type {kind!r} ({', '.join(KNOWN_KEYS)})")
        return None
    for key in entry:
        if key not in KNOWN_KEYS[kind]:
            problems.warn(f"{where}.{key}", "unknown key, ignored")
    preserve = _bool(entry, "preserve", where, problems)
    if kind == "disk":
        if not any(entry.get(k) for k in ("path", "serial", "wwn", "device_id")):
            problems.error(where, "a disk needs path, serial or wwn to be found")
        ptable = _str(entry, "ptable", where, problems)
        if ptable is not None and ptable not in PTABLE_ALIASES:
            problems.error(f"{where}.ptable", f"unsupported partition table {ptable!r} (gpt or msdos)")
            ptable = None
        return Disk(ident, path=_str(entry, "path", where, problems),
                    serial=_str(entry, "serial", where, problems),
                    wwn=_str(entry, "wwn", where, problems),
                    ptable=PTABLE_ALIASES.get(ptable) if ptable else None,
                    wipe=_wipe(entry, where, problems), preserve=preserve,
                    grub_device=_bool(entry, "grub_device", where, problems),
                    name=_str(entry, "name", where, problems), index=index)
    if kind == "partition":
        size = _size(entry, "size", where, problems)
        number = entry.get("number")
        if number is not None and (not isinstance(number, int) or isinstance(number, bool) or number < 1):
            problems.error(f"{where}.number", f"expected a whole number >= 1, got {number!r}")
            number = None
        flag = _str(entry, "flag", where, problems)
        if flag is not None and flag not in FLAGS:
            problems.error(f"{where}.flag", f"unknown flag {flag!r} ({', '.join(FLAGS)})")
            flag = None
        return Partition(ident, device=_str(entry, "device", where, problems, required=True) or "",
                         size=size or 0, number=number,
                         offset=_size(entry, "offset", where, problems, required=False),
                         flag=flag, wipe=_wipe(entry, where, problems), preserve=preserve,
                         partition_type=_str(entry, "partition_type", where, problems),
                         grub_device=_bool(entry, "grub_device", where, problems), index=index)
    if kind == "format":
        fstype = (_str(entry, "fstype", where, problems, required=True) or "").lower()
        if fstype and fstype not in FSTYPES:
            problems.error(f"{where}.fstype", f"unsupported filesystem {fstype!r} ({', '.join(FSTYPES)})")
        label = _str(entry, "label", where, problems)
        if label and len(label) > LABEL_LIMITS.get(fstype, 255):
            problems.error(f"{where}.label", f"{label!r} is longer than {fstype} allows "
                                             f"({LABEL_LIMITS[fstype]} characters)")
        fs_uuid = _str(entry, "uuid", where, problems)
        if fs_uuid and fstype not in ("vfat", "fat", "fat16", "fat32"):
            try:
                uuid.UUID(fs_uuid)
            except ValueError:
                problems.error(f"{where}.uuid", f"not a UUID: {fs_uuid!r}")
        extra = entry.get("extra_options") or []
        if isinstance(extra, str):
            extra = extra.split()
        if not isinstance(extra, list):
            problems.error(f"{where}.extra_options", "expected a list of options")
            extra = []
        return Format(ident, volume=_str(entry, "volume", where, problems, required=True) or "",
                      fstype=fstype, label=label, uuid=fs_uuid, preserve=preserve,
                      extra_options=tuple(str(o) for o in extra), index=index)
    if kind == "mount":
        path = _str(entry, "path", where, problems)
        device, spec = _str(entry, "device", where, problems), _str(entry, "spec", where, problems)
        if path is not None and path != "none" and not path.startswith("/"):
            problems.error(f"{where}.path", f"must be absolute, got {path!r}")
        if not device and not spec:
            problems.error(where, "a mount needs device (a format id) or spec")
        if spec and not device and not entry.get("fstype"):
            problems.error(f"{where}.fstype", "required with spec")
        options = entry.get("options", "defaults")
        if isinstance(options, list):
            options = ",".join(str(o) for o in options)
        passno = entry.get("passno")
        if passno is not None and not isinstance(passno, int):
            problems.error(f"{where}.passno", f"expected a whole number, got {passno!r}")
            passno = None
        return Mount(ident, path=path or "", device=device, spec=spec,
                     fstype=_str(entry, "fstype", where, problems), options=str(options or "defaults"),
                     freq=int(entry.get("freq") or 0), passno=passno, index=index)
    if kind == "lvm_volgroup":
        devices = _ids(entry, "devices", where, problems)
        if not devices:
            problems.error(f"{where}.devices", "a volume group needs at least one device")
        return VolGroup(ident, name=_str(entry, "name", where, problems, required=True) or ident,
                        devices=devices, preserve=preserve, index=index)
    if kind == "lvm_partition":
        return LogicalVolume(ident, name=_str(entry, "name", where, problems, required=True) or ident,
                             volgroup=_str(entry, "volgroup", where, problems, required=True) or "",
                             size=_size(entry, "size", where, problems, required=False),
                             preserve=preserve, index=index)
    level = RAID_LEVELS.get(str(entry.get("raidlevel", "")).lower())
    if level is None:
        problems.error(f"{where}.raidlevel", f"unsupported RAID level {entry.get('raidlevel')!r}")
        level = "1"
    devices = _ids(entry, "devices", where, problems)
    minimum = {"0": 2, "1": 2, "4": 3, "5": 3, "6": 4, "10": 4}[level]
    if len(devices) < minimum:
        problems.error(f"{where}.devices", f"RAID {level} needs at least {minimum} devices, got {len(devices)}")
    ptable = _str(entry, "ptable", where, problems)
    return Raid(ident, name=_str(entry, "name", where, problems, required=True) or ident,
                raidlevel=level, devices=devices, spare_devices=_ids(entry, "spare_devices", where, problems),
                ptable=PTABLE_ALIASES.get(ptable) if ptable else None,
                metadata=_str(entry, "metadata", where, problems), preserve=preserve, index=index)


def _check_refs(entries: List[Entry], problems: Problems) -> None:
    by_id: Dict[str, Entry] = {}
    for entry in entries:
        if entry.id in by_id:
            problems.error(f"storage.config[{entry.index}].id",
                           f"{entry.id!r} repeats storage.config[{by_id[entry.id].index}]")
        by_id.setdefault(entry.id, entry)

    def ref(entry: Entry, key: str, target: Optional[str], kinds_key: str) -> Optional[Entry]:
        where = f"storage.config[{entry.index}] (id: {entry.id}).{key}"
        if not target:
            return None
        found = by_id.get(target)
        if found is None:
            problems.error(where, f"refers to {target!r}, which no entry has as id")
            return None
        allowed = TARGET_KINDS[kinds_key]
        if not isinstance(found, allowed):
            names = " or ".join(k.__name__.lower() for k in allowed)
            problems.error(where, f"refers to {target!r}, a {type(found).__name__.lower()}, not a {names}")
            return None
        return found

    users: Dict[str, str] = {}

    def claim(volume: str, user: Entry, key: str) -> None:
        if volume in users and users[volume] != user.id:
            problems.error(f"storage.config[{user.index}] (id: {user.id}).{key}",
                           f"{volume!r} is already used by {users[volume]!r}")
        users[volume] = user.id

    root_mounts: List[Mount] = []
    paths: Dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, Partition):
            parent = ref(entry, "device", entry.device, "partition.device")
            if isinstance(parent, Raid) and not parent.ptable:
                problems.error(f"storage.config[{entry.index}] (id: {entry.id}).device",
                               f"RAID {parent.id!r} has no ptable to hold partitions")
        elif isinstance(entry, Format):
            if ref(entry, "volume", entry.volume, "format.volume") is not None:
                claim(entry.volume, entry, "volume")
        elif isinstance(entry, Mount):
            target = ref(entry, "device", entry.device, "mount.device")
            swap = isinstance(target, Format) and target.fstype == "swap"
            if not entry.path and not swap and entry.device:
                problems.error(f"storage.config[{entry.index}] (id: {entry.id}).path",
                               "required (only a swap format's mount may leave it out)")
            if target is not None and entry.device:
                claim(entry.device, entry, "device")
            if entry.path == "/":
                root_mounts.append(entry)
            if entry.path and entry.path != "none":
                if entry.path in paths:
                    problems.error(f"storage.config[{entry.index}] (id: {entry.id}).path",
                                   f"{entry.path} is also mounted by {paths[entry.path]!r}")
                paths[entry.path] = entry.id
        elif isinstance(entry, VolGroup):
            for device in entry.devices:
                if ref(entry, "devices", device, "lvm_volgroup.devices") is not None:
                    claim(device, entry, "devices")
        elif isinstance(entry, LogicalVolume):
            ref(entry, "volgroup", entry.volgroup, "lvm_partition.volgroup")
        elif isinstance(entry, Raid):
            for device in (*entry.devices, *entry.spare_devices):
                if ref(entry, "devices", device, "raid.devices") is not None:
                    claim(device, entry, "devices")
    mounts = [e for e in entries if isinstance(e, Mount)]
    if mounts and not root_mounts:
        problems.error("storage.config", "no mount has path / (one root filesystem is needed)")
    for extra in root_mounts[1:]:
        problems.error(f"storage.config[{extra.index}] (id: {extra.id}).path",
                       f"a second root: / is already mounted by {root_mounts[0].id!r}")


def _check_partitions(entries: List[Entry], problems: Problems) -> None:
    disks = {e.id: e for e in entries if isinstance(e, (Disk, Raid))}
    by_device: Dict[str, List[Partition]] = {}
    for entry in entries:
        if isinstance(entry, Partition) and entry.device in disks:
            by_device.setdefault(entry.device, []).append(entry)
    for device, parts in by_device.items():
        parent = disks[device]
        ptable = parent.ptable if isinstance(parent, (Disk, Raid)) else None
        numbers: Set[int] = set()
        for part in parts:
            where = part.where
            if part.number is not None:
                if part.number in numbers:
                    problems.error(f"{where}.number", f"partition number {part.number} repeats on {device!r}")
                numbers.add(part.number)
            if ptable == "gpt" and part.flag in ("extended", "logical"):
                problems.error(f"{where}.flag", f"{part.flag} partitions exist only in msdos tables")
            if ptable == "msdos" and part.flag == "bios_grub":
                problems.error(f"{where}.flag", "bios_grub partitions exist only in gpt tables")
            if part.size <= 0 and part.flag != "extended":
                problems.error(f"{where}.size", "must be larger than 0")
        if ptable == "msdos":
            extended = [p for p in parts if p.flag == "extended"]
            if len(extended) > 1:
                problems.error(f"{extended[1].where}.flag", "only one extended partition per disk")
            if any(p.flag == "logical" for p in parts) and not extended:
                first = next(p for p in parts if p.flag == "logical")
                problems.error(f"{first.where}.flag", f"logical partitions need an extended partition on {device!r}")
            primaries = [p for p in parts if p.flag != "logical"]
            if len(primaries) > 4:
                problems.error(f"{primaries[4].where}", "an msdos table holds at most 4 primary partitions")
        placed = sorted((p for p in parts if p.offset is not None and p.flag != "logical"),
                        key=lambda p: p.offset or 0)
        for before, after in zip(placed, placed[1:]):
            assert before.offset is not None and after.offset is not None
            if before.offset + before.size > after.offset:
                problems.error(f"{after.where}.offset",
                               f"overlaps {before.id!r} (which ends at byte {before.offset + before.size})")


def parse_storage(raw: Any, path: str = "storage", problems: Optional[Problems] = None) -> StorageConfig:
    """The checked storage config; problems go to `problems` (raised if not given)."""
    own = problems is None
    problems = problems or Problems()
    entries: List[Entry] = []
    if expect(problems, raw, (dict,), path):
        version = raw.get("version")
        if version not in (1, None):
            problems.error(f"{path}.version", f"only version 1 is supported, got {version!r}")
        config = raw.get("config") or []
        if expect(problems, config, (list,), f"{path}.config"):
            for index, item in enumerate(config):
                if not isinstance(item, dict):
                    problems.error(f"{path}.config[{index}]", f"expected a mapping, got {type_name(item)}")
                    continue
                entry = _parse_entry(item, index, problems)
                if entry is not None:
                    entries.append(entry)
            _check_refs(entries, problems)
            _check_partitions(entries, problems)
    if own:
        problems.raise_if_any("storage config")
    return StorageConfig(tuple(entries), tuple(raw.get("config") or []) if isinstance(raw, dict) else ())


def validate_storage(raw: Any, path: str, problems: Problems) -> StorageConfig:
    """The engine's section validator for ``storage``: the parsed section, kept for the stages."""
    return parse_storage(raw, path, problems)

