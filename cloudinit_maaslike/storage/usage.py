"""Who uses each block device: one snapshot of /proc and /sys, followed as a chain.

A device is in use when it is mounted (found by device number; for btrfs and
other filesystems on an anonymous device number, by the source mountinfo
names and by /sys/fs/btrfs/<fsid>/devices), is swap, is held by
device-mapper, md or bcache (its ``holders/``, or another device's
``slaves/``), or backs a loop device.  Exclusive opens do not see all of
this: a loop device opens its backing block device without O_EXCL, so a disk
behind a mounted loop device looks idle to them.

A use can lead to another device (the loop device it backs, the dm table
that holds it), which may itself be mounted, and so on; `explain` follows
the chain so a refusal says the whole story in one line, e.g. ``it backs
/dev/loop7, mounted on /mnt/x``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Set, Tuple

from .sysfs import read_text as _read

MOUNTED, SWAP, BACKS, HELD, BTRFS = "mounted", "swap", "backs", "held", "btrfs"
FIRST = {MOUNTED: "is mounted on {}", SWAP: "is in use as swap", BACKS: "backs {}",
         HELD: "is held by {}", BTRFS: "is part of btrfs {}"}
NEXT = {MOUNTED: "mounted on {}", SWAP: "in use as swap", BACKS: "which backs {}",
        HELD: "which is held by {}", BTRFS: "part of btrfs {}"}
MAX_REASONS = 12


@dataclass(frozen=True)
class Use:
    kind: str  # MOUNTED, SWAP, BACKS, HELD or BTRFS
    what: str = ""  # a mount point, the kernel name of the using device, or a btrfs fsid


@dataclass
class Usage:
    uses: Dict[str, List[Use]] = field(default_factory=dict)  # kernel name -> how it is used
    partitions: Dict[str, List[str]] = field(default_factory=dict)  # disk -> its partitions
    backed_by: Dict[str, str] = field(default_factory=dict)  # loop device -> block device behind it
    labels: Dict[str, str] = field(default_factory=dict)  # dm-0 -> vg0-root
    btrfs: Dict[str, str] = field(default_factory=dict)  # mounted btrfs fsid -> a mount point

    def add(self, name: str, use: Use) -> None:
        found = self.uses.setdefault(name, [])
        if use not in found:
            found.append(use)

    def show(self, name: str) -> str:
        label = self.labels.get(name)
        return f"/dev/{name}" + (f" ({label})" if label else "")


def _listdir(path: str) -> List[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _unescape(text: str) -> str:
    r"""mountinfo and /proc/swaps write space, tab, newline and backslash as \040 and friends."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        text = text.replace(code, char)
    return text


def block_device_name(devnos: Dict[str, str]) -> Callable[[str], Optional[str]]:
    """A path -> the kernel name of the block device it is (through stat, not its name)."""
    def name_of(path: str) -> Optional[str]:
        try:
            info = os.stat(path)
        except OSError:
            return None
        if not stat.S_ISBLK(info.st_mode):
            return None
        return devnos.get(f"{os.major(info.st_rdev)}:{os.minor(info.st_rdev)}")
    return name_of


def _read_sysfs(usage: Usage, class_block: str) -> Tuple[Dict[str, str], Dict[str, str]]:
    """Partitions, holders, slaves, dm names; returns (devno -> name, loop -> backing file)."""
    devnos: Dict[str, str] = {}
    backing: Dict[str, str] = {}
    for name in _listdir(class_block):
        real = os.path.realpath(os.path.join(class_block, name))
        devno = _read(os.path.join(real, "dev"))
        if devno:
            devnos[devno] = name
        if os.path.exists(os.path.join(real, "partition")):
            usage.partitions.setdefault(os.path.basename(os.path.dirname(real)), []).append(name)
        for holder in _listdir(os.path.join(real, "holders")):
            usage.add(name, Use(HELD, holder))
        for slave in _listdir(os.path.join(real, "slaves")):
            usage.add(slave, Use(HELD, name))
        label = _read(os.path.join(real, "dm", "name"))  # dm-0 is vg0-root to a reader
        if label:
            usage.labels[name] = label
        behind = _read(os.path.join(real, "loop", "backing_file"))
        if behind:
            backing[name] = behind.removesuffix(" (deleted)")
    return devnos, backing


def _read_mounts(usage: Usage, mountinfo: str, devnos: Dict[str, str],
                 name_of: Callable[[str], Optional[str]]) -> None:
    for line in (_read(mountinfo) or "").splitlines():
        fields = line.split()
        if "-" not in fields[5:]:
            continue
        after = fields.index("-", 5)
        point = _unescape(fields[4])
        source = _unescape(fields[after + 2]) if len(fields) > after + 2 else ""
        name = devnos.get(fields[2])
        if name is None and source.startswith("/"):
            name = name_of(source)  # btrfs and friends: an anonymous device number
        if name is not None and not any(u.kind == MOUNTED for u in usage.uses.get(name, [])):
            usage.add(name, Use(MOUNTED, point))


def _read_btrfs(usage: Usage, sys_fs_btrfs: str) -> None:
    """/sys/fs/btrfs/<fsid>/devices lists every member of a mounted btrfs."""
    for fsid in _listdir(sys_fs_btrfs):
        members = _listdir(os.path.join(sys_fs_btrfs, fsid, "devices"))
        if not members:
            continue
        points = [u.what for m in members for u in usage.uses.get(m, []) if u.kind == MOUNTED]
        usage.btrfs[fsid] = points[0] if points else ""
        for member in members:
            if not any(u.kind == MOUNTED for u in usage.uses.get(member, [])):
                usage.add(member, Use(BTRFS, fsid))


def _read_swaps(usage: Usage, swaps: str, name_of: Callable[[str], Optional[str]]) -> None:
    for line in (_read(swaps) or "").splitlines()[1:]:
        if line.strip():
            name = name_of(_unescape(line.split()[0]))
            if name is not None:
                usage.add(name, Use(SWAP))


def read_usage(sys_root: str = "/sys", mountinfo: str = "/proc/self/mountinfo", swaps: str = "/proc/swaps",
               name_of: Optional[Callable[[str], Optional[str]]] = None) -> Usage:
    """Every use of every block device, as the kernel shows them now."""
    usage = Usage()
    devnos, backing = _read_sysfs(usage, os.path.join(sys_root, "class", "block"))
    resolve = name_of or block_device_name(devnos)
    for loop, path in backing.items():
        behind = resolve(path)
        if behind is not None:
            usage.add(behind, Use(BACKS, loop))
            usage.backed_by[loop] = behind
    _read_mounts(usage, mountinfo, devnos, resolve)
    _read_btrfs(usage, os.path.join(sys_root, "fs", "btrfs"))
    _read_swaps(usage, swaps, resolve)
    return usage


FsidProbe = Callable[[str], Optional[str]]


def _direct(name: str, usage: Usage, probe: FsidProbe) -> List[Use]:
    """The device's own uses, plus membership of a mounted btrfs found by its filesystem UUID."""
    uses = list(usage.uses.get(name, []))
    if usage.btrfs and not any(u.kind in (MOUNTED, BTRFS) for u in uses):
        fsid = probe(name)
        if fsid in usage.btrfs:
            uses.append(Use(BTRFS, fsid))
    return uses


def _words(use: Use, usage: Usage, forms: Dict[str, str]) -> str:
    shown = usage.show(use.what) if use.kind in (BACKS, HELD) else use.what
    text = forms[use.kind].format(shown)
    if use.kind == BTRFS:
        point = usage.btrfs.get(use.what)
        text += f", mounted on {point}" if point else " (mounted)"
    return text


def _paths(name: str, usage: Usage, probe: FsidProbe, seen: Set[str]) -> List[Tuple[Use, str]]:
    """(use, the rest of the chain) for each way `name` is used."""
    out: List[Tuple[Use, str]] = []
    for use in _direct(name, usage, probe):
        onward: List[str] = []
        if use.kind in (BACKS, HELD) and use.what not in seen:
            onward = _onward(use.what, usage, probe, seen | {use.what})
        out += [(use, more) for more in onward] or [(use, "")]
    return out


def _onward(name: str, usage: Usage, probe: FsidProbe, seen: Set[str], skip: Optional[Use] = None) -> List[str]:
    """How a device that uses ours is used in turn: ', mounted on /x', ', which backs /dev/loop8'."""
    out = [f", {_words(use, usage, NEXT)}{tail}" for use, tail in _paths(name, usage, probe, seen) if use != skip]
    for part in usage.partitions.get(name, []):
        out += [f", whose partition /dev/{part} {_words(use, usage, FIRST)}{tail}"
                for use, tail in _paths(part, usage, probe, seen | {part})]
    return out


def explain(name: str, usage: Usage, probe: FsidProbe = lambda name: None) -> List[str]:
    """Every reason writing disk `name` would hurt something, one chain per line.

    A partition of the disk in use counts as the disk in use; so does the
    block device behind a loop device (writing the loop device writes it).
    """
    reasons: List[str] = []
    subjects = [("it", name)] + [(f"its partition /dev/{p}", p) for p in usage.partitions.get(name, [])]
    for subject, device in subjects:
        seen = {name, device}
        reasons += [f"{subject} {_words(use, usage, FIRST)}{tail}"
                    for use, tail in _paths(device, usage, probe, seen)]
    behind = usage.backed_by.get(name)
    if behind is not None:
        onward = _onward(behind, usage, probe, {name, behind}, skip=Use(BACKS, name))
        reasons += [f"it is backed by {usage.show(behind)}{more}" for more in onward]
    unique = list(dict.fromkeys(reasons))
    return unique[:MAX_REASONS]
