"""Write a disk image straight from the stream onto the disk.

The disk is opened exclusively (a disk in use is refused), every write is
checked, an image larger than the disk is refused as soon as it overflows,
and the download, the decompressor and the tar unwrapping (for ``dd-tgz``
and friends) must all succeed: the stage fails if any part of the pipeline
does.  Afterwards the kernel is told about the image's partitions (BLKPG) and
the one holding the root filesystem is mounted on the target.
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import List, Optional

from .. import runner
from ..storage import sysfs
from ..storage.commands import StorageError, run
from ..storage.inuse import open_exclusive
from .pipeline import CHUNK, Decompressed
from .reader import SourceError, SourceReader
from .writeback import EarlyWriteback

TAR_WRAPPED = ("dd-tgz", "dd-tbz", "dd-txz", "dd-tar")
ROOT_FSTYPES = ("ext4", "ext3", "ext2", "xfs", "btrfs")


class _Unwrapped:
    """The single member of a tarball-wrapped image, via `tar -xO`."""

    def __init__(self, source: Decompressed):
        self.source = source
        self.tar = runner.spawn(["tar", "-xOf", "-"], stdin=runner.PIPE, stdout=runner.PIPE,
                                stderr=runner.PIPE, bufsize=0)
        self.errors: List[BaseException] = []
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _feed(self) -> None:
        assert self.tar.stdin is not None
        try:
            while True:
                data = self.source.read(CHUNK)
                if not data:
                    break
                self.tar.stdin.write(data)
        except BrokenPipeError:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.errors.append(exc)
        finally:
            self.tar.stdin.close()

    def read(self, size: int) -> bytes:
        assert self.tar.stdout is not None
        return os.read(self.tar.stdout.fileno(), size)

    def finish(self) -> Optional[str]:
        self.thread.join()
        returncode = self.tar.wait()
        assert self.tar.stderr is not None
        errors = self.tar.stderr.read().decode("utf-8", "replace").strip()
        if self.errors:
            raise self.errors[0]
        digest = self.source.finish()
        if returncode != 0:
            raise SourceError(f"{self.source.reader.uri}: tar failed unwrapping the image "
                              f"({errors.splitlines()[-1] if errors else returncode})")
        return digest

    def abort(self) -> None:
        self.tar.kill()
        self.tar.wait()
        self.source.abort()


def write_image(reader: SourceReader, kind: str, disk: sysfs.BlockDevice) -> Optional[str]:
    """Write the image onto `disk`; returns the sha256 of what was downloaded."""
    fd = open_exclusive(disk.path)
    if fd is None:
        raise SourceError(f"{disk.path} is in use; refusing to write an image onto it")
    source = Decompressed(reader)
    stream = _Unwrapped(source) if kind in TAR_WRAPPED else source
    written = 0
    try:
        with EarlyWriteback(device_fd=fd):
            while True:
                data = stream.read(4 * CHUNK)
                if not data:
                    break
                if written + len(data) > disk.size:
                    raise SourceError(f"{reader.uri}: the image is larger than {disk.path} "
                                      f"({disk.size} bytes)")
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                written += len(data)
        os.fsync(fd)
        digest = stream.finish()
    except BaseException:
        stream.abort()
        raise
    finally:
        os.close(fd)
    if written == 0:
        raise SourceError(f"{reader.uri}: the image is empty")
    return digest


def mount_image_root(disk: sysfs.BlockDevice, target: str) -> Optional[str]:
    """Make the image's partitions known and mount the root one on `target`."""
    try:
        run(["partx", "-u", disk.path], f"read the partitions of the image on {disk.path}")
    except StorageError:
        return None  # no partition table: a filesystem-less or foreign image
    fresh = sysfs.device(disk.path)
    parts = list(fresh.partitions) if fresh else []
    candidates = []
    for name in parts:
        path = f"/dev/{name}"
        info = run(["blkid", "-p", "-o", "export", path], f"probe {path}")
        fields = dict(line.split("=", 1) for line in info.splitlines() if "=" in line)
        if fields.get("TYPE") in ROOT_FSTYPES:
            candidates.append((path, fields["TYPE"]))
    for path, fstype in candidates:
        probe = tempfile.mkdtemp(prefix="maaslike-probe-")
        try:
            run(["mount", "-t", fstype, "-o", "ro", path, probe], f"look into {path}")
            has_root = (os.path.isdir(os.path.join(probe, "etc")) and os.path.isdir(os.path.join(probe, "usr"))
                        ) or os.path.isdir(os.path.join(probe, "curtin"))
            run(["umount", probe], f"unmount {probe}")
        finally:
            os.rmdir(probe)
        if has_root:
            run(["mount", "-t", fstype, path, target], f"mount the image's root {path}")
            return path
    return None
