"""What the running kernel can do, asked before any disk is written.

A RAID, LVM or filesystem the kernel cannot handle would otherwise fail half
way through partitioning; the planner asks here first and refuses with the
reason.  Something not yet loaded counts when modprobe can load it.
"""

from __future__ import annotations

import os
from typing import Optional

from .. import runner
from .model import mount_type


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""


def _loadable(module: str) -> bool:
    try:
        done = runner.run(["modprobe", "--dry-run", "--quiet", module], timeout=10)
    except (runner.ProgramNotStarted, runner.TimeoutExpired):
        return False
    return done.returncode == 0


def has_md() -> bool:
    return os.path.exists("/proc/mdstat") or _loadable("md_mod")


def has_device_mapper() -> bool:
    return "device-mapper" in _read("/proc/misc") or _loadable("dm_mod")


def can_mount(fstype: str) -> bool:
    name = mount_type(fstype)
    listed = {line.split()[-1] for line in _read("/proc/filesystems").splitlines() if line.strip()}
    return name in listed or _loadable(name)


def missing_support(what: str, fstype: Optional[str] = None) -> Optional[str]:
    """None when the kernel can do `what` ('raid', 'lvm', 'mount'), else why not."""
    if what == "raid" and not has_md():
        return "this kernel has no md (software RAID) support"
    if what == "lvm" and not has_device_mapper():
        return "this kernel has no device-mapper (LVM) support"
    if what == "mount" and fstype and not can_mount(fstype):
        return f"this kernel cannot mount {fstype}"
    return None
