"""Files a node attaches to a status event, decoded as MAAS decodes them.

curtin posts its install log and error tarball with the final event as
``files: [{path, content, encoding: "base64", compression?: "bzip2"}]``.
MAAS stores the decoded bytes; so does the stand-in (see `records`).

Nothing here holds a whole decoded file: `parse_event_files` only checks the
entries' shape, and each `EventFile` yields its content in chunks of at most
`CHUNK` bytes (base64 decoded piece by piece, bzip2 inflated with a bound on
each step), so a small body that inflates to gigabytes costs one chunk of
memory until whoever consumes the chunks (`records`) stops at its cap.
"""

from __future__ import annotations

import base64
import binascii
import bz2
from dataclasses import dataclass
from typing import IO, Any, Iterable, Iterator, List, Tuple, Union

MAX_FILE_BYTES = 256 * 1024 * 1024  # `decode_event_files`' cap per file
DEFAULT_EVENT_ATTACHMENTS = 256 * 1024 * 1024  # decoded bytes one event (or signal) may attach
DEFAULT_NODE_ATTACHMENTS = 1024 * 1024 * 1024  # decoded bytes kept for one node, all events together
MAX_FILES = 1000  # files one event or signal may attach (each is a file on disk)
CHUNK = 1024 * 1024  # decoded bytes handed on at a time
_BASE64_STEP = 4 * 64 * 1024  # base64 characters decoded at a time (a multiple of 4)


class BadEventFile(ValueError):
    """An attached file cannot be decoded; the text says which and why (a 400)."""


class AttachmentTooLarge(BadEventFile):
    """Attached files decode to more than a cap allows (a 413)."""


@dataclass(frozen=True)
class AttachmentLimits:
    """Caps on decoded attached bytes (``maaslike serve --max-event-attachments/--max-node-attachments``)."""

    per_event: int = DEFAULT_EVENT_ATTACHMENTS
    per_node: int = DEFAULT_NODE_ATTACHMENTS


def shown(value: Any, limit: int = 40) -> str:
    """`repr` of a client's value, cut short: an error line never grows with the input."""
    scalar = isinstance(value, (str, int, float, bool)) or value is None
    text = repr(value) if scalar else f"a {type(value).__name__}"  # a nested list's repr could recurse
    return text if len(text) <= limit else text[:limit] + "…"


def _base64_chunks(text: str, path: str) -> Iterator[bytes]:
    """Decode `text` (whitespace allowed anywhere, padding only at the end) piece by piece."""
    carry = ""
    padded = False
    for start in range(0, len(text), _BASE64_STEP):
        piece = carry + "".join(text[start:start + _BASE64_STEP].split())
        usable = len(piece) - len(piece) % 4
        block, carry = piece[:usable], piece[usable:]
        if not block:
            continue
        if padded:  # data after the padding
            raise BadEventFile(f"file {shown(path)} is not valid base64")
        try:
            data = base64.b64decode(block, validate=True)
        except (binascii.Error, ValueError):
            raise BadEventFile(f"file {shown(path)} is not valid base64") from None
        padded = block.endswith("=")
        yield data
    if carry:
        raise BadEventFile(f"file {shown(path)} is not valid base64")


def _inflate_bzip2(compressed: Iterable[bytes], path: str) -> Iterator[bytes]:
    """Inflate bzip2 (one stream or several, like ``bz2.decompress``), `CHUNK` bytes at a time."""
    inflater = bz2.BZ2Decompressor()
    streams = 0  # streams finished
    fed = False  # whether the current stream has had input
    for data in compressed:
        while data:
            try:
                out = inflater.decompress(data, max_length=CHUNK)
            except (OSError, ValueError, EOFError):
                if streams:
                    return  # bz2.decompress ignores what follows the last whole stream
                raise BadEventFile(f"file {shown(path)} is not valid bzip2") from None
            data = b""
            fed = True
            if out:
                yield out
            while not inflater.eof and not inflater.needs_input:
                out = inflater.decompress(b"", max_length=CHUNK)
                if out:
                    yield out
            if inflater.eof:
                streams += 1
                data = inflater.unused_data
                inflater = bz2.BZ2Decompressor()
                fed = False
    if fed:
        raise BadEventFile(f"file {shown(path)} is not valid bzip2 (it ends too early)")


@dataclass(frozen=True)
class EventFile:
    """One attached file, checked for shape but not decoded yet."""

    path: str
    content: str
    compression: str = ""

    def chunks(self) -> Iterator[bytes]:
        """The decoded bytes, in chunks; `BadEventFile` as soon as something is wrong."""
        raw = _base64_chunks(self.content, self.path)
        if self.compression == "bzip2":
            return _inflate_bzip2(raw, self.path)
        return raw


def parse_event_files(files: Any) -> List[EventFile]:
    """The entries of an event's ``files``, checked (no decoding); `BadEventFile` if malformed."""
    if not isinstance(files, list):
        raise BadEventFile("files must be a list")
    check_file_count(len(files))
    parsed = []
    for index, entry in enumerate(files):
        if not isinstance(entry, dict) or not isinstance(entry.get("content"), str):
            raise BadEventFile(f"files[{index}] needs path and content")
        path = entry.get("path") or f"file-{index}"
        if not isinstance(path, str):
            raise BadEventFile(f"files[{index}]: path must be a string, not {shown(path)}")
        encoding = entry.get("encoding", "base64")
        if encoding != "base64":
            raise BadEventFile(f"file {shown(path)}: unknown encoding {shown(encoding)}")
        compression = entry.get("compression")
        if compression not in (None, "", "bzip2"):
            raise BadEventFile(f"file {shown(path)}: unknown compression {shown(compression)}")
        parsed.append(EventFile(path, entry["content"], compression or ""))
    return parsed


def check_file_count(count: int) -> None:
    if count > MAX_FILES:
        raise AttachmentTooLarge(f"{count} files attached, more than the {MAX_FILES} one event may have")


def read_chunks(source: Union[bytes, IO[bytes]]) -> Iterator[bytes]:
    """`source` (bytes, or a file such as a multipart upload) in chunks of `CHUNK` bytes."""
    if isinstance(source, (bytes, bytearray)):
        for start in range(0, len(source), CHUNK):
            yield bytes(source[start:start + CHUNK])
        return
    while True:
        chunk = source.read(CHUNK)
        if not chunk:
            return
        yield chunk


def decode_event_files(files: Any) -> List[Tuple[str, bytes]]:
    """(path, bytes) for each entry, in memory: for tools and tests, with `MAX_FILE_BYTES` per file.

    The server never calls this: it streams `parse_event_files`' chunks to disk.
    """
    decoded = []
    for item in parse_event_files(files):
        parts, size = [], 0
        for chunk in item.chunks():
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise AttachmentTooLarge(f"file {shown(item.path)} inflates to more than {MAX_FILE_BYTES} bytes")
            parts.append(chunk)
        decoded.append((item.path, b"".join(parts)))
    return decoded
