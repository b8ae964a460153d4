"""Paths and writes inside the target, resolved the way a chroot would.

An image is somebody else's tree: its root tarball may hold ``etc -> /etc``
or ``root -> ../../elsewhere``.  GNU tar creates such links at the end of
extraction, so every later write that joins a path onto the target and lets
the host kernel follow links would land on the installer's own files.  Here a
path is resolved component by component against the target root: an absolute
link starts again at the target root, ``..`` never climbs above it, and no
more than `MAX_LINKS` links are followed.  The result is what the image means
by that path when it is booted, always a host path below the target.

Nothing else changes the target while the install writes to it (the image is
extracted, the installer is the only writer), so resolving and then opening is
safe; the final write still refuses to follow a link it did not resolve.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from typing import Deque, List, Optional, Union

from .errors import MaaslikeError
from .privatefile import replace_atomically

MAX_LINKS = 40  # the kernel's own limit for one path walk


class TargetPathError(MaaslikeError):
    """A path inside the target that cannot be resolved or written."""

    exit_code = 3


def _components(path: str) -> List[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def resolve(root: str, path: str, *, strict: bool = False) -> str:
    """The host path of `path` as seen from inside `root`, never outside it.

    With `strict`, a ``..`` that would climb above the target root (written in
    `path` or in a link on the way) is refused instead of stopping at the root
    as a chroot would: for a path read from the image's own config and handed
    to a host program, such a path is a mistake or an attack, not a meaning.
    """
    top = os.path.realpath(root)
    pending: Deque[str] = deque(_components(path))
    parts: List[str] = []
    links = 0
    while pending:
        name = pending.popleft()
        if name == "..":
            if parts:
                parts.pop()
            elif strict:
                raise TargetPathError(f"{path} in the target {top}: leads out of the target")
            continue
        candidate = os.path.join(top, *parts, name)
        try:
            mode = os.lstat(candidate).st_mode
        except (FileNotFoundError, NotADirectoryError):
            parts.append(name)
            continue
        if not stat.S_ISLNK(mode):
            parts.append(name)
            continue
        links += 1
        if links > MAX_LINKS:
            raise TargetPathError(f"{path} in the target {top}: more than {MAX_LINKS} symbolic links")
        link = os.readlink(candidate)
        if link.startswith("/"):
            parts = []
        pending.extendleft(reversed(_components(link)))
    return os.path.join(top, *parts)


def is_inside(root: str, path: str) -> bool:
    top = os.path.realpath(root)
    return os.path.commonpath([top, os.path.abspath(path)]) == top


def makedirs(root: str, path: str, mode: int = 0o755) -> str:
    """Create the directory `path` inside `root` (and its parents); returns it."""
    resolved = resolve(root, path)
    top = os.path.realpath(root)
    os.makedirs(top, mode, exist_ok=True)  # the target itself is the installer's, not the image's
    current = top
    for name in _components(os.path.relpath(resolved, top)):
        current = os.path.join(current, name)
        try:
            os.mkdir(current, mode)
        except FileExistsError:
            if not os.path.isdir(current) or os.path.islink(current):
                raise TargetPathError(f"/{os.path.relpath(current, top)} in the target {top}"
                                      " is not a directory") from None
    return resolved


def write_file(root: str, path: str, data: Union[bytes, str], mode: int = 0o644) -> str:
    """Write `data` to `path` inside `root`, atomically; returns the host path.

    The file is created with `mode` before any byte lands, so a file meant to
    be private never passes through a readable state.  Missing parent
    directories are created 0755, as a package would create them.
    """
    resolved = resolve(root, path)
    if resolved == os.path.realpath(root):
        raise TargetPathError(f"{path}: names the target root, not a file")
    makedirs(root, os.path.relpath(os.path.dirname(resolved), os.path.realpath(root)))
    replace_atomically(resolved, data, mode)
    return resolved


def read_file(root: str, path: str, limit: int = 16 << 20) -> Optional[bytes]:
    """The first `limit` bytes of `path` inside `root`; None when it is absent."""
    try:
        fd = os.open(resolve(root, path), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EISDIR):
            return None
        raise
    with os.fdopen(fd, "rb") as handle:
        return handle.read(limit)


def is_file(root: str, path: str) -> bool:
    return os.path.isfile(resolve(root, path))


def is_dir(root: str, path: str) -> bool:
    return os.path.isdir(resolve(root, path))


def exists(root: str, path: str) -> bool:
    return os.path.lexists(resolve(root, path))
