"""Why a device must not be touched: mounted, swap, held, backing a loop device.

A disk that is in use is refused at planning with the whole chain of reasons
(see `usage`), never wiped: the check covers the disk, every partition on it
and every device built on them, recursively.  An exclusive open (O_EXCL) is
asked too, and the writes themselves go through exclusive opens: the second
line of defence, which alone would miss a disk behind a loop device.
"""

from __future__ import annotations

import errno
import os
from typing import Dict, List, Optional

from . import sysfs
from .commands import StorageError, run
from .usage import explain, read_usage


def probe_filesystem(path: str, offset: int = 0, size: Optional[int] = None) -> Dict[str, str]:
    """What blkid finds at `path` (from `offset`, `size` bytes long): TYPE, UUID, LABEL...; {} for nothing."""
    argv = ["blkid", "-p", "-o", "export"]
    if offset or size is not None:
        argv += ["-O", str(offset), *(["-S", str(size)] if size is not None else [])]
    try:
        found = run([*argv, path], f"probe {path}")
    except StorageError:
        return {}  # blkid exits 2 when it finds nothing
    return dict(line.split("=", 1) for line in found.splitlines() if "=" in line)


def btrfs_fsid(name: str) -> Optional[str]:
    """The btrfs filesystem UUID on /dev/<name>, if it holds one."""
    info = probe_filesystem(f"/dev/{name}")
    return info.get("UUID") if info.get("TYPE") == "btrfs" else None


def is_claimed(path: str) -> bool:
    """True when someone holds the device exclusively (the kernel answers EBUSY to O_EXCL)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_EXCL | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return exc.errno == errno.EBUSY
    os.close(fd)
    return False


def busy_reasons(device: sysfs.BlockDevice) -> List[str]:
    """Every reason `device` (a disk, with its partitions) is in use, each a whole chain."""
    reasons = explain(device.name, read_usage(), btrfs_fsid)
    if not reasons and is_claimed(device.path):
        reasons.append("another program holds it open exclusively")
    return reasons


def open_exclusive(path: str) -> Optional[int]:
    """An O_EXCL file descriptor, or None when someone else holds the device."""
    try:
        return os.open(path, os.O_RDWR | os.O_EXCL | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return None
        raise
