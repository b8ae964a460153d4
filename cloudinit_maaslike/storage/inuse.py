"""Why a device must not be touched: mounted, swap, held, a RAID/LVM member.

A disk that is in use is refused with the reason, never wiped: the check
covers the disk and every partition on it.  Exclusive opens (O_EXCL) during
the writes are the second line of defence.
"""

from __future__ import annotations

import errno
import os
from typing import Dict, List, Optional, Set

from . import sysfs


def mounted_devnos(mountinfo: str = "/proc/self/mountinfo") -> Dict[str, str]:
    """major:minor -> a mount point that uses it."""
    found: Dict[str, str] = {}
    try:
        with open(mountinfo, encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                found.setdefault(fields[2], fields[4])
    except OSError:
        pass
    return found


def swap_devices(swaps: str = "/proc/swaps") -> Set[str]:
    try:
        with open(swaps, encoding="utf-8") as handle:
            return {os.path.realpath(line.split()[0]) for line in list(handle)[1:] if line.strip()}
    except OSError:
        return set()


def busy_reasons(device: sysfs.BlockDevice) -> List[str]:
    """Every reason `device` (a disk, with its partitions) is in use."""
    reasons = []
    mounts = mounted_devnos()
    swaps = swap_devices()
    members = [device] + [d for d in (sysfs.device(p) for p in device.partitions) if d is not None]
    for member in members:
        if member.devno in mounts:
            reasons.append(f"{member.path} is mounted on {mounts[member.devno]}")
        if member.path in swaps:
            reasons.append(f"{member.path} is in use as swap")
        for holder in member.holders:
            reasons.append(f"{member.path} is held by {holder}")
    return reasons


def open_exclusive(path: str) -> Optional[int]:
    """An O_EXCL file descriptor, or None when someone else holds the device."""
    try:
        return os.open(path, os.O_RDWR | os.O_EXCL | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return None
        raise
