"""Split a pack script into its header variables and its base64 archive.

The split rule is the extractor's own (`sed '1,/^MARKER$/d'`): everything
after the first line that is exactly the marker is the archive.  The
``PAYLOAD_MARKER='…'`` assignment does not match because of its quotes.  A
trailing carriage return is tolerated on the marker line, because MIME
transports sometimes turn line ends into CRLF.
"""

from __future__ import annotations

import base64
import binascii
import re
import shlex
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple

from .limits import MAX_HEADER_BYTES
from .model import MARKER, NotAPayload, PayloadError
from .shellwords import read_assignments

_MARKER_LINE = re.compile(rb"^" + MARKER.encode() + rb"\r?$", re.MULTILINE)
_BASE64_LINE = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_WHITESPACE = b" \t\r\n\v\f"


@dataclass(frozen=True)
class Script:
    header: Mapping[str, str]  # every header variable; arrays shell-quoted
    command: Tuple[str, ...]
    body: bytes  # the base64 text after the marker line
    body_line: int  # line number of the first line after the marker


def find_marker(data: bytes) -> Optional[re.Match[bytes]]:
    """The marker line of a script, or None."""
    return _MARKER_LINE.search(data)


def is_pack_script(data: bytes) -> bool:
    """A script (``#!``) with a marker line: cheap, and enough to claim it."""
    return data.startswith(b"#!") and find_marker(data) is not None


def split_script(data: bytes) -> Script:
    """Header variables and archive text of a pack script; reads, never runs."""
    if not data.startswith(b"#!"):
        raise NotAPayload("not a script (no #! line)")
    marker = find_marker(data)
    if marker is None:
        raise NotAPayload(f"a script without a {MARKER} line")
    cut = marker.start() > MAX_HEADER_BYTES  # the lexer reads no further; reaching the cut is an error
    head = data[:min(marker.start(), MAX_HEADER_BYTES)].decode("utf-8", errors="surrogateescape")
    scalars, arrays, lines = read_assignments(head, last="PAYLOAD_MARKER", cut=cut)
    header: Dict[str, str] = {}
    for name in sorted(lines, key=lines.__getitem__):  # in the script's order
        header[name] = scalars[name] if name in scalars else shlex.join(arrays[name])
    for name, value in header.items():
        if _has_surrogates(value):
            raise PayloadError(f"header line {lines[name]}: {name} is not UTF-8")
    if "PAYLOAD_MARKER" in lines and scalars.get("PAYLOAD_MARKER") != MARKER:
        raise PayloadError(f"header line {lines['PAYLOAD_MARKER']}: PAYLOAD_MARKER is not {MARKER}, "
                           "so the script's own extractor would split it elsewhere")
    command = _command(scalars, arrays)
    return Script(
        header=header,
        command=command,
        body=data[marker.end():],
        body_line=data.count(b"\n", 0, marker.end()) + 2,
    )


def _command(scalars: Mapping[str, str], arrays: Mapping[str, Tuple[str, ...]]) -> Tuple[str, ...]:
    """COMMAND as the extractor would run it (a one-word array is printed as a scalar)."""
    if "COMMAND" in arrays:
        command = arrays["COMMAND"]
    elif "COMMAND" in scalars:
        command = (scalars["COMMAND"],) if scalars["COMMAND"] else ()
    else:
        raise PayloadError("header sets no COMMAND: nothing to install")
    if not command:
        raise PayloadError("COMMAND is empty: nothing to install")
    return command


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def decode_body(body: bytes, first_line: int) -> bytes:
    """The archive bytes; any stray or missing character is an error with its line."""
    compact = body.translate(None, _WHITESPACE)
    if not compact:
        raise PayloadError(f"nothing after the {MARKER} line")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError(_explain_bad_base64(body, first_line)) from None


def _explain_bad_base64(body: bytes, first_line: int) -> str:
    lines = body.split(b"\n")
    if lines and not lines[0].strip():
        lines = lines[1:]  # the rest of the marker line
    padded_at: Optional[int] = None
    for number, line in enumerate(lines, start=first_line):
        text = line.strip(_WHITESPACE)
        if not text:
            continue
        if padded_at is not None or not _BASE64_LINE.fullmatch(text):
            return f"line {number} after the {MARKER} line is not base64"
        if text.endswith(b"="):
            padded_at = number
    return f"base64 after the {MARKER} line is truncated (its length is not a multiple of 4)"
