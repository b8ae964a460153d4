"""Mount, unmount and list mounts with the kernel's own calls.

Bind mounts for the target chroot are made and undone many times per
install; calling mount(2)/umount2(2) directly costs microseconds instead of
a process each, and the errors name the path and errno.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import time
from typing import List, Optional

from .errors import MaaslikeError

MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class MountError(MaaslikeError):
    pass


def _fs(path: Optional[str]) -> Optional[bytes]:
    return None if path is None else os.fsencode(path)


def bind_mount(source: str, target: str, recursive: bool = False) -> None:
    flags = MS_BIND | (MS_REC if recursive else 0)
    if _libc.mount(_fs(source), _fs(target), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise MountError(f"cannot bind-mount {source} on {target}: {os.strerror(err)}")


def mount(source: str, target: str, fstype: str, options: str = "") -> None:
    data = options.encode() if options else None
    if _libc.mount(_fs(source), _fs(target), fstype.encode(), 0, data) != 0:
        err = ctypes.get_errno()
        raise MountError(f"cannot mount {source} ({fstype}) on {target}: {os.strerror(err)}")


def unmount(target: str, retries: int = 5) -> None:
    """Unmount; when busy, retry briefly, then detach lazily (never leave it)."""
    for attempt in range(retries):
        if _libc.umount2(_fs(target), 0) == 0:
            return
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOENT):  # not a mount point (any more)
            return
        if err != errno.EBUSY:
            raise MountError(f"cannot unmount {target}: {os.strerror(err)}")
        time.sleep(0.05 * (attempt + 1))
    if _libc.umount2(_fs(target), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise MountError(f"cannot unmount {target} (busy, lazy detach failed): {os.strerror(err)}")


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts_under(path: str, mountinfo: str = "/proc/self/mountinfo") -> List[str]:
    """Mount points at or below `path`, deepest (and most recent) first."""
    path = os.path.realpath(path)
    found = []
    with open(mountinfo, encoding="utf-8") as handle:
        for order, line in enumerate(handle):
            point = _unescape(line.split()[4])
            if point == path or point.startswith(path.rstrip("/") + "/"):
                found.append((point.count("/"), order, point))
    return [p for _, _, p in sorted(found, reverse=True)]


def is_mount_point(path: str) -> bool:
    return os.path.realpath(path) in mounts_under(path)


def unmount_all(path: str) -> List[str]:
    """Unmount everything at or under `path`; returns what was unmounted."""
    done = []
    for point in mounts_under(path):
        unmount(point)
        done.append(point)
    return done
