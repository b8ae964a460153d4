"""Carry out a storage plan: wipe, partition, RAID, LVM, mkfs, mount, fstab.

Only a plan without problems gets here, so every device to be written has
been resolved and found idle.  Partitions are made known to the kernel with
BLKPG (`partx`), because no udev runs where we install and the kernel may
have no partition-table parsers of its own; device nodes are waited for and,
if devtmpfs does not create them, made from sysfs.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import stat
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .. import runner, targetfs
from . import sysfs
from .commands import StorageError, run
from .mkfs import make_filesystem
from .model import Format, LogicalVolume, Mount, Raid, VolGroup, mount_type
from .plan import PlannedDisk, StoragePlan
from .sfdisk import sfdisk_script
from .wipe import wipe

LOG = logging.getLogger("cloudinit_maaslike.install")
NODE_WAIT = 5.0
LVM_ENV = {"DM_DISABLE_UDEV": "1", "LVM_SUPPRESS_FD_WARNINGS": "1"}


@dataclass
class FilesystemMade:
    device: str
    fstype: str
    uuid: str
    label: Optional[str] = None


@dataclass
class AppliedStorage:
    filesystems: Dict[str, FilesystemMade] = field(default_factory=dict)  # format id -> fs
    mounted: List[Tuple[str, str]] = field(default_factory=list)  # (mount point, device)
    fstab: List[str] = field(default_factory=list)


def wait_for_node(path: str, timeout: float = NODE_WAIT) -> None:
    """Wait for /dev/<name>; make it from sysfs if devtmpfs does not."""
    deadline = time.monotonic() + timeout
    name = os.path.basename(path)
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return
        time.sleep(0.02)
    dev_file = os.path.join(sysfs.SYS_CLASS_BLOCK, name, "dev")
    try:
        with open(dev_file) as handle:
            major, minor = (int(x) for x in handle.read().split(":"))
    except OSError:
        raise StorageError(f"{path} did not appear: the kernel does not know {name}") from None
    os.mknod(path, 0o660 | stat.S_IFBLK, os.makedev(major, minor))
    LOG.info("storage: made %s (%d:%d) from sysfs", path, major, minor)


def kernel_partitions(device: sysfs.BlockDevice) -> Dict[int, Tuple[int, int]]:
    """number -> (start, size) in bytes, as the kernel knows them now."""
    fresh = sysfs.device(device.path)
    found: Dict[int, Tuple[int, int]] = {}
    for name in fresh.partitions if fresh else ():
        part = sysfs.device(name)
        if part is not None:
            found[part.partition_number] = (part.start, part.size)
    return found


def sync_partitions(disk: PlannedDisk, attempts: int = 20) -> None:
    """Make the kernel's partitions of the disk match the table just written.

    Kernels without partition-table parsers learn them only through BLKPG
    (`partx`); kernels with them, where udev runs, rescan a disk by themselves
    once it is closed after writing, and may be doing so right now.  So: look,
    update, add what is missing, and look again, for a bounded time.
    """
    expected = {p.number: (p.start, p.size) for p in disk.partitions}
    # The kernel shows an extended partition as its first EBR only (2 sectors).
    extended = {p.number for p in disk.partitions if p.entry.flag == "extended"}
    path = disk.device.path
    current: Dict[int, Tuple[int, int]] = {}

    def matches(number: int) -> bool:
        seen = current.get(number)
        if seen is None:
            return False
        return seen[0] == expected[number][0] if number in extended else seen == expected[number]

    for attempt in range(attempts):
        current = kernel_partitions(disk.device)
        if all(matches(n) for n in expected):
            return
        for argv in (["partx", "-u", path],
                     *(["partx", "-a", "--nr", str(n), path] for n in expected if n not in current)):
            runner.run(argv, timeout=30)
        time.sleep(min(0.5, 0.02 * (attempt + 1)))
    missing = sorted(n for n in expected if not matches(n))
    raise StorageError(f"the kernel does not see partition(s) {', '.join(map(str, missing))} of {path} "
                       "as written (BLKPG and rescans both failed)")


def _forget_partitions(device: sysfs.BlockDevice) -> None:
    for name in device.partitions:
        part = sysfs.device(name)
        if part is not None:
            run(["partx", "-d", "--nr", str(part.partition_number), device.path],
                f"remove old partition {part.path} from the kernel")


def _write_table(disk: PlannedDisk) -> None:
    device = disk.device
    append = disk.entry.preserve
    if not append:
        _forget_partitions(device)
    script = sfdisk_script(disk, append=append)
    argv = ["sfdisk", "--no-reread", "--no-tell-kernel", "--quiet",
            "--wipe-partitions", "always", device.path]
    if append:
        argv[1:1] = ["--append"]
    else:
        argv[1:1] = ["--wipe", "always"]
    run(argv, f"write the {disk.ptable} table of {device.path}", stdin=script)
    sync_partitions(disk)
    for part in disk.partitions:
        wait_for_node(part.path)


def _wipe_disk(disk: PlannedDisk) -> None:
    mode = disk.entry.wipe
    if not mode or disk.entry.preserve:
        return
    if mode == "superblock-recursive":
        for name in disk.device.partitions:
            part = sysfs.device(name)
            if part is not None:
                LOG.info("storage: wiping %s (superblock)", part.path)
                wipe(part.path, part.size, "superblock")
    LOG.info("storage: wiping %s (%s)", disk.device.path, mode)
    wipe(disk.device.path, disk.device.size, mode)


def _raid(plan: StoragePlan, raid: Raid) -> None:
    devices = [plan.volumes[d] for d in raid.devices]
    spares = [plan.volumes[d] for d in raid.spare_devices]
    if raid.preserve:
        run(["mdadm", "--assemble", f"/dev/md/{raid.name}", *devices, *spares],
            f"assemble RAID {raid.name}")
    else:
        run(["mdadm", "--create", f"/dev/md/{raid.name}", "--run", "--force", f"--level={raid.raidlevel}",
             f"--raid-devices={len(devices)}", f"--metadata={raid.metadata or '1.2'}",
             *([f"--spare-devices={len(spares)}"] if spares else []), *devices, *spares],
            f"create RAID {raid.name}")
    wait_for_node(os.path.realpath(f"/dev/md/{raid.name}") if os.path.exists(f"/dev/md/{raid.name}")
                  else f"/dev/md/{raid.name}", timeout=10)


def _lvm(plan: StoragePlan, group: VolGroup, volumes: List[LogicalVolume]) -> None:
    env = dict(os.environ, **LVM_ENV)
    pvs = [plan.volumes[d] for d in group.devices]
    if not group.preserve:
        run(["pvcreate", "-ff", "-y", *pvs], f"make LVM physical volumes of {', '.join(pvs)}", env=env)
        run(["vgcreate", "-y", group.name, *pvs], f"create volume group {group.name}", env=env)
    for lv in volumes:
        if lv.preserve:
            continue
        size = ["-L", f"{lv.size}B"] if lv.size else ["-l", "100%FREE"]
        run(["lvcreate", "-y", "-W", "y", *size, "-n", lv.name, group.name],
            f"create logical volume {group.name}/{lv.name}", env=env)
    run(["vgchange", "-a", "y", group.name], f"activate {group.name}", env=env)
    # /dev/<vg>/<lv> without waiting on udev (there may be none)
    run(["vgmknodes", group.name], f"make device nodes for {group.name}", env=env)


def _format(plan: StoragePlan, fmt: Format) -> FilesystemMade:
    device = plan.volumes[fmt.volume]
    if fmt.preserve:
        found = run(["blkid", "-p", "-o", "export", device], f"probe {device}")
        info = dict(line.split("=", 1) for line in found.splitlines() if "=" in line)
        if info.get("TYPE") != fmt.fstype and not (fmt.fstype.startswith("fat") and info.get("TYPE") == "vfat"):
            raise StorageError(f"{fmt.where}: preserve: {device} holds {info.get('TYPE') or 'nothing'},"
                               f" not {fmt.fstype}")
        return FilesystemMade(device, fmt.fstype, info.get("UUID", ""), info.get("LABEL"))
    LOG.info("storage: formatting %s as %s%s", device, fmt.fstype,
             f" (label {fmt.label})" if fmt.label else "")
    fs_uuid = make_filesystem(fmt.fstype, device, fmt.label, fmt.uuid, list(fmt.extra_options))
    return FilesystemMade(device, fmt.fstype, fs_uuid, fmt.label)


def fstab_line(mount: Mount, made: Optional[FilesystemMade], device: str) -> List[str]:
    """curtin's OUTPUT_FSTAB format: a comment, then the entry."""
    if made is None:  # spec mounts: tmpfs and friends
        fstype = mount.fstype or "auto"
        return [f"{mount.spec} {mount.path} {fstype} {mount.options} {mount.freq} "
                f"{mount.passno if mount.passno is not None else 0}"]
    passno = mount.passno if mount.passno is not None else 1
    spec = f"/dev/disk/by-uuid/{made.uuid}"
    return [f"# {mount.path} was on {device} during curtin installation",
            f"{spec} {mount.path} {mount_type(mount.fstype or made.fstype)} {mount.options} {mount.freq} {passno}"]


def swap_line(mount: Mount, made: FilesystemMade) -> List[str]:
    """A mount entry on a swap format: never mounted, one fstab line (curtin's ``fstab_line_for_data``).

    A swap format with no mount entry gets no line at all, as under curtin.
    """
    path = mount.path or "none"
    options = "sw" if mount.options in ("", "defaults") else mount.options
    passno = mount.passno if mount.passno is not None else 0
    line = f"/dev/disk/by-uuid/{made.uuid} {path} swap {options} {mount.freq} {passno}"
    if path == "none":
        return [line]
    return [f"# {path} was on {made.device} during curtin installation", line]


def _mount_all(plan: StoragePlan, target: str, applied: AppliedStorage) -> None:
    formats = {f.id: f for f in plan.config.of(Format) if isinstance(f, Format)}
    swaps = [m for m in plan.config.of(Mount) if isinstance(m, Mount) and m.device
             and formats.get(m.device) is not None and formats[m.device].fstype == "swap"]
    mounts = sorted((m for m in plan.config.of(Mount) if isinstance(m, Mount) and m.path not in ("", "none")
                     and m not in swaps), key=lambda m: (m.path.rstrip("/").count("/"), m.path))
    for mount in mounts:
        where = targetfs.makedirs(target, mount.path)  # `..` and links stay inside the target
        if mount.device:
            made = applied.filesystems[mount.device]
            fstype = mount_type(mount.fstype or made.fstype)
            options = [] if mount.options in ("", "defaults") else ["-o", mount.options]
            run(["mount", "-t", fstype, *options, made.device, where], f"mount {made.device} on {mount.path}")
            applied.mounted.append((where, made.device))
            applied.fstab += fstab_line(mount, made, made.device)
        else:
            run(["mount", "-t", str(mount.fstype), "-o", mount.options, str(mount.spec), where],
                f"mount {mount.spec} on {mount.path}")
            applied.mounted.append((where, str(mount.spec)))
            applied.fstab += fstab_line(mount, None, str(mount.spec))
    for mount in swaps:
        applied.fstab += swap_line(mount, applied.filesystems[str(mount.device)])


def check_still_there(disk: PlannedDisk) -> None:
    """The disk planned for is still the one at that path: not gone, not swapped for another.

    Between planning and the first write a disk can vanish (a USB stick pulled,
    a loop device detached, a multipath path lost) and its name can come back
    for a different device.  Writing then would destroy something nobody planned.
    """
    planned = disk.device
    now = sysfs.device(planned.path)
    where = f"storage.config (id: {disk.entry.id}): {planned.path}"
    if now is None or now.size == 0:
        raise StorageError(f"{where} is gone since planning (it had {planned.size} bytes); nothing was written")
    changed = [f"{what} {getattr(now, what)!r}, planned {getattr(planned, what)!r}"
               for what in ("size", "major_minor", "serial", "wwn") if getattr(now, what) != getattr(planned, what)]
    if changed:
        raise StorageError(f"{where} is not the disk that was planned ({'; '.join(changed)}); nothing was written")


def apply_plan(plan: StoragePlan, target: str, parallel: int = 4) -> AppliedStorage:
    applied = AppliedStorage()
    for disk in plan.disks:
        check_still_there(disk)
    for disk in plan.disks:
        _wipe_disk(disk)
    for disk in plan.disks:
        if disk.writes_table:
            _write_table(disk)
        for part in disk.partitions:
            if part.entry.wipe and not part.entry.preserve:
                wipe(part.path, part.size, part.entry.wipe)
    for raid in plan.config.of(Raid):
        assert isinstance(raid, Raid)
        _raid(plan, raid)
    for group in plan.config.of(VolGroup):
        assert isinstance(group, VolGroup)
        lvs = [lv for lv in plan.config.of(LogicalVolume) if isinstance(lv, LogicalVolume)
               and lv.volgroup == group.id]
        _lvm(plan, group, lvs)
    formats = [f for f in plan.config.of(Format) if isinstance(f, Format)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = {fmt.id: pool.submit(_format, plan, fmt) for fmt in formats}
        for fid, future in futures.items():
            applied.filesystems[fid] = future.result()
    _mount_all(plan, target, applied)
    return applied

