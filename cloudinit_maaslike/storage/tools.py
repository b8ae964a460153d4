"""Every program a storage plan will run, found before the first write.

A tool missing from the ephemeral image (no xfsprogs, no mdadm) would
otherwise be noticed at the step that needs it, after the disks were wiped.
The planner lists what its plan runs and looks each up on the PATH the
writes use (the storage steps inherit this process's environment); a missing
one is a problem naming the Debian package that ships it.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Callable, Dict, Iterable, Optional

from ..config.problems import Problems
from .mkfs import mkfs_argv
from .model import Format, LogicalVolume, Mount, Raid, VolGroup
from .wipe import WIPE_PROGRAMS

if TYPE_CHECKING:
    from .plan import StoragePlan

PACKAGES = {
    "sfdisk": "fdisk",
    "partx": "util-linux",
    "wipefs": "util-linux",
    "blkid": "util-linux",
    "mkswap": "util-linux",
    "mount": "mount",
    "shred": "coreutils",
    "mkfs.ext2": "e2fsprogs",
    "mkfs.ext3": "e2fsprogs",
    "mkfs.ext4": "e2fsprogs",
    "mkfs.xfs": "xfsprogs",
    "mkfs.btrfs": "btrfs-progs",
    "mkfs.vfat": "dosfstools",
    "mdadm": "mdadm",
    "pvcreate": "lvm2",
    "vgcreate": "lvm2",
    "lvcreate": "lvm2",
    "vgchange": "lvm2",
    "vgmknodes": "lvm2",
}
LVM_ALWAYS = ("vgchange", "vgmknodes")


def _where(entry: object) -> str:
    return f"storage.config[{getattr(entry, 'index', 0)}] (id: {getattr(entry, 'id', '?')})"


def programs_needed(plan: StoragePlan) -> Dict[str, str]:
    """program -> the config entry that first needs it, in the order the plan runs them."""
    needed: Dict[str, str] = {}

    def need(programs: Iterable[str], entry: object) -> None:
        for program in programs:
            needed.setdefault(program, _where(entry))

    for disk in plan.disks:
        entry = disk.entry
        if entry.wipe and not entry.preserve:
            need(WIPE_PROGRAMS.get(entry.wipe, ()), entry)
        if entry.preserve and disk.partitions:
            need(["sfdisk"], entry)  # the planner reads the kept table
        if disk.writes_table:
            need(["sfdisk", "partx"], entry)
        for part in disk.partitions:
            if part.entry.wipe and not part.entry.preserve:
                need(WIPE_PROGRAMS.get(part.entry.wipe, ()), part.entry)
    for item in plan.config.entries:
        if isinstance(item, Raid):
            need(["blkid", "mdadm"] if item.preserve else ["mdadm"], item)  # blkid: members are checked
        elif isinstance(item, VolGroup):
            need(["blkid"] if item.preserve else ["pvcreate", "vgcreate"], item)
            need(LVM_ALWAYS, item)
        elif isinstance(item, LogicalVolume) and not item.preserve:
            need(["lvcreate"], item)
        elif isinstance(item, Format):
            need(["blkid"] if item.preserve else mkfs_argv(item.fstype, "-", None, "-", [])[:1], item)
        elif isinstance(item, Mount) and item.path not in ("", "none"):
            need(["mount"], item)
    return needed


def check_programs(plan: StoragePlan, problems: Problems,
                   which: Callable[[str], Optional[str]] = shutil.which) -> Dict[str, str]:
    """Report every program the plan needs and cannot find; returns those that are missing."""
    missing = {}
    for program, where in programs_needed(plan).items():
        if which(program) is None:
            missing[program] = where
            package = PACKAGES.get(program)
            problems.error(where, f"{program} not found: install {package}" if package
                           else f"{program} not found on PATH")
    return missing
