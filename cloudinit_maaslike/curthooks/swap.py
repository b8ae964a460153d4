"""A swap file in the target, as curtin makes it (``swap:``).

``size`` with units (``0`` turns swap off), ``filename`` (default
``/swap.img``), ``maxsize``; without a size, curtin's rule of thumb: as much
as the machine has memory, at most 8 GiB and at most a quarter of the free
space.  The fstab entry joins the install's fstab.  Idempotent: an existing
swap file of the right size is kept.
"""

from __future__ import annotations

import os
from typing import Any, List, Mapping, Optional

from .. import runner, targetfs
from ..config.problems import Problems
from ..storage.units import BadSize, GiB, MiB, parse_size
from .context import HookContext, StepFailed


def _memory(meminfo: str = "/proc/meminfo") -> int:
    try:
        with open(meminfo) as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return GiB


def wanted_size(cfg: Mapping[str, Any], target: str) -> int:
    swap = cfg.get("swap") or {}
    if swap.get("size") is not None:
        size = parse_size(swap["size"])
    else:
        free = os.statvfs(target)
        size = min(_memory(), 8 * GiB, free.f_bavail * free.f_frsize // 4)
    if swap.get("maxsize") is not None:
        size = min(size, parse_size(swap["maxsize"]))
    return size // MiB * MiB


def validate(raw: Any, path: str, problems: Problems) -> None:
    if raw is None:
        return
    if not isinstance(raw, Mapping):
        problems.error(path, "expected {size: …, filename: …}")
        return
    for key in ("size", "maxsize"):
        if raw.get(key) is not None:
            try:
                parse_size(raw[key])
            except BadSize as exc:
                problems.error(f"{path}.{key}", str(exc))
    name = raw.get("filename")
    if name is not None and (not isinstance(name, str) or not name.startswith("/")):
        problems.error(f"{path}.filename", f"expected an absolute path, got {name!r}")


def setup_swap(ctx: HookContext, fstab_state: Optional[str]) -> List[str]:
    swap = ctx.cfg.get("swap") or {}
    size = wanted_size(ctx.cfg, ctx.target)
    if size == 0:
        return []
    name = str(swap.get("filename") or "/swap.img")
    path = ctx.path(name)
    if not (os.path.exists(path) and os.path.getsize(path) == size):
        targetfs.makedirs(ctx.target, os.path.dirname(name))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError:  # filesystems without fallocate for swap: write zeros
            block = bytes(4 * MiB)
            for _ in range(size // len(block)):
                os.write(fd, block)
        finally:
            os.close(fd)
        done = runner.run(["mkswap", path])
        if done.returncode != 0:
            raise StepFailed(f"swap: mkswap {name} failed: {done.stderr.strip()}")
    os.chmod(path, 0o600)
    line = f"{name} none swap sw 0 0"
    if fstab_state:
        with open(fstab_state, "a+", encoding="utf-8") as handle:
            handle.seek(0)
            if line not in handle.read().splitlines():
                handle.write(line + "\n")
    return [f"{name} ({size // MiB} MiB)"]
