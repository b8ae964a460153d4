"""Read a payload's tar.gz into memory, refusing anything that is not plainly safe.

Nothing is extracted here: members become a name -> bytes map, checked as a
whole before anyone writes a byte, so a damaged or hostile archive leaves no
trace.  Refused: absolute names, ``..``, device nodes and fifos, links whose
target leaves the archive (resolved the way the kernel would, through the
archive's own symlinks), members under a symlink or a file, duplicate names,
types we do not know, and archives that expand past a fixed budget (a small
gzip bomb must not fill memory).  Every check is linear in the archive, and
names are bounded (`limits`): a path no deeper or longer than the kernel would
open, and all names together within a budget.
"""

from __future__ import annotations

import io
import zlib
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Set, Tuple

from .limits import (
    MAX_EXPANDED_BYTES,
    MAX_LINK_HOPS,
    MAX_LINK_STEPS,
    MAX_MEMBERS,
    MAX_NAME_BYTES,
    MAX_NAMES_TOTAL,
    MAX_PATH_DEPTH,
)
from .model import PayloadError
from .names import find_nested, member_name

if TYPE_CHECKING:
    import tarfile

__all__ = ["MAX_EXPANDED_BYTES", "MAX_LINK_HOPS", "MAX_MEMBERS", "ArchiveContents", "GunzipError", "gunzip",
           "gunzip_head", "read_archive", "resolve_inside"]

_CHUNK = 4 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_FILE_TYPES = (b"0", b"\0", b"7", b"S")  # regular, old regular, contiguous, GNU sparse


@dataclass(frozen=True)
class ArchiveContents:
    files: Dict[str, bytes]  # regular files (hard links become copies), archive order
    modes: Dict[str, int]
    symlinks: Dict[str, str]
    directories: Set[str]


class GunzipError(PayloadError):
    """gzip data that cannot be read; `produced` is what inflating it cost before it
    failed, `too_big` says it failed by expanding past the limit."""

    def __init__(self, message: str, produced: int = 0, too_big: bool = False) -> None:
        super().__init__(message)
        self.produced = produced
        self.too_big = too_big


def gunzip(data: bytes, what: str, limit: int = MAX_EXPANDED_BYTES) -> bytes:
    """Decompress gzip data (all members) without ever holding more than `limit` bytes."""
    if not data.startswith(_GZIP_MAGIC):
        raise GunzipError(f"{what} is not gzip data")
    out: List[bytes] = []
    size = 0
    rest = data
    try:
        while rest:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending = rest
            while not inflater.eof:
                chunk = inflater.decompress(pending, min(_CHUNK, limit - size + 1))  # never far past the limit
                pending = inflater.unconsumed_tail
                size += len(chunk)
                if size > limit:
                    raise GunzipError(f"{what} expands past {_mib(limit)} MiB", size, too_big=True)
                if not chunk and not pending:
                    raise GunzipError(f"{what} is truncated", size)
                out.append(chunk)
            rest = inflater.unused_data
            if rest and not rest.startswith(_GZIP_MAGIC):
                if rest.strip(b"\0"):
                    raise GunzipError(f"{what} has {len(rest)} stray bytes after the gzip data", size)
                break
    except zlib.error as exc:
        raise GunzipError(f"{what} is damaged ({exc})", size) from None
    return b"".join(out)


def gunzip_head(data: bytes, size: int) -> bytes:
    """The first `size` bytes gzip `data` decompresses to, as far as it is readable; never raises."""
    out: List[bytes] = []
    got = 0
    rest = data
    try:
        while rest.startswith(_GZIP_MAGIC) and got < size:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending = rest
            while not inflater.eof and got < size:
                chunk = inflater.decompress(pending, size - got)
                pending = inflater.unconsumed_tail
                if not chunk:
                    break
                out.append(chunk)
                got += len(chunk)
            if not inflater.eof:
                break
            rest = inflater.unused_data
    except zlib.error:
        pass
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
    if raw.count(b"\0", end) != len(raw) - end:  # anything but zero padding after the last member
        raise PayloadError(f"the archive has damaged or unreadable data after member {count}")
    _check_layout(contents)
    return contents


class _Budget:
    """Bytes the files will take once written: sparse members and hard links
    expand past what the archive stores, so they are counted as written.
    Names (and link targets) have their own budget."""

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.limit = limit
        self.names_left = MAX_NAMES_TOTAL

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise PayloadError(f"the archive's files add up to more than {_mib(self.limit)} MiB")

    def spend_name(self, info: tarfile.TarInfo) -> None:
        self.names_left -= len(info.name) + len(info.linkname)
        if self.names_left < 0:
            raise PayloadError(f"the archive's member names add up to more than {_mib(MAX_NAMES_TOTAL)} MiB")


def _take_member(
    tar: tarfile.TarFile, info: tarfile.TarInfo, contents: ArchiveContents, budget: _Budget
) -> None:
    budget.spend_name(info)
    name = _bounded_name(info.name, "member")
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
        if len(info.linkname) > MAX_NAME_BYTES:
            raise PayloadError(f"symlink {name} has a target longer than {MAX_NAME_BYTES} bytes")
        contents.symlinks[name] = info.linkname
    elif info.islnk():
        target = _bounded_name(info.linkname, f"hard link {name} target")
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


def _bounded_name(raw: str, what: str) -> str:
    """`member_name`, refusing names longer or deeper than any path the kernel would open."""
    if len(raw) > MAX_NAME_BYTES:
        raise PayloadError(f"{what} {raw[:64]!r}... is longer than {MAX_NAME_BYTES} bytes")
    name = member_name(raw, what)
    if name.count("/") >= MAX_PATH_DEPTH:
        raise PayloadError(f"{what} {name[:64]}... is more than {MAX_PATH_DEPTH} directories deep")
    return name


def _check_layout(contents: ArchiveContents) -> None:
    """Every path stays a plain directory path, and every symlink lands inside."""
    blockers = dict.fromkeys(contents.files, "file")
    blockers.update(dict.fromkeys(contents.symlinks, "symlink"))
    nested = find_nested([*contents.files, *contents.symlinks, *contents.directories], blockers)
    if nested is not None:
        name, parent = nested
        raise PayloadError(f"member {name} lies under the {blockers[parent]} {parent}")
    resolver = _Resolver(contents.symlinks)
    for name, target in contents.symlinks.items():
        if target.startswith("/"):
            raise PayloadError(f"symlink {name} points outside the archive (to {target!r})")
        resolver.resolve(name.split("/")[:-1] + target.split("/"), name)


def resolve_inside(parts: List[str], symlinks: Dict[str, str], link: str) -> List[str]:
    """Walk a path through the archive's own symlinks; refuse it if it leaves the root."""
    return _Resolver(symlinks).resolve(parts, link)


class _Resolver:
    """Symlink resolution in time linear in the components walked.

    Directories that hold symlinks get numbers (a trie keyed by parent number
    and component), so a step is one dictionary lookup however deep the path;
    all resolutions together may walk at most `MAX_LINK_STEPS` components.
    """

    _OUTSIDE = -1  # a directory no symlink lies under

    def __init__(self, symlinks: Dict[str, str]) -> None:
        self.children: Dict[Tuple[int, str], int] = {}
        self.targets: Dict[int, str] = {}
        self.steps = 0
        for name, target in symlinks.items():
            node = 0
            for part in name.split("/"):
                node = self.children.setdefault((node, part), len(self.children) + 1)
            self.targets[node] = target

    def resolve(self, parts: List[str], link: str) -> List[str]:
        resolved: List[str] = []
        nodes = [0]  # trie numbers of the root and of each resolved component
        queue = deque(parts)
        hops = 0
        while queue:
            self.steps += 1
            if self.steps > MAX_LINK_STEPS:
                raise PayloadError(f"symlink {link}: the archive's symlinks take more than {MAX_LINK_STEPS} "
                                   "steps to resolve")
            part = queue.popleft()
            if part in ("", "."):
                continue
            if part == "..":
                if not resolved:
                    raise PayloadError(f"symlink {link} points outside the archive")
                resolved.pop()
                nodes.pop()
                continue
            parent = nodes[-1]
            node = self._OUTSIDE if parent == self._OUTSIDE else self.children.get((parent, part), self._OUTSIDE)
            target = self.targets.get(node)
            if target is None:
                resolved.append(part)
                nodes.append(node)
                continue
            hops += 1
            if hops > MAX_LINK_HOPS:
                raise PayloadError(f"symlink {link} loops")
            if target.startswith("/"):
                raise PayloadError(f"symlink {link} points outside the archive")
            queue.extendleft(reversed(target.split("/")))
        return resolved
