"""Simple mode (no ``storage:``): pick a disk and lay it out as curtin does.

The layout depends on the platform: an msdos table on BIOS; gpt with a
1 MiB bios_grub partition when ``block-meta: {format: gpt}`` asks for GPT on
BIOS; gpt with a 512 MiB ESP (``uefi-boot``, at /boot/efi) on UEFI.  The root
is one ext4 filesystem labelled ``cloudimg-rootfs``.  The layout is produced
as an ordinary version-1 storage config and goes through the same planner
and writer as a custom one, so it is validated the same way and can be
handed to image hooks as ``OUTPUT_STORAGE_CONFIG``.
"""

from __future__ import annotations

import os
import platform as host_platform
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..config.checks import check_keys
from ..config.problems import Problems
from ..errors import MaaslikeError
from . import inuse, sysfs
from .model import Disk, StorageConfig
from .plan import GPT_TRAILER, resolve_disk
from .units import GiB, MiB, align_down

EXCLUDED_PREFIXES = ("loop", "ram", "zram", "sr", "dm-", "md", "nbd", "fd")
ESP_SIZE = 512 * MiB
MIN_ROOT = 64 * MiB


class NoDisk(MaaslikeError):
    exit_code = 3


FORMATS = ("uefi", "gpt", "mbr", "msdos", "prep")
KEYS = ("devices", "format", "boot-partition")


@dataclass(frozen=True)
class BlockMetaSettings:
    """curtin's ``block-meta`` section: simple mode's partition table kind and candidate disks."""

    format: Optional[str] = None  # None: from the platform, as curtin decides
    devices: Tuple[str, ...] = ()


def parse_block_meta(raw: Any, path: str, problems: Problems) -> BlockMetaSettings:
    """The section validator for ``block-meta`` (an enabled ``boot-partition`` is refused by config/keys.py)."""
    if raw is None:
        return BlockMetaSettings()
    if not isinstance(raw, dict):
        problems.error(path, f"expected a mapping, got {raw!r}")
        return BlockMetaSettings()
    check_keys(problems, raw, KEYS, path)
    wanted = raw.get("format")
    if wanted is not None and str(wanted).lower() not in FORMATS:
        problems.error(f"{path}.format", f"expected one of {', '.join(FORMATS)}, got {wanted!r}")
        wanted = None
    elif str(wanted).lower() == "prep":
        problems.error(f"{path}.format", "refused: prep (PowerPC) partitioning is not built")
        wanted = None
    devices = raw.get("devices") or []
    if isinstance(devices, str):
        devices = [devices]
    if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
        problems.error(f"{path}.devices", f"expected a list of device paths, got {devices!r}")
        devices = []
    return BlockMetaSettings(str(wanted).lower() if wanted else None, tuple(devices))


def platform(block_meta: BlockMetaSettings, efi_dir: str = "/sys/firmware/efi", machine: Optional[str] = None) -> str:
    """'uefi', 'gpt' (GPT on BIOS) or 'mbr', as curtin decides (a BIOS arm64 machine gets GPT)."""
    wanted = block_meta.format
    if wanted:
        return "mbr" if wanted == "msdos" else wanted
    if os.path.isdir(efi_dir):
        return "uefi"
    return "gpt" if (machine or host_platform.machine()) == "aarch64" else "mbr"


def installable(device: sysfs.BlockDevice, busy: Callable[[sysfs.BlockDevice], List[str]]) -> bool:
    return (
        device.size >= GiB
        and not device.read_only
        and not device.name.startswith(EXCLUDED_PREFIXES)
        and not busy(device)
    )


def _refuse_if_busy(device: sysfs.BlockDevice, where: str,
                    busy: Callable[[sysfs.BlockDevice], List[str]]) -> sysfs.BlockDevice:
    """A disk named by the config is never passed over silently: in use, it stops the install."""
    reasons = busy(device)
    if reasons:
        raise NoDisk(f"{where}: {device.path} is in use: {'; '.join(reasons)}; refusing to touch it")
    return device


def choose_disk(
    storage: Optional[StorageConfig],
    block_meta: BlockMetaSettings = BlockMetaSettings(),
    devices: Sequence[str] = (),
    candidates: Optional[Sequence[sysfs.BlockDevice]] = None,
    busy: Callable[[sysfs.BlockDevice], List[str]] = inuse.busy_reasons,
) -> sysfs.BlockDevice:
    """A grub_device disk of the storage config, else a listed device, else the first suitable idle one."""
    candidates = list(candidates if candidates is not None else sysfs.disks())
    for disk in storage.of(Disk) if storage is not None else ():
        assert isinstance(disk, Disk)
        if disk.grub_device:
            found = resolve_disk(disk, candidates)
            if found is None:
                raise NoDisk(f"{disk.where}: the grub_device disk is not on this machine")
            return _refuse_if_busy(found, disk.where, busy)
    listed = list(devices) or list(block_meta.devices)
    for path in listed:
        found = sysfs.device(path)
        if found is not None and not found.is_partition:
            return _refuse_if_busy(found, "block-meta.devices", busy)
    if listed:
        raise NoDisk(f"block-meta.devices: none of {', '.join(listed)} is a disk on this machine")
    usable = [d for d in candidates if installable(d, busy)]
    fixed = [d for d in usable if not d.removable]
    if fixed or usable:
        return (fixed or usable)[0]
    raise NoDisk("no disk to install to: every disk is smaller than 1 GiB, read-only, removable"
                 " or in use (list one in block-meta.devices)")


def simple_layout(device: sysfs.BlockDevice, kind: str) -> Dict[str, Any]:
    """A version-1 storage config for `device`."""
    sector = device.logical_sector
    ptable = "msdos" if kind == "mbr" else "gpt"
    end = device.size - (GPT_TRAILER * sector if ptable == "gpt" else 0)
    config: List[Dict[str, Any]] = [
        {"id": "disk0", "type": "disk", "path": device.path, "ptable": ptable, "wipe": "superblock",
         "grub_device": True, "name": "main_disk"},
    ]
    root_offset = MiB
    if kind == "gpt":
        config.append({"id": "disk0-bios_grub", "type": "partition", "device": "disk0", "number": 15,
                       "offset": f"{MiB}B", "size": f"{MiB}B", "flag": "bios_grub"})
        root_offset = 2 * MiB
    elif kind == "uefi":
        config.append({"id": "disk0-esp", "type": "partition", "device": "disk0", "number": 15,
                       "offset": f"{MiB}B", "size": f"{ESP_SIZE}B", "flag": "esp"})
        root_offset = MiB + ESP_SIZE
    root_size = align_down(end - root_offset)
    if root_size < MIN_ROOT:
        raise NoDisk(f"{device.path} ({device.size // MiB} MiB) is too small for a {kind} layout")
    config += [
        {"id": "disk0-root", "type": "partition", "device": "disk0", "number": 1,
         "offset": f"{root_offset}B", "size": f"{root_size}B",
         **({"flag": "boot"} if kind == "mbr" else {})},
        {"id": "disk0-root_format", "type": "format", "volume": "disk0-root", "fstype": "ext4",
         "label": "cloudimg-rootfs"},
        {"id": "disk0-root_mount", "type": "mount", "device": "disk0-root_format", "path": "/"},
    ]
    if kind == "uefi":
        config += [
            {"id": "disk0-esp_format", "type": "format", "volume": "disk0-esp", "fstype": "fat32",
             "label": "uefi-boot"},
            {"id": "disk0-esp_mount", "type": "mount", "device": "disk0-esp_format", "path": "/boot/efi"},
        ]
    return {"version": 1, "config": config}
