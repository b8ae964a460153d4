"""Publish a whole directory at once: a reader sees nothing, or all of it.

Files are written into a private temporary directory beside the destination
and renamed into place, so a failure half-way (a full disk, a bad name)
leaves the destination exactly as it was.  The destination must be absent or
an empty directory: merging into existing files could not be undone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Iterable, Mapping, Optional, Tuple

from .model import OutputError
from .names import member_name

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def write_tree(
    dest: str,
    files: Iterable[Tuple[str, bytes, int]],
    symlinks: Optional[Mapping[str, str]] = None,
) -> None:
    """Create `dest` holding `files` ((relative name, data, mode)) and `symlinks`."""
    dest = os.path.abspath(dest)
    refuse_unless_empty(dest)
    parent = os.path.dirname(dest)
    try:
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{os.path.basename(dest)}.tmp-", dir=parent)
    except OSError as exc:
        raise OutputError(f"cannot create a directory in {parent}: {exc.strerror}") from None
    try:
        for name, data, mode in files:
            _write_file(staging, name, data, mode)
        for name, target in (symlinks or {}).items():
            path = _path_in(staging, name)
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            os.symlink(target, path)
        os.rename(staging, dest)  # replaces an empty directory; never a full one
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"cannot write {dest}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def refuse_unless_empty(dest: str) -> None:
    """Raise unless `dest` is absent or an empty directory (checked before any work)."""
    if not os.path.lexists(dest):
        return
    if os.path.islink(dest) or not os.path.isdir(dest):
        raise OutputError(f"{dest} exists and is not a directory")
    try:
        entries = os.listdir(dest)
    except OSError as exc:
        raise OutputError(f"cannot read {dest}: {exc.strerror}") from None
    if entries:
        raise OutputError(f"{dest} exists and is not empty")


def _path_in(top: str, name: str) -> str:
    normal = member_name(name)
    if not normal:
        raise OutputError(f"cannot write {name!r}: not a file name")
    return os.path.join(top, *normal.split("/"))


def _write_file(top: str, name: str, data: bytes, mode: int) -> None:
    path = _path_in(top, name)
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    fd = os.open(path, _FILE_FLAGS, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fchmod(fd, mode & 0o755)
    finally:
        os.close(fd)
