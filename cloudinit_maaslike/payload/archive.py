"""Read a payload's tar.gz into memory, refusing anything that is not plainly safe.

Nothing is extracted here: members become a name -> bytes map, checked as a
whole before anyone writes a byte, so a damaged or hostile archive leaves no
trace.  Refused: absolute names, ``..``, device nodes and fifos, links whose
target leaves the archive (resolved the way the kernel would, through the
archive's own symlinks), members under a symlink or a file, duplicate names,
types we do not know, and archives that expand past a fixed budget (a small
gzip bomb must not fill memory).
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Set

from .model import PayloadError
from .names import member_name, parents

if TYPE_CHECKING:
    import tarfile

MAX_EXPANDED_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 20_000
MAX_LINK_HOPS = 40  # the kernel's ELOOP limit
_CHUNK = 4 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_FILE_TYPES = (b"0", b"\0", b"7", b"S")  # regular, old regular, contiguous, GNU sparse


@dataclass(frozen=True)
class ArchiveContents:
    files: Dict[str, bytes]  # regular files (hard links become copies), archive order
    modes: Dict[str, int]
    symlinks: Dict[str, str]
    directories: Set[str]


def gunzip(data: bytes, what: str, limit: int = MAX_EXPANDED_BYTES) -> bytes:
    """Decompress gzip data (all members) without ever holding more than `limit` bytes."""
    if not data.startswith(_GZIP_MAGIC):
        raise PayloadError(f"{what} is not gzip data")
    out: List[bytes] = []
    size = 0
    rest = data
    try:
        while rest:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending = rest
            while not inflater.eof:
                chunk = inflater.decompress(pending, _CHUNK)
                pending = inflater.unconsumed_tail
                size += len(chunk)
                if size > limit:
                    raise PayloadError(f"{what} expands past {_mib(limit)} MiB")
                if not chunk and not pending:
                    raise PayloadError(f"{what} is truncated")
                out.append(chunk)
            rest = inflater.unused_data
            if rest and not rest.startswith(_GZIP_MAGIC):
                if rest.strip(b"\0"):
                    raise PayloadError(f"{what} has {len(rest)} stray bytes after the gzip data")
                break
    except zlib.error as exc:
        raise PayloadError(f"{what} is damaged ({exc})") from None
    return b"".join(out)


def _mib(size: int) -> int:
    return size // (1024 * 1024)


def read_archive(
    tgz: bytes, limit: int = MAX_EXPANDED_BYTES, max_members: int = MAX_MEMBERS
) -> ArchiveContents:
    """Every member of the payload's tar.gz, checked, in memory."""
    import tarfile  # not needed by the cheap checks that run on every boot

    raw = gunzip(tgz, "the archive", limit)
    contents = ArchiveContents(files={}, modes={}, symlinks={}, directories=set())
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            count = 0
            budget = _Budget(limit)
            for info in tar:
                count += 1
                if count > max_members:
                    raise PayloadError(f"the archive has more than {max_members} members")
                _take_member(tar, info, contents, budget)
            end = tar.offset
    except (tarfile.TarError, EOFError, ValueError, UnicodeError, OverflowError) as exc:
        raise PayloadError(f"the archive is not a readable tar ({exc})") from None
    if raw[end:].strip(b"\0"):
        raise PayloadError(f"the archive has damaged or unreadable data after member {count}")
    _check_layout(contents)
    return contents


class _Budget:
    """Bytes the files will take once written: sparse members and hard links
    expand past what the archive stores, so they are counted as written."""

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.limit = limit

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise PayloadError(f"the archive's files add up to more than {_mib(self.limit)} MiB")


def _take_member(
    tar: tarfile.TarFile, info: tarfile.TarInfo, contents: ArchiveContents, budget: _Budget
) -> None:
    name = member_name(info.name)
    if name == "":
        if not info.isdir():
            raise PayloadError("the archive's top entry '.' is not a directory")
        return
    if name in contents.directories and info.isdir():
        return
    if name in contents.files or name in contents.symlinks or name in contents.directories:
        raise PayloadError(f"member {name} appears twice")
    if info.type in _FILE_TYPES:
        budget.spend(info.size)
        reader = tar.extractfile(info)
        assert reader is not None
        contents.files[name] = reader.read()  # tarfile raises ReadError on short data
        contents.modes[name] = info.mode & 0o7777
    elif info.isdir():
        contents.directories.add(name)
    elif info.issym():
        if not info.linkname:
            raise PayloadError(f"symlink {name} has an empty target")
        contents.symlinks[name] = info.linkname
    elif info.islnk():
        target = member_name(info.linkname, what=f"hard link {name} target")
        if target not in contents.files:
            raise PayloadError(f"hard link {name} points to {info.linkname!r}, not an earlier file")
        budget.spend(len(contents.files[target]))
        contents.files[name] = contents.files[target]
        contents.modes[name] = contents.modes[target]
    elif info.ischr() or info.isblk():
        raise PayloadError(f"member {name} is a device node")
    elif info.isfifo():
        raise PayloadError(f"member {name} is a fifo")
    else:
        raise PayloadError(f"member {name} has tar type {info.type!r}, which is not handled")


def _check_layout(contents: ArchiveContents) -> None:
    """Every path stays a plain directory path, and every symlink lands inside."""
    blockers = dict.fromkeys(contents.files, "file")
    blockers.update(dict.fromkeys(contents.symlinks, "symlink"))
    for name in [*contents.files, *contents.symlinks, *contents.directories]:
        for parent in parents(name):
            kind = blockers.get(parent)
            if kind is not None:
                raise PayloadError(f"member {name} lies under the {kind} {parent}")
    for name, target in contents.symlinks.items():
        if target.startswith("/"):
            raise PayloadError(f"symlink {name} points outside the archive (to {target!r})")
        start = name.split("/")[:-1]
        resolve_inside(start + target.split("/"), contents.symlinks, name)


def resolve_inside(parts: List[str], symlinks: Dict[str, str], link: str) -> List[str]:
    """Walk a path through the archive's own symlinks; refuse it if it leaves the root."""
    resolved: List[str] = []
    queue = list(parts)
    hops = 0
    while queue:
        part = queue.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                raise PayloadError(f"symlink {link} points outside the archive")
            resolved.pop()
            continue
        resolved.append(part)
        target = symlinks.get("/".join(resolved))
        if target is None:
            continue
        hops += 1
        if hops > MAX_LINK_HOPS:
            raise PayloadError(f"symlink {link} loops")
        if target.startswith("/"):
            raise PayloadError(f"symlink {link} points outside the archive")
        resolved.pop()
        queue = target.split("/") + queue
    return resolved
