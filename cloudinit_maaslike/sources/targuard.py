"""Watch a tar stream on its way to GNU tar and stop it at the first hostile member.

GNU tar does the extraction (owners, modes, xattrs, ACLs, hard links, sparse
files, device nodes all preserved); this guard reads every header as the
bytes pass and refuses, before tar sees it, a member that would land outside
the target: an absolute name, a ``..`` component, a hard link pointing out,
or a path that goes through a symlink an earlier member created (``link ->
/etc`` then ``link/passwd``).  It understands ustar, GNU long names and old
sparse headers, and pax extended headers.
"""

from __future__ import annotations

from typing import Dict, Optional, Set

from ..errors import MaaslikeError

BLOCK = 512


class HostileArchive(MaaslikeError):
    exit_code = 3


def _octal(field: bytes) -> int:
    if field and field[0] & 0x80:  # base-256 (GNU) for big values
        value = field[0] & 0x7F
        for byte in field[1:]:
            value = (value << 8) | byte
        return value
    text = field.split(b"\0", 1)[0].strip(b" \0")
    return int(text, 8) if text else 0


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def check_path(name: str, what: str) -> str:
    """A member path, normalised; refuses absolute paths and `..`."""
    if name.startswith("/"):
        raise HostileArchive(f"tar member {name!r}: {what} is an absolute path")
    clean = _clean(name)
    if any(part == ".." for part in clean.split("/")):
        raise HostileArchive(f"tar member {name!r}: {what} contains '..'")
    return clean


def _pax(data: bytes) -> Dict[str, str]:
    records: Dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        length = int(data[pos:space] or b"0")
        if length <= 0:
            break
        record = data[space + 1:pos + length - 1].decode("utf-8", "surrogateescape")
        key, _, value = record.partition("=")
        records[key] = value
        pos += length
    return records


class TarGuard:
    def __init__(self) -> None:
        self._header = bytearray()
        self._skip = 0  # data bytes (with padding) still to pass
        self._collect: Optional[bytearray] = None  # data of L/K/x members
        self._collect_kind = ""
        self._collect_left = 0
        self._sparse_extensions = False
        self._after_extensions = 0  # data to pass once the sparse extension headers are read
        self._long_name: Optional[str] = None
        self._long_link: Optional[str] = None
        self._pax: Dict[str, str] = {}
        self._symlinks: Set[str] = set()
        self._zero_blocks = 0
        self.ended = False
        self.members = 0
        self.trailing = 0  # of the last chunk fed, bytes after the end of the archive

    @property
    def passthrough(self) -> int:
        """Bytes that may go on unread: file data the guard has no need to see."""
        return self._skip if self._collect is None else 0

    def passed(self, count: int) -> None:
        """`count` passthrough bytes went on without being fed."""
        self._skip -= count

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        pos = 0
        self.trailing = 0
        while pos < len(view):
            if self.ended:
                self.trailing = len(view) - pos  # bytes after the end-of-archive blocks
                return
            if self._skip:
                take = min(self._skip, len(view) - pos)
                if self._collect is not None and self._collect_left:
                    keep = min(take, self._collect_left)
                    self._collect += view[pos:pos + keep]
                    self._collect_left -= keep
                pos += take
                self._skip -= take
                if not self._skip and self._collect is not None:
                    self._finish_special()
                continue
            take = min(BLOCK - len(self._header), len(view) - pos)
            self._header += view[pos:pos + take]
            pos += take
            if len(self._header) == BLOCK:
                block = bytes(self._header)
                self._header.clear()
                if self._sparse_extensions:
                    # old GNU sparse maps continue in extension headers, before the data
                    self._sparse_extensions = block[504] != 0
                    if not self._sparse_extensions:
                        self._skip = self._after_extensions
                    continue
                self._on_header(block)

    def _on_header(self, block: bytes) -> None:
        if block == bytes(BLOCK):
            self._zero_blocks += 1
            if self._zero_blocks >= 2:
                self.ended = True
            return
        self._zero_blocks = 0
        checksum = _octal(block[148:156])
        actual = sum(block[:148]) + 8 * 32 + sum(block[156:])
        if checksum != actual:
            raise HostileArchive(f"damaged tar header after {self.members} members (bad checksum)")
        kind = chr(block[156]) if block[156] else "0"
        size = _octal(block[124:136])
        padded = -(-size // BLOCK) * BLOCK
        if kind in ("L", "K", "x", "g"):
            self._collect = bytearray()
            self._collect_kind = kind
            self._collect_left = size
            self._skip = padded
            if not padded:
                self._finish_special()
            return
        name = self._pax.pop("path", None) or self._long_name
        if name is None:
            name = _text(block[0:100])
            if block[257:262] == b"ustar":
                prefix = _text(block[345:500]) if kind != "S" else ""
                if prefix:
                    name = f"{prefix}/{name}"
        link = self._pax.pop("linkpath", None) or self._long_link or _text(block[157:257])
        if "size" in self._pax:
            size = int(self._pax.pop("size"))
            padded = -(-size // BLOCK) * BLOCK
        self._long_name = self._long_link = None
        self._pax = {k: v for k, v in self._pax.items() if not k.startswith("GNU.sparse")}
        self._check(name, kind, link)
        if kind in ("1", "2", "3", "4", "5", "6"):
            padded = 0  # links, devices, directories and fifos carry no data
        self.members += 1
        if kind == "S" and block[482] != 0:
            self._sparse_extensions = True
            self._after_extensions = padded
            return
        self._skip = padded

    def _check(self, name: str, kind: str, link: str) -> None:
        clean = check_path(name, "its name")
        parts = clean.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in self._symlinks:
                raise HostileArchive(f"tar member {name!r} goes through the symlink "
                                     f"{'/'.join(parts[:depth])!r}")
        if kind == "1":
            target = check_path(link, "its hard link target")
            tparts = target.split("/")
            for depth in range(1, len(tparts) + 1):
                if "/".join(tparts[:depth]) in self._symlinks:
                    raise HostileArchive(f"tar member {name!r}: its hard link goes through a symlink")
        if kind == "2":
            self._symlinks.add(clean)
        else:
            self._symlinks.discard(clean)

    def _finish_special(self) -> None:
        data = bytes(self._collect or b"")
        kind = self._collect_kind
        self._collect = None
        if kind == "L":
            self._long_name = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        elif kind == "K":
            self._long_link = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        elif kind == "x":
            self._pax.update(_pax(data))
