"""Wipe devices, always through an exclusive open.

O_EXCL on a block device fails with EBUSY while it is mounted, held by
device-mapper or md, or opened exclusively by anyone else, so a wipe can
never destroy a disk in use (curtin's simple-mode `dd` does not do this).
"""

from __future__ import annotations

import os
from typing import Callable

from .commands import StorageError, run
from .inuse import open_exclusive
from .units import MiB

CHUNK = 4 * MiB
# the programs each wipe mode runs (the planner checks they are there before any write)
WIPE_PROGRAMS = {"superblock": ("wipefs",), "superblock-recursive": ("wipefs",), "pvremove": ("wipefs",),
                 "zero": (), "random": ("shred",)}


def _zero(fd: int, start: int, length: int, data: bytes) -> None:
    os.lseek(fd, start, os.SEEK_SET)
    left = length
    while left > 0:
        written = os.write(fd, data[: min(left, len(data))])
        left -= written


def zero_ends(path: str, size: int) -> None:
    """Zero the first and last MiB, where tables and most superblocks live."""
    fd = open_exclusive(path)
    if fd is None:
        raise StorageError(f"{path} is in use (busy); refusing to wipe it")
    try:
        block = bytes(MiB)
        _zero(fd, 0, min(MiB, size), block)
        if size > 2 * MiB:
            _zero(fd, size - MiB, MiB, block)
        os.fsync(fd)
    finally:
        os.close(fd)


def zero_all(path: str, size: int, progress: Callable[[int], None] = lambda done: None) -> None:
    fd = open_exclusive(path)
    if fd is None:
        raise StorageError(f"{path} is in use (busy); refusing to wipe it")
    try:
        block = bytes(CHUNK)
        done = 0
        os.lseek(fd, 0, os.SEEK_SET)
        while done < size:
            done += os.write(fd, block[: min(CHUNK, size - done)])
            progress(done)
        os.fsync(fd)
    finally:
        os.close(fd)


def wipe(path: str, size: int, mode: str, progress: Callable[[int], None] = lambda done: None) -> None:
    """superblock / superblock-recursive (the caller recurses) / zero / random / pvremove."""
    fd = open_exclusive(path)
    if fd is None:
        raise StorageError(f"{path} is in use (busy); refusing to wipe it")
    os.close(fd)
    if mode in ("superblock", "superblock-recursive", "pvremove"):
        run(["wipefs", "--all", "--force", path], f"wipe {path}")
        zero_ends(path, size)
    elif mode == "zero":
        zero_all(path, size, progress)
    elif mode == "random":
        run(["shred", "--iterations=1", "--force", path], f"wipe {path}", timeout=86400)
    else:
        raise StorageError(f"{path}: unknown wipe mode {mode!r}")
