"""Filesystem images (squashfs) and directory copies (``cp://``).

A local image is mounted directly from its file (no copy to /tmp).  An image
over HTTP is streamed (resumable, checksummed) onto the target filesystem
itself (disk, not RAM) next to where it is copied to, mounted from there,
and removed afterwards.  Layered images (``fsimage-layered``) stack their
layers with overlayfs.  Copies keep hard links, ACLs, xattrs and sparseness.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from contextlib import ExitStack
from typing import Callable, List, Sequence

from ..storage.commands import run
from .reader import SourceReader

STAGING = ".maaslike-fsimage"


def copy_tree(source: str, target: str, extra_rsync_args: Sequence[str] = ()) -> None:
    """Copy a directory into the target; `extra_rsync_args` (curtin's install.extra_rsync_args) go to rsync."""
    from .reader import SourceError

    if not os.path.isdir(source):
        raise SourceError(f"cp://{source}: no such directory")
    if shutil.which("rsync"):
        run(["rsync", "-aXHAS", "--numeric-ids", "--one-file-system", f"--exclude=/{STAGING}*",
             *extra_rsync_args, source.rstrip("/") + "/", target.rstrip("/") + "/"],
            f"copy {source} into the target", timeout=86400)
    elif extra_rsync_args:
        raise SourceError(f"install.extra_rsync_args is set ({' '.join(extra_rsync_args)}) but this system has "
                          "no rsync to give them to")
    else:
        run(["cp", "-a", "--sparse=always", source.rstrip("/") + "/.", target],
            f"copy {source} into the target", timeout=86400)


def layer_uris(uri: str) -> List[str]:
    """a.b.c.squashfs -> a.squashfs, a.b.squashfs, a.b.c.squashfs (lowest first)."""
    directory, name = posixpath.split(uri)
    stem, dot, ext = name.rpartition(".")
    parts = stem.split(".") if dot else [name]
    return [posixpath.join(directory, ".".join(parts[:i + 1]) + (f".{ext}" if dot else ""))
            for i in range(len(parts))]


def extract_fsimage(uri: str, sha256: str | None, target: str, layered: bool,
                    reader_for: Callable[[str, str | None], SourceReader],
                    extra_rsync_args: Sequence[str] = ()) -> None:
    uris = layer_uris(uri) if layered else [uri]
    with ExitStack() as stack:
        mounted: List[str] = []
        for index, each in enumerate(uris):
            checksum = sha256 if each == uri else None
            if each.startswith(("http://", "https://")):
                staged = os.path.join(target, f"{STAGING}-{index}.squashfs")
                reader = reader_for(each, checksum)
                reader.open()
                with open(staged, "wb") as handle:
                    while True:
                        data = reader.read()
                        if not data:
                            break
                        handle.write(data)
                reader.finish()
                stack.callback(os.unlink, staged)
                path = staged
            else:
                path = each[len("file://"):] if each.startswith("file://") else each
            where = tempfile.mkdtemp(prefix="maaslike-fsimage-")
            stack.callback(os.rmdir, where)
            run(["mount", "-t", "squashfs", "-o", "loop,ro", path, where], f"mount the image {each}")
            stack.callback(run, ["umount", where], f"unmount {where}")
            mounted.append(where)
        source = mounted[0]
        if len(mounted) > 1:
            merged = tempfile.mkdtemp(prefix="maaslike-layers-")
            stack.callback(os.rmdir, merged)
            run(["mount", "-t", "overlay", "-o", "ro,lowerdir=" + ":".join(reversed(mounted)),
                 "overlay", merged], "stack the image's layers")
            stack.callback(run, ["umount", merged], f"unmount {merged}")
            source = merged
        copy_tree(source, target, extra_rsync_args)
