"""A swap file in the target, sized and placed exactly as curtin does (``swap:``).

A ``swap`` key that is present but empty (``swap: {}``, ``swap: null``,
``swap: false``) turns swap off, as does a size of ``0``.  A given ``size`` is
used as it is (``maxsize`` only bounds curtin's suggestion); without one,
curtin's table of memory sizes decides, bounded by a quarter of the target
filesystem's free space and 8 GiB, and gives *no* swap when the result would
be under half the memory and under 4 GiB.  Operators compare installs with
curtin's on the same machine, so a different rule is a visible difference.

No swap file on ZFS, on an unknown filesystem, or on btrfs unless the target's
``linux-image-generic`` is 5.0 or later, unless ``force: true``.  The fstab
line is curtin's (tab-separated).  Idempotent: an existing swap file of the
right size is kept and its fstab line is not repeated.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from .. import runner, targetfs
from ..config.problems import Problems
from ..storage.units import BadSize, GiB, MiB, parse_size
from . import dpkgstatus
from .context import HookContext, StepFailed

# (memory at most, suggested size for that memory), curtin's table
_TABLE = (
    (1 * GiB, lambda memory: memory * 2),
    (2 * GiB, lambda memory: 2 * GiB),
    (4 * GiB, lambda memory: memory),
    (16 * GiB, lambda memory: 4 * GiB),
    (64 * GiB, lambda memory: memory / 2),
)


def suggested_size(memory: int, available: Optional[int], maxsize: Optional[int] = None) -> int:
    """curtin's suggestion for `memory` bytes of RAM and `available` free bytes in the target.

    0 means no swap.  May be fractional in curtin; the file is made in whole MiB.
    """
    if available is None and maxsize is None:
        maxsize = 8 * GiB
    if available is not None:
        if maxsize is None:
            maxsize = min(int(available / 4), 8 * GiB)
        elif maxsize > available * 0.9:
            maxsize = int(available * 0.9)
    assert maxsize is not None
    for top, rule in _TABLE:
        if memory <= top:
            size = min(rule(memory), maxsize)
            if size < memory / 2 and size < 4 * GiB:
                return 0
            return int(size)
    return maxsize


def memory_total(meminfo: str = "/proc/meminfo") -> int:
    with open(meminfo, encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise StepFailed(f"swap: {meminfo} has no MemTotal line")


def _free_bytes(path: str) -> int:
    """Free blocks, the reserved ones included (curtin counts f_bfree, not f_bavail)."""
    found = os.statvfs(path)
    return found.f_frsize * found.f_bfree


@dataclass(frozen=True)
class SwapSettings:
    """``swap``, parsed; the defaults are a config without the key (curtin's suggestion)."""

    enabled: bool = True  # false: the key is present but empty (swap: {}, null, false)
    size: Optional[int] = None  # bytes; None: curtin's suggestion; 0: no swap
    maxsize: Optional[int] = None  # bounds only the suggestion
    filename: str = "/swap.img"  # from the target's root
    force: bool = False  # a swap file even where it may not work


def _bytes(value: Any) -> Optional[int]:
    """curtin converts what is set; an explicit 0 stays 0 (no swap), not "suggest one"."""
    return None if value is None or value == "" else parse_size(str(value))


def parse(raw: Any, path: str, problems: Problems) -> SwapSettings:
    """The value of a *present* ``swap`` key (an absent one is ``SwapSettings()``)."""
    if not raw:
        return SwapSettings(enabled=False)
    if not isinstance(raw, Mapping):
        problems.error(path, "expected {size: …, maxsize: …, filename: …, force: …} or nothing to turn swap off")
        return SwapSettings(enabled=False)
    sizes: Dict[str, Optional[int]] = {}
    for key in ("size", "maxsize"):
        try:
            sizes[key] = _bytes(raw.get(key))
        except BadSize as exc:
            problems.error(f"{path}.{key}", str(exc))
            sizes[key] = None
    name = raw.get("filename")
    if name is not None and (not isinstance(name, str) or not name.strip("/")):
        problems.error(f"{path}.filename", f"expected a file path, got {name!r}")
        name = None
    if raw.get("force") is not None and not isinstance(raw.get("force"), bool):
        problems.error(f"{path}.force", f"expected true or false, got {raw.get('force')!r}")
    for key in sorted(set(raw) - {"size", "maxsize", "filename", "force"}):
        problems.warn(f"{path}.{key}", "not a key of curtin's swap section; ignored")
    return SwapSettings(size=sizes["size"], maxsize=sizes["maxsize"],
                        filename="/" + str(name or "swap.img").lstrip("/"), force=raw.get("force") is True)


def wanted_size(ctx: HookContext, swap: SwapSettings) -> int:
    size = swap.size
    if size is None:
        memory = memory_total(os.path.join(ctx.host_root, "proc/meminfo"))
        size = suggested_size(memory, _free_bytes(ctx.target), swap.maxsize)
    return size


def _fstype(path: str) -> Optional[str]:
    done = runner.run(["findmnt", "--noheadings", "--target", path, "-o", "FSTYPE"])
    lines = done.stdout.split() if done.returncode == 0 else []
    return lines[-1] if lines else None


def _kernel_major(ctx: HookContext) -> Optional[int]:
    """The major version of the target's linux-image-generic (what curtin asks dpkg)."""
    version = re.match(r"(?:\d+:)?(\d+)", dpkgstatus.installed(ctx.target).get("linux-image-generic", ""))
    return int(version.group(1)) if version else None


def _why_not(ctx: HookContext, fstype: Optional[str]) -> Optional[str]:
    if fstype is None:
        return "the filesystem type of its directory is unknown"
    if fstype == "zfs":
        return "ZFS cannot hold a swap file"
    if fstype == "btrfs":
        major = _kernel_major(ctx)
        if major is None or major < 5:
            return "btrfs swap files need linux-image-generic 5.0 or later in the target"
    return None


def setup_swap(ctx: HookContext, fstab_state: Optional[str]) -> List[str]:
    swap: SwapSettings = ctx.settings.swap
    if not swap.enabled:
        return []
    size = wanted_size(ctx, swap)
    if size == 0:
        return []
    name = swap.filename
    targetfs.makedirs(ctx.target, os.path.dirname(name))
    path = ctx.path(name)
    why_not = _why_not(ctx, _fstype(os.path.dirname(path)))
    if why_not and not swap.force:
        ctx.log.info("curthooks: no swap file: %s (swap.force: true makes one anyway)", why_not)
        return []
    if why_not:
        ctx.log.warning("curthooks: swap file %s may not work: %s", name, why_not)
    size = size // MiB * MiB
    if not (os.path.exists(path) and os.path.getsize(path) == size):
        _allocate(path, size)
        done = runner.run(["mkswap", path])
        if done.returncode != 0:
            os.unlink(path)
            raise StepFailed(f"swap: mkswap {name} failed: {done.stderr.strip()}")
    os.chmod(path, 0o600)
    line = "\t".join([name, "none", "swap", "sw", "0", "0"])
    if fstab_state:
        with open(fstab_state, "a+", encoding="utf-8") as handle:
            handle.seek(0)
            if line not in handle.read().splitlines():
                handle.write(line + "\n")
    return [f"{name} ({size // MiB} MiB)"]


def _allocate(path: str, size: int) -> None:
    """Real blocks (mkswap refuses holes): fallocate, or zeros where it is not supported."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError:
            block = bytes(4 * MiB)
            for _ in range(size // len(block)):
                os.write(fd, block)
            os.write(fd, bytes(size % len(block)))
    finally:
        os.close(fd)
