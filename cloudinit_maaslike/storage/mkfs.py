"""Make filesystems with a known UUID, so fstab needs no probing afterwards."""

from __future__ import annotations

import secrets
import uuid as uuidlib
from typing import List, Optional

from .commands import run

VFAT = ("vfat", "fat", "fat16", "fat32")


def new_uuid(fstype: str) -> str:
    if fstype in VFAT:
        return secrets.token_hex(4).upper()  # a FAT volume id: 8 hex digits
    return str(uuidlib.uuid4())


def fstab_uuid(fstype: str, value: str) -> str:
    """How blkid (and so /dev/disk/by-uuid) spells the UUID."""
    if fstype in VFAT and "-" not in value and len(value) == 8:
        return f"{value[:4]}-{value[4:]}"
    return value


def mkfs_argv(fstype: str, device: str, label: Optional[str], fs_uuid: str,
              extra: List[str]) -> List[str]:
    label_args: List[str] = []
    if fstype in ("ext2", "ext3", "ext4"):
        label_args = ["-L", label] if label else []
        return [f"mkfs.{fstype}", "-F", "-q", "-U", fs_uuid, *label_args, *extra, device]
    if fstype == "xfs":
        label_args = ["-L", label] if label else []
        return ["mkfs.xfs", "-f", "-q", "-m", f"uuid={fs_uuid}", *label_args, *extra, device]
    if fstype == "btrfs":
        label_args = ["-L", label] if label else []
        return ["mkfs.btrfs", "-f", "-q", "-U", fs_uuid, *label_args, *extra, device]
    if fstype in VFAT:
        bits = {"fat16": ["-F", "16"], "fat32": ["-F", "32"]}.get(fstype, ["-F", "32"])
        label_args = ["-n", label] if label else []
        return ["mkfs.vfat", *bits, "-i", fs_uuid.replace("-", ""), *label_args, *extra, device]
    if fstype == "swap":
        label_args = ["-L", label] if label else []
        return ["mkswap", "-f", "-U", fs_uuid, *label_args, *extra, device]
    raise ValueError(f"no mkfs for {fstype}")


def make_filesystem(fstype: str, device: str, label: Optional[str] = None,
                    fs_uuid: Optional[str] = None, extra: Optional[List[str]] = None) -> str:
    """Run mkfs; returns the UUID the filesystem got."""
    fs_uuid = fs_uuid or new_uuid(fstype)
    run(mkfs_argv(fstype, device, label, fs_uuid, list(extra or [])), f"format {device} as {fstype}")
    return fstab_uuid(fstype, fs_uuid)
