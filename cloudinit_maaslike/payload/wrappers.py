"""Find the pack script inside whatever user-data wraps it.

MAAS serves the curtin script bare for deploys, as one ``text/x-shellscript``
part of a MIME multipart for ephemeral deploys, and stores user-data base64
encoded; cloud-init also accepts gzip-compressed user-data.  Each layer is
peeled here and named (outermost first: ``"base64+gzip"``), so a report can
say how the payload arrived.  What is not a payload under any layer is
`NotAPayload`, and cloud-init keeps it.  What begins like a payload but
cannot be unwrapped within the limits (`limits`) fails closed: it is a
`PayloadError`, claimed, so cloud-init never runs it as a plain script.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import List, Optional, Set, Tuple

from .archive import GunzipError, gunzip, gunzip_head
from .limits import MAX_INPUT_BYTES, MAX_MIME_BOUNDARIES, MAX_MIME_PARTS, MAX_WRAPPINGS, SNIFF_BYTES, Allowance
from .model import NotAPayload, PayloadError
from .script import find_marker, is_pack_script

MAX_USERDATA_BYTES = MAX_INPUT_BYTES
_MAX_DEPTH = MAX_WRAPPINGS
_GZIP_MAGIC = b"\x1f\x8b"
_MIME_START = re.compile(rb"[A-Za-z][A-Za-z0-9-]*:[ \t]")
_MIME_CONTENT_TYPE = re.compile(rb"(?im)^content-type:")
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/=\s]+")
_BASE64_START = re.compile(rb"[A-Za-z0-9+/=\s]*")
_BOUNDARY = re.compile(rb'(?i)boundary\s*=\s*(?:"([^"\r\n]*)"|([^\s";]+))')
_DELIMITER = re.compile(rb"(?m)^--([^\r\n]*)")
# assignments only a pack script's header makes
_PACK_HEADER = re.compile(rb"(?m)^(?:PAYLOAD_MARKER|MD5SUM|MAASLIKE_VERSION)=")
_WHITESPACE = b" \t\r\n\v\f"
_PAYLOAD = "payload"
_UNKNOWN = "unknown"


def unwrap(data: bytes, allowance: Optional[Allowance] = None) -> Tuple[bytes, str]:
    """The pack script inside `data`, and how it was wrapped ("plain", "mime", …).

    Fails closed: user-data that begins like a pack script (under any
    wrapping) but cannot be unwrapped within the limits is a `PayloadError`,
    never `NotAPayload`, so cloud-init does not run it as a script.
    """
    if len(data) > MAX_INPUT_BYTES:
        claim = _claim(data, 0, Allowance(0))
        if claim:
            raise PayloadError(f"user-data {_CLAIMS[claim]} is {len(data)} bytes, "
                               f"more than the {MAX_INPUT_BYTES >> 20} MiB a payload may be")
        raise NotAPayload(f"user-data ({len(data)} bytes) is too large to be an install payload")
    return _unwrap(data, 0, Allowance.for_input(len(data)) if allowance is None else allowance)


def _unwrap(data: bytes, depth: int, allowance: Allowance) -> Tuple[bytes, str]:
    if depth > _MAX_DEPTH:
        raise NotAPayload("user-data is wrapped too many times to be an install payload")
    if is_pack_script(data):
        return data, "plain"
    if data.startswith(_GZIP_MAGIC):
        try:
            inner = gunzip(data, "gzip user-data", allowance.left)
        except GunzipError as exc:
            allowance.spend(exc.produced)  # a failed attempt costs what it inflated
            problem = f"expands past its {allowance.total >> 20} MiB decoding budget" if exc.too_big else str(exc)
            claim = _claim(data, depth, allowance)
            if claim:
                raise PayloadError(f"gzip user-data {_CLAIMS[claim]} cannot be read: {problem}") from None
            raise NotAPayload(f"gzip user-data does not decompress: {problem}") from None
        allowance.spend(len(inner))
        return _layer("gzip", *_unwrap(inner, depth + 1, allowance))
    if _looks_like_mime(data):
        return _layer("mime", *_mime_payload(data, depth, allowance))
    if _looks_like_base64(data):
        try:
            inner = base64.b64decode(data.translate(None, _WHITESPACE), validate=True)
        except (binascii.Error, ValueError):
            claim = _claim(data, depth, allowance)
            if claim:
                raise PayloadError(f"base64 user-data {_CLAIMS[claim]} does not decode") from None
            raise NotAPayload("user-data looks like base64 but does not decode") from None
        return _layer("base64", *_unwrap(inner, depth + 1, allowance))
    raise NotAPayload(describe(data))


def _layer(outer: str, inner: bytes, wrapping: str) -> Tuple[bytes, str]:
    return inner, outer if wrapping == "plain" else f"{outer}+{wrapping}"


_CLAIMS = {
    _PAYLOAD: "holding an install payload",
    _UNKNOWN: "that cannot be told apart from an install payload",
}


def claims_payload(head: bytes) -> bool:
    """Whether `head`, the start of user-data (perhaps cut short or damaged),
    begins like a pack script, bare or under gzip, base64 or MIME layers."""
    return bool(_claim(head, 0, Allowance(0)))


def _claim(head: bytes, depth: int, allowance: Allowance) -> str:
    """`_PAYLOAD` if `head` begins like a pack script under any wrapping,
    `_UNKNOWN` if that cannot be told within the limits, else ''.

    Cheap whatever the input: at most `SNIFF_BYTES` of each layer are read,
    and one input's sniffing stops at `SNIFF_TOTAL`; past it, or past the
    MIME bounds, the answer is `_UNKNOWN` (fail closed: what cannot be told
    apart from a payload is claimed, so it is not run).
    """
    if depth > _MAX_DEPTH:
        return ""
    head = head[:SNIFF_BYTES]
    if not allowance.sniff(len(head)):
        return _UNKNOWN
    if head.startswith(b"#!"):
        found = find_marker(head) is not None or _PACK_HEADER.search(head) is not None
        return _PAYLOAD if found else ""
    if head.startswith(_GZIP_MAGIC):
        return _claim(gunzip_head(head, SNIFF_BYTES), depth + 1, allowance)
    if _looks_like_mime(head):
        try:
            _check_mime_bounds(head)
        except PayloadError:
            return _UNKNOWN  # decoding would claim it too
        claims = [_claim(body, depth + 1, allowance) for _, body in _mime_bodies(head, lenient=True)]
        return _PAYLOAD if _PAYLOAD in claims else _UNKNOWN if _UNKNOWN in claims else ""
    start = _BASE64_START.match(head)
    compact = (start.group() if start else b"").translate(None, _WHITESPACE)
    if len(compact) >= 8:
        try:
            decoded = base64.b64decode(compact[:len(compact) - len(compact) % 4])
        except (binascii.Error, ValueError):
            return ""
        return _claim(decoded, depth + 1, allowance)
    return ""


def _looks_like_mime(data: bytes) -> bool:
    if not _MIME_START.match(data):
        return False
    end = data.find(b"\n\n")
    headers = data if end < 0 else data[:end]
    return _MIME_CONTENT_TYPE.search(headers) is not None


def _looks_like_base64(data: bytes) -> bool:
    stripped = data.strip()
    return len(stripped) >= 8 and _BASE64_TEXT.fullmatch(stripped) is not None


def _mime_bodies(data: bytes, lenient: bool = False) -> List[Tuple[int, bytes]]:
    """(part number, decoded body) of every leaf part, at most MAX_MIME_PARTS of them.

    Lenient (for sniffing a cut-short message) means: whatever could be read.
    """
    import email  # only MIME user-data pays for the email package

    bodies: List[Tuple[int, bytes]] = []
    _check_mime_bounds(data)
    try:
        message = email.message_from_bytes(data)
        for number, part in enumerate(message.walk(), start=1):
            if part.is_multipart():
                continue
            if len(bodies) >= MAX_MIME_PARTS:
                if lenient:
                    break
                raise PayloadError(f"MIME user-data has more than {MAX_MIME_PARTS} parts")
            bodies.append((number, bytes(part.get_payload(decode=True) or b"")))  # lenient, never raises
    except RecursionError:
        if lenient:
            return bodies
        raise PayloadError("MIME user-data nests parts too deeply to be read") from None
    return bodies


def _check_mime_bounds(data: bytes) -> None:
    """Count multipart boundaries and part delimiters before the email parser
    sees the message: its time grows with lines times nesting.  Linear."""
    boundaries: Set[bytes] = set()
    for match in _BOUNDARY.finditer(data):
        boundaries.add(match.group(1) if match.group(1) is not None else match.group(2))
        if len(boundaries) > MAX_MIME_BOUNDARIES:
            raise PayloadError(f"MIME user-data declares more than {MAX_MIME_BOUNDARIES} multipart boundaries")
    parts = 0
    for match in _DELIMITER.finditer(data):
        if match.group(1).rstrip() in boundaries:
            parts += 1
            if parts > MAX_MIME_PARTS:
                raise PayloadError(f"MIME user-data has more than {MAX_MIME_PARTS} parts")


def _mime_payload(data: bytes, depth: int, allowance: Allowance) -> Tuple[bytes, str]:
    """The one MIME part that holds a payload; two would be ambiguous."""
    found: List[Tuple[int, bytes, str]] = []
    for number, body in _mime_bodies(data):
        try:
            inner, wrapping = _unwrap(body, depth + 1, allowance)
        except NotAPayload:
            continue
        found.append((number, inner, wrapping))
    if not found:
        raise NotAPayload("MIME user-data has no part holding an install payload")
    if len(found) > 1:
        numbers = ", ".join(str(number) for number, _, _ in found)
        raise PayloadError(f"MIME user-data holds {len(found)} install payloads (parts {numbers})")
    _, inner, wrapping = found[0]
    return inner, wrapping


def describe(data: bytes) -> str:
    """What non-payload user-data is, without quoting what might be a secret."""
    if not data.strip():
        return "user-data is empty"
    if data.startswith(b"#cloud-config"):
        return "user-data is a #cloud-config, not an install payload"
    if data.startswith(b"#!"):
        return "user-data is a script without an install payload"
    if data.startswith(b"#"):
        word = data.split(None, 1)[0][:32].decode("ascii", errors="replace")
        return f"user-data is {word} content, not an install payload"
    return f"user-data ({len(data)} bytes) is not an install payload"
