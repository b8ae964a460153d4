"""The storage config (version 1, as MAAS sends it) as typed, frozen objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple, Union

PTABLES = ("gpt", "msdos")
PTABLE_ALIASES = {"dos": "msdos", "msdos": "msdos", "gpt": "gpt"}
WIPE_MODES = ("superblock", "superblock-recursive", "zero", "random", "pvremove")
FSTYPES = ("ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "fat", "fat16", "fat32", "swap")


def mount_type(fstype: str) -> str:
    """The name mount(8) and fstab know: MAAS says fat32, the kernel says vfat."""
    return "vfat" if fstype in ("fat", "fat16", "fat32") else fstype
FLAGS = ("boot", "bios_grub", "esp", "prep", "swap", "extended", "logical", "home", "linux",
         "lvm", "raid", "msftres", "primary")
UNSUPPORTED_TYPES = ("bcache", "dm_crypt", "zpool", "zfs", "dasd", "nvme_controller", "image",
                     "vmfs6", "vmfs5", "device")


@dataclass(frozen=True)
class Disk:
    id: str
    path: Optional[str] = None
    serial: Optional[str] = None
    wwn: Optional[str] = None
    ptable: Optional[str] = None
    wipe: Optional[str] = None
    preserve: bool = False
    grub_device: bool = False
    name: Optional[str] = None
    index: int = 0  # position in storage.config, for messages

    @property
    def where(self) -> str:
        return f"storage.config[{self.index}] (id: {self.id})"


@dataclass(frozen=True)
class Partition:
    id: str
    device: str
    size: int
    number: Optional[int] = None
    offset: Optional[int] = None
    flag: Optional[str] = None
    wipe: Optional[str] = None
    preserve: bool = False
    partition_type: Optional[str] = None
    grub_device: bool = False
    index: int = 0

    @property
    def where(self) -> str:
        return f"storage.config[{self.index}] (id: {self.id})"


@dataclass(frozen=True)
class Format:
    id: str
    volume: str
    fstype: str
    label: Optional[str] = None
    uuid: Optional[str] = None
    preserve: bool = False
    extra_options: Tuple[str, ...] = ()
    index: int = 0

    @property
    def where(self) -> str:
        return f"storage.config[{self.index}] (id: {self.id})"


@dataclass(frozen=True)
class Mount:
    id: str
    path: str
    device: Optional[str] = None  # a format id
    spec: Optional[str] = None  # tmpfs and friends
    fstype: Optional[str] = None
    options: str = "defaults"
    freq: int = 0
    passno: Optional[int] = None
    index: int = 0

    @property
    def where(self) -> str:
        return f"storage.config[{self.index}] (id: {self.id})"


@dataclass(frozen=True)
class VolGroup:
    id: str
    name: str
    devices: Tuple[str, ...]
    preserve: bool = False
    index: int = 0


@dataclass(frozen=True)
class LogicalVolume:
    id: str
    name: str
    volgroup: str
    size: Optional[int] = None  # None: the rest of the group
    preserve: bool = False
    index: int = 0


@dataclass(frozen=True)
class Raid:
    id: str
    name: str
    raidlevel: str
    devices: Tuple[str, ...]
    spare_devices: Tuple[str, ...] = ()
    ptable: Optional[str] = None
    metadata: Optional[str] = None
    preserve: bool = False
    index: int = 0


Entry = Union[Disk, Partition, Format, Mount, VolGroup, LogicalVolume, Raid]


@dataclass(frozen=True)
class StorageConfig:
    entries: Tuple[Entry, ...]
    raw: Tuple[Mapping[str, object], ...] = field(default=(), repr=False)

    def by_id(self) -> Dict[str, Entry]:
        return {e.id: e for e in self.entries}

    def of(self, kind: type) -> List[Entry]:
        return [e for e in self.entries if isinstance(e, kind)]

    def partitions_of(self, device_id: str) -> List[Partition]:
        parts = [e for e in self.entries if isinstance(e, Partition) and e.device == device_id]
        return parts
