"""Tell the compression from the first bytes and pick the fastest decompressor.

curtin trusts the prefix; we read the magic bytes, so ``tgz:`` on an xz file
still works.  Decompression runs in its own process (another core), with the
parallel tools when installed: pigz for gzip, lbzip2/pbzip2 for bzip2, xz and
zstd with threads.
"""

from __future__ import annotations

import shutil
from typing import List, Optional

MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def sniff(head: bytes) -> Optional[str]:
    """'gzip', 'bzip2', 'xz', 'zstd', or None for uncompressed data."""
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    return None


def decompressor(kind: str) -> List[str]:
    """The command that decompresses stdin to stdout."""
    if kind == "gzip":
        return ["pigz", "-dc"] if shutil.which("pigz") else ["gzip", "-dc"]
    if kind == "bzip2":
        for tool in ("lbzip2", "pbzip2"):
            if shutil.which(tool):
                return [tool, "-dc"]
        return ["bzip2", "-dc"]
    if kind == "xz":
        return ["xz", "-dc", "-T0"]
    if kind == "zstd":
        return ["zstd", "-dcq"]
    raise ValueError(f"unknown compression {kind!r}")


def is_tar(head: bytes) -> bool:
    return len(head) >= 263 and head[257:262] == b"ustar"
