"""Files a node attaches to a status event, decoded as MAAS decodes them.

curtin posts its install log and error tarball with the final event as
``files: [{path, content, encoding: "base64", compression?: "bzip2"}]``.
MAAS stores the decoded bytes; so does the stand-in (see `records`).  A
compressed file is inflated with a cap, so one event cannot fill the disk.
"""

from __future__ import annotations

import base64
import binascii
import bz2
from typing import Any, List, Tuple

MAX_FILE_BYTES = 256 * 1024 * 1024


class BadEventFile(ValueError):
    """An attached file cannot be decoded; the text says which and why."""


def _inflate_bzip2(data: bytes, path: str) -> bytes:
    inflater = bz2.BZ2Decompressor()
    try:
        out = inflater.decompress(data, max_length=MAX_FILE_BYTES + 1)
    except (OSError, ValueError):
        raise BadEventFile(f"file {path!r} is not valid bzip2") from None
    if len(out) > MAX_FILE_BYTES:
        raise BadEventFile(f"file {path!r} inflates to more than {MAX_FILE_BYTES} bytes")
    return out


def decode_event_files(files: Any) -> List[Tuple[str, bytes]]:
    """(path, bytes) for each entry of an event's ``files``; `BadEventFile` if malformed."""
    if not isinstance(files, list):
        raise BadEventFile("files must be a list")
    decoded = []
    for index, entry in enumerate(files):
        if not isinstance(entry, dict) or not isinstance(entry.get("content"), str):
            raise BadEventFile(f"files[{index}] needs path and content")
        path = str(entry.get("path") or f"file-{index}")
        encoding = entry.get("encoding", "base64")
        if encoding != "base64":
            raise BadEventFile(f"file {path!r}: unknown encoding {encoding!r}")
        try:
            data = base64.b64decode("".join(entry["content"].split()), validate=True)
        except (binascii.Error, ValueError):
            raise BadEventFile(f"file {path!r} is not valid base64") from None
        compression = entry.get("compression")
        if compression == "bzip2":
            data = _inflate_bzip2(data, path)
        elif compression not in (None, ""):
            raise BadEventFile(f"file {path!r}: unknown compression {compression!r}")
        decoded.append((path, data))
    return decoded
