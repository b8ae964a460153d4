"""Write the archive the way ``tar -C dir -czf - .`` would.

Decoders in the wild look for ``./configs/config-000.cfg``; GNU tar's own
archives start with a ``./`` directory entry and list each directory before
what it holds.  Owners are root and times are one fixed value, so the same
inputs give the same bytes (and the same MD5).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Dict, Sequence, Tuple

if TYPE_CHECKING:
    import gzip
    import tarfile

Entry = Tuple[str, bytes, int]  # normalised member name, data, mode

DIRECTORY_MODE = 0o755


def build_tgz(entries: Sequence[Entry], mtime: int) -> bytes:
    """A gzip-compressed GNU tar of `entries`, names prefixed ``./``."""
    import gzip

    files: Dict[str, Tuple[bytes, int]] = {name: (data, mode) for name, data, mode in entries}
    directories = {"/".join(name.split("/")[:end]) for name in files for end in range(1, name.count("/") + 1)}
    order = sorted([*directories, *files], key=lambda name: name.split("/"))
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=mtime) as zipped:
        _write_tar(zipped, order, files, mtime)
    return buffer.getvalue()


def _write_tar(
    stream: gzip.GzipFile, order: Sequence[str], files: Dict[str, Tuple[bytes, int]], mtime: int
) -> None:
    import tarfile

    with tarfile.open(fileobj=stream, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_info(".", tarfile.DIRTYPE, DIRECTORY_MODE, mtime))
        for name in order:
            if name in files:
                data, mode = files[name]
                info = _info("./" + name, tarfile.REGTYPE, mode, mtime)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(_info("./" + name, tarfile.DIRTYPE, DIRECTORY_MODE, mtime))


def _info(name: str, kind: bytes, mode: int, mtime: int) -> tarfile.TarInfo:
    import tarfile

    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info
